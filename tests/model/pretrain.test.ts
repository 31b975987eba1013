import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { initBackend } from "../../src/model/kernels/backend.ts"
import { defaultConfig, disposeGPT, initGPT, param, type GPT } from "../../src/model/arch/model.ts"
import { Diverged, Interrupted, pretrain, type PretrainOptions } from "../../src/model/pretrain.ts"

const cfg = { ...defaultConfig, vocabSize: 32, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 }
const opts: PretrainOptions = { steps: 6, batchSize: 4, lr: 1e-2, minLr: 1e-3, warmup: 2, weightDecay: 0.1, gradClip: 1, evalEvery: 3, evalBatches: 2, checkpointEvery: 2, seed: 3 }
// A learnable stream: token i+1 = (token i · 5 + 1) mod 32, restarted now and then.
const stream = (n: number) => Uint16Array.from({ length: n }, (_, i) => ((i % 97) * 5 + 1) % 32)
const data = { train: stream(2000), val: stream(300) }
const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "pretrain-"))
  dirs.push(d)
  return d
}
const weights = (m: GPT) => [...m.params].map(([k, v]) => [k, [...v.dataSync()]] as const)

beforeAll(() => initBackend("wasm"))
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe("pretrain", () => {
  it("learns: validation loss falls below the untrained loss", async () => {
    const model = initGPT(cfg, 1)
    const evals: number[] = []
    const r = await pretrain(model, data, { ...opts, steps: 30, lr: 3e-2 }, { onEval: (_, v) => evals.push(v) })
    expect(r.valLoss).toBeLessThan(Math.log(32) - 1)
    disposeGPT(model)
  })

  it("resumes from the last checkpoint bit-identically to an uninterrupted run, with a flat tensor count", async () => {
    const a = initGPT(cfg, 1)
    const counts: number[] = []
    await pretrain(a, data, opts, { checkpointDir: tmp(), onStep: () => counts.push(tf.memory().numTensors) })
    expect(new Set(counts.slice(1)).size).toBe(1) // after step 1 (cached Wᵀ etc.), nothing grows
    const dir = tmp()
    const b = initGPT(cfg, 1)
    await expect(pretrain(b, data, opts, { checkpointDir: dir, stopAfter: 3 })).rejects.toBeInstanceOf(Interrupted)
    disposeGPT(b)
    const c = initGPT(cfg, 1) // a fresh process would start from init weights too
    const r = await pretrain(c, data, opts, { checkpointDir: dir })
    expect(r.resumedFrom).toBe(2)
    expect(weights(c)).toEqual(weights(a))
    disposeGPT(a)
    disposeGPT(c)
  })

  it("stops with `diverged at step N` on a NaN loss", async () => {
    const model = initGPT(cfg, 1)
    const w = param(model, "wpe")
    const nan = tf.fill(w.shape, NaN)
    w.assign(nan)
    nan.dispose()
    const err = await pretrain(model, data, opts).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Diverged)
    expect((err as Error).message).toBe("diverged at step 1")
    disposeGPT(model)
  })
})
