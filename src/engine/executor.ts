/**
 * Where a stage instance runs. The scheduler owns the DAG and hands an executor one ready
 * instance at a time on a slot; the executor starts it, streams its events, and reports its
 * outcome; interrupting `run` cancels it. The coordinator alone writes SQLite and commits
 * artifacts; an executor only moves jobs, events and outcomes.
 *
 * - `local` (pool.ts): long-lived worker processes on this machine, over Node IPC.
 * - `slurm` (executors/slurm.ts): Slurm jobs whose workers report through files in the shared
 *   runs directory.
 */
import type { Effect } from "effect"
import type { Resources } from "../pipeline/resources.ts"
import type { FromWorker, Job, WireError } from "./protocol.ts"

/** What a running job streams: progress, metrics and log lines. */
export type JobEvent = Extract<FromWorker, { type: "progress" | "metric" | "log" }>

/** How a job ended. */
export type JobOutcome =
  | { readonly type: "done"; readonly summary: Readonly<Record<string, number | string | boolean>>; readonly peakRssBytes: number }
  | { readonly type: "failed"; readonly error: WireError }

export type ExecutorName = "local" | "slurm"
export const EXECUTORS: ReadonlyArray<ExecutorName> = ["local", "slurm"]

/** What an executor may use beyond the job itself. */
export interface JobMeta {
  readonly fingerprint: string
  readonly resources?: Resources | undefined
}

export interface Executor {
  /** How many instances the scheduler may hand over at once. */
  readonly slots: number
  /** Runs one job; the effect ends with its outcome; interrupting it cancels the job. */
  run(slot: number, job: Job, onEvent: (e: JobEvent) => void, meta: JobMeta): Effect.Effect<JobOutcome>
  /** Ends whatever the executor still holds (workers, jobs). */
  shutdown(): void | Promise<void>
}
