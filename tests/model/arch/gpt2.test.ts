import * as tf from "@tensorflow/tfjs"
import { beforeAll, describe, expect, it } from "vitest"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { defaultConfig, disposeGPT, forward, initGPT, maskedCrossEntropy, parameterSpecs } from "../../../src/model/arch/model.ts"

const cfg = { ...defaultConfig, vocabSize: 20, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 }
beforeAll(() => initBackend("cpu"))

describe("GPT", () => {
  it("initializes identically from the same seed, including seed 0 (tfjs reads seed 0 as unseeded)", () => {
    for (const seed of [0, 1]) {
      const [a, b] = [initGPT(cfg, seed), initGPT(cfg, seed)]
      for (const [name, v] of a.params) expect([...v.dataSync()], name).toEqual([...(b.params.get(name) as tf.Variable).dataSync()])
      disposeGPT(a)
      disposeGPT(b)
    }
    const [a, c] = [initGPT(cfg, 0), initGPT(cfg, 1)]
    expect([...(a.params.get("wte") as tf.Variable).dataSync()]).not.toEqual([...(c.params.get("wte") as tf.Variable).dataSync()])
    disposeGPT(a)
    disposeGPT(c)
  })

  it("has the parameters parameterSpecs lists, with GPT-2's init scales", () => {
    const m = initGPT({ ...cfg, nEmbd: 64, vocabSize: 200 }, 2)
    expect([...m.params.keys()]).toEqual(parameterSpecs({ ...cfg, nEmbd: 64, vocabSize: 200 }).map((s) => s.name))
    const std = (name: string) => tf.tidy(() => Math.sqrt(tf.moments(m.params.get(name) as tf.Variable).variance.dataSync()[0] ?? NaN))
    expect(std("wte")).toBeCloseTo(0.02, 2)
    expect(std("h.0.attn.o.kernel")).toBeCloseTo(0.02 / Math.sqrt(4), 2) // residual projections: /√(2·nLayer)
    expect([...(m.params.get("h.1.ln_2.gamma") as tf.Variable).dataSync()].every((x) => x === 1)).toBe(true)
    disposeGPT(m)
  })

  it("is causal: logits at position t do not depend on tokens after t", () => {
    const m = initGPT(cfg, 3)
    const [a, b] = tf.tidy(() => [
      forward(m, tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], "int32")).arraySync()[0],
      forward(m, tf.tensor2d([[1, 2, 3, 9, 9]], [1, 5], "int32")).arraySync()[0],
    ])
    expect(b?.slice(0, 3)).toEqual(a?.slice(0, 3))
    expect(b?.[3]).not.toEqual(a?.[3])
    disposeGPT(m)
  })

  it("an untrained model's loss is about log V; the mask selects positions", () => {
    const m = initGPT(cfg, 4)
    const idx = tf.tensor2d([[1, 2, 3, 4]], [1, 4], "int32")
    const tgt = tf.tensor2d([[2, 3, 4, 5]], [1, 4], "int32")
    const full = tf.tidy(() => maskedCrossEntropy(forward(m, idx), tgt).dataSync()[0] ?? NaN)
    expect(full).toBeCloseTo(Math.log(20), 1)
    const perPos = tf.tidy(() => [0, 1, 2, 3].map((i) => maskedCrossEntropy(forward(m, idx), tgt, tf.oneHot(tf.tensor2d([[i]], [1, 1], "int32").reshape([1]), 4).reshape([1, 4]) as tf.Tensor2D).dataSync()[0] ?? NaN))
    expect(perPos.reduce((a, b) => a + b, 0) / 4).toBeCloseTo(full, 5)
    tf.dispose([idx, tgt])
    disposeGPT(m)
  })
})
