/** A StageContext for running a stage kind directly (tests and benchmarks), recording what it emits. */
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Effect, Schema } from "effect"
import type { AnyStageDefinition, BackendName, InputArtifact, StageContext, StageOutput } from "../../src/engine/stage.ts"

export interface Recorded {
  readonly metrics: Array<{ step: number | null; name: string; value: number }>
  readonly progress: Array<{ step: number; total: number; tokensPerSec?: number }>
}

export interface RunOptions {
  readonly params: Record<string, unknown>
  readonly inputs?: Record<string, InputArtifact>
  readonly collected?: Record<string, ReadonlyArray<InputArtifact>>
  readonly backend?: BackendName
  readonly outDir?: string
  readonly scratchDir?: string
  readonly signal?: AbortSignal
  /** Called on every progress event (tests abort a run at an exact step with it). */
  readonly onProgress?: (p: { step: number; total: number }) => void
}

export const runStage = async (stage: AnyStageDefinition, o: RunOptions): Promise<{ output: StageOutput; outDir: string; rec: Recorded }> => {
  const params = await Effect.runPromise(Schema.decodeUnknownEffect(stage.params)(o.params))
  const outDir = o.outDir ?? mkdtempSync(join(tmpdir(), `${stage.kind}-out-`))
  const scratchDir = o.scratchDir ?? mkdtempSync(join(tmpdir(), `${stage.kind}-scratch-`))
  mkdirSync(outDir, { recursive: true })
  const rec: Recorded = { metrics: [], progress: [] }
  const ctx: StageContext<unknown> = {
    id: stage.kind,
    params,
    factors: {},
    inputs: o.inputs ?? {},
    collected: o.collected ?? {},
    outDir,
    scratchDir,
    projectDir: resolve(import.meta.dirname, "../.."),
    pipelineDir: resolve(import.meta.dirname, "../.."),
    backend: o.backend ?? "cpu",
    threads: 1,
    signal: o.signal ?? new AbortController().signal,
    progress: (p) => {
      rec.progress.push(p)
      o.onProgress?.(p)
    },
    metric: (step, name, value) => rec.metrics.push({ step, name, value }),
    log: () => {},
  }
  const output = await Effect.runPromise(stage.run(ctx))
  return { output, outDir, rec }
}

export const artifact = (kind: string, dir: string, summary: StageOutput["summary"] = {}): InputArtifact => ({ id: kind, kind, dir, fingerprint: "test", factors: {}, summary })
