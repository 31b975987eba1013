/**
 * Runs the adapter stages in-process with a real StageContext (no engine): a model artifact
 * from saveModel + a tokenizer, a JSONL task, and folders under a temp root.
 */
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import type { AnyStageDefinition, InputArtifact, StageContext, StageOutput } from "../../src/engine/stage.ts"

export interface Recorded {
  readonly metrics: Array<{ step: number | null; name: string; value: number }>
  readonly logs: string[]
}

export interface StageRun {
  readonly outDir: string
  readonly output: StageOutput
  readonly recorded: Recorded
}

export const tempRoot = (): string => mkdtempSync(join(tmpdir(), "peftlab-stage-"))

export const artifact = (kind: string, dir: string, summary: StageOutput["summary"] = {}): InputArtifact => ({ id: kind, kind, dir, fingerprint: kind, factors: {}, summary })

/** Decodes `params` with the stage's schema and runs it; `onMetric` may abort the run. */
export const runStage = async (
  def: AnyStageDefinition,
  o: {
    readonly root: string
    readonly name: string
    readonly params: unknown
    readonly inputs: Record<string, InputArtifact>
    readonly scratchDir?: string
    readonly signal?: AbortSignal
    readonly onMetric?: (step: number | null, name: string, value: number) => void
    readonly backend?: "cpu" | "wasm" | "native"
  },
): Promise<StageRun> => {
  const outDir = join(o.root, o.name)
  mkdirSync(outDir, { recursive: true })
  const scratchDir = o.scratchDir ?? join(o.root, `${o.name}.scratch`)
  mkdirSync(scratchDir, { recursive: true })
  const recorded: Recorded = { metrics: [], logs: [] }
  const ctx: StageContext<unknown> = {
    id: o.name,
    params: Schema.decodeUnknownSync(def.params as Schema.Decoder<unknown> & Schema.Top)(o.params),
    factors: {},
    inputs: o.inputs,
    collected: {},
    outDir,
    scratchDir,
    projectDir: process.cwd(),
    pipelineDir: process.cwd(),
    backend: o.backend ?? "cpu",
    threads: 1,
    signal: o.signal ?? new AbortController().signal,
    progress: () => undefined,
    metric: (step, name, value) => {
      recorded.metrics.push({ step, name, value })
      o.onMetric?.(step, name, value)
    },
    log: (m) => void recorded.logs.push(m),
  }
  const output = await Effect.runPromise(def.run(ctx))
  return { outDir, output, recorded }
}
