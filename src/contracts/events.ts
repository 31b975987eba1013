/**
 * The event stream of a run: the only thing the dashboard, the plain/JSON writers and the
 * `events` table see. Workers emit the stage-scoped events; the scheduler emits the rest.
 * Every event is a plain JSON object (it crosses process boundaries and is stored as-is),
 * tagged by `type`. Consumers switch exhaustively on `type`.
 *
 * `--json` prints exactly these objects, one per line (documented in README).
 */

/** The value of one matrix factor of an instance, e.g. method=vera, seed=2, rank=8. */
export type FactorValue = string | number | boolean

/** Why an instance will run (from the planner), or that it is cached. */
export type PlanState = "cached" | "pending"

export interface InstanceInfo {
  /** Stable readable id, e.g. `train[method=vera,seed=2]`. */
  readonly id: string
  /** The stage's name in the YAML (`train`). */
  readonly stage: string
  /** The stage kind (`train`). */
  readonly kind: string
  /** Matrix factors this instance varies over (empty for shared stages). */
  readonly factors: Readonly<Record<string, FactorValue>>
  readonly plan: PlanState
  /** Short reason when pending: "new", "params.rank: 8 → 16", "code: src/adapters/vera.ts changed". */
  readonly reason?: string
}

export type StageStatus = "cached" | "succeeded" | "failed" | "interrupted" | "skipped"

export type RunEvent =
  | {
      readonly type: "run-started"
      readonly at: number // epoch ms
      readonly runId: number
      readonly pipeline: string // the pipeline's `name`
      readonly pipelinePath: string
      readonly backend: string
      readonly jobs: number
      /** Matrix axes in declaration order, with their values. */
      readonly axes: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<FactorValue> }>
      /** Every instance in topological order. */
      readonly instances: ReadonlyArray<InstanceInfo>
    }
  | { readonly type: "stage-cached"; readonly at: number; readonly id: string }
  | { readonly type: "stage-started"; readonly at: number; readonly id: string; readonly worker: number }
  | {
      /** `--executor slurm`: the Slurm job of an instance changed state (PENDING, RUNNING, …). */
      readonly type: "stage-slurm"
      readonly at: number
      readonly id: string
      readonly jobId: string
      readonly state: string
      /** Why it pends (Priority, Resources, …), or Slurm's reason for an end. */
      readonly reason?: string
      /** The node it runs on. */
      readonly node?: string
    }
  | {
      readonly type: "stage-progress"
      readonly at: number
      readonly id: string
      readonly step: number
      readonly total: number
      readonly tokensPerSec?: number
      readonly message?: string
    }
  | {
      readonly type: "stage-metric"
      readonly at: number
      readonly id: string
      /** Training step, or null for a final (summary) value. */
      readonly step: number | null
      readonly name: string // loss, val_loss, lr, grad_norm, tokens_per_s, accuracy …
      readonly value: number
    }
  | { readonly type: "stage-log"; readonly at: number; readonly id: string; readonly level: "info" | "warn"; readonly message: string }
  | {
      readonly type: "stage-finished"
      readonly at: number
      readonly id: string
      readonly durationMs: number
      readonly summary: Readonly<Record<string, number | string | boolean>>
    }
  | {
      readonly type: "stage-failed"
      readonly at: number
      readonly id: string
      /** The error's tag and reason, e.g. { tag: "StageError", reason: "Diverged", message: "diverged at step 41" }. */
      readonly error: { readonly tag: string; readonly reason: string; readonly message: string }
    }
  | { readonly type: "stage-skipped"; readonly at: number; readonly id: string; readonly because: string }
  | { readonly type: "stage-interrupted"; readonly at: number; readonly id: string }
  | {
      readonly type: "run-finished"
      readonly at: number
      readonly runId: number
      readonly status: "succeeded" | "failed" | "interrupted"
      readonly durationMs: number
      readonly counts: Readonly<Record<StageStatus, number>>
    }

export type RunEventType = RunEvent["type"]
