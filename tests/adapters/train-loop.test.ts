/** Resume from a step checkpoint ends bit-identical; NaN losses fail as `diverged at step N`. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { METHODS } from "../../src/adapters/index.ts"
import { trainAdapter, type TrainLoopOptions } from "../../src/adapters/train-loop.ts"
import { DivergedError } from "../../src/adapters/trainer.ts"
import { CompletionBatches, type Encoder } from "../../src/model/data/completion-batches.ts"
import { disposeGPT, type GPT } from "../../src/model/arch/model.ts"
import { cloneModel, makeAdapter, makeModel, snapshot, setupBackend } from "./fixtures.ts"

const enc: Encoder = { encode: (s) => Array.from(s, (c) => c.charCodeAt(0) % 32) }
const examples = Array.from({ length: 12 }, (_, i) => ({ prompt: `mail ${i} about ${"xyz"[i % 3]}:`, completion: i % 3 === 0 ? " s" : " h" }))

let base: GPT
const dirs: string[] = []
beforeAll(async () => {
  await setupBackend()
  base = makeModel(4)
})
afterAll(() => {
  disposeGPT(base)
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))
})

const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "peftlab-train-"))
  dirs.push(d)
  return d
}

const options = (dir: string | undefined, extra: Partial<TrainLoopOptions> = {}): TrainLoopOptions => ({
  steps: 6,
  schedule: { lr: 1e-2, minLr: 1e-3, warmup: 2, total: 6 },
  trainer: { weightDecay: 0.01, gradClip: 1, seed: 9 },
  checkpointDir: dir,
  checkpointEvery: 2,
  ...extra,
})

/** One "process": a fresh copy of the base and a fresh adapter, trained under `o`. */
const session = async (method: (typeof METHODS)[number], o: TrainLoopOptions) => {
  const model = cloneModel(base)
  const adapter = makeAdapter(method, model, { dropout: 0.1 })
  const batches = new CompletionBatches(examples, enc, 8, { batchSize: 3, seed: 1 })
  try {
    const result = await trainAdapter(model, adapter, batches, o)
    const state = snapshot([...[...adapter.tensors].map(([k, t]): [string, tf.Tensor] => [k, t.variable]), ...model.params])
    return { result, state }
  } finally {
    adapter.dispose()
    disposeGPT(model)
  }
}

describe.each(METHODS.map((m) => [m.name, m] as const))("%s", (_name, method) => {
  it("a run killed after 3 steps and resumed from the step-2 checkpoint ends bit-identical", async () => {
    const whole = await session(method, options(tmp()))
    const dir = tmp()
    const first = await session(method, options(dir, { stopAfter: 3 }))
    expect(first.result.completed).toBe(false)
    const resumed = await session(method, options(dir))
    expect(resumed.result.resumedFrom).toBe(2)
    expect(resumed.result.completed).toBe(true)
    expect(resumed.state).toEqual(whole.state)
    expect(resumed.result.finalLoss).toBe(whole.result.finalLoss)
  })
})

describe("divergence", () => {
  it("a NaN loss fails with `diverged at step N`", async () => {
    const m = METHODS[0]!
    const err = await session(m, options(undefined, { schedule: { lr: NaN, minLr: NaN, warmup: 0, total: 6 } })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DivergedError)
    expect((err as Error).message).toBe("diverged at step 1")
  })
})
