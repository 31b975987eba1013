/**
 * Runs a stage kind in-process with a real StageContext (no engine, no workers), recording what
 * it emits: the one harness of the stage tests. Params are decoded with the kind's schema.
 */
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Effect, Schema } from "effect"
import type { AnyStageDefinition, BackendName, InputArtifact, StageContext, StageOutput } from "../../src/contracts/stage.ts"

export interface Recorded {
  readonly metrics: Array<{ step: number | null; name: string; value: number }>
  readonly progress: Array<{ step: number; total: number; tokensPerSec?: number }>
  readonly logs: string[]
}

export interface StageRun {
  readonly outDir: string
  readonly output: StageOutput
  readonly recorded: Recorded
}

export interface RunOptions {
  readonly params: unknown
  readonly inputs?: Record<string, InputArtifact>
  /** Fan-in inputs: every collected instance, with its factors. */
  readonly collected?: Record<string, ReadonlyArray<InputArtifact>>
  /** Folders: `root/name` and `root/name.scratch` when given, else fresh temporary ones (or these). */
  readonly root?: string
  readonly name?: string
  readonly outDir?: string
  readonly scratchDir?: string
  readonly backend?: BackendName
  /** BLAS threads (native backend); 1 by default. */
  readonly threads?: number
  readonly signal?: AbortSignal
  /** Called on every progress event (tests abort a run at an exact step with it). */
  readonly onProgress?: (p: { step: number; total: number }) => void
  /** Called on every metric; may abort the run. */
  readonly onMetric?: (step: number | null, name: string, value: number) => void
}

const ROOT = resolve(import.meta.dirname, "../..")

export const tempRoot = (): string => mkdtempSync(join(tmpdir(), "peftlab-stage-"))

export const runStage = async (def: AnyStageDefinition, o: RunOptions): Promise<StageRun> => {
  const named = o.root !== undefined && o.name !== undefined ? join(o.root, o.name) : undefined
  const outDir = o.outDir ?? named ?? mkdtempSync(join(tmpdir(), `${def.kind}-out-`))
  const scratchDir = o.scratchDir ?? (named === undefined ? mkdtempSync(join(tmpdir(), `${def.kind}-scratch-`)) : `${named}.scratch`)
  mkdirSync(outDir, { recursive: true })
  mkdirSync(scratchDir, { recursive: true })
  const recorded: Recorded = { metrics: [], progress: [], logs: [] }
  const ctx: StageContext<unknown> = {
    id: o.name ?? def.kind,
    params: Schema.decodeUnknownSync(def.params as Schema.Decoder<unknown> & Schema.Top)(o.params),
    factors: {},
    inputs: o.inputs ?? {},
    collected: o.collected ?? {},
    outDir,
    scratchDir,
    projectDir: ROOT,
    pipelineDir: ROOT,
    backend: o.backend ?? "cpu",
    threads: o.threads ?? 1,
    signal: o.signal ?? new AbortController().signal,
    progress: (p) => {
      recorded.progress.push(p)
      o.onProgress?.(p)
    },
    metric: (step, name, value) => {
      recorded.metrics.push({ step, name, value })
      o.onMetric?.(step, name, value)
    },
    log: (m) => void recorded.logs.push(m),
  }
  const output = await Effect.runPromise(def.run(ctx))
  return { outDir, output, recorded }
}

export const artifact = (kind: string, dir: string, summary: StageOutput["summary"] = {}): InputArtifact => ({ id: kind, kind, dir, fingerprint: kind, factors: {}, summary })
