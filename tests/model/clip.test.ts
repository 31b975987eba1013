import * as tf from "@tensorflow/tfjs"
import { beforeAll, describe, expect, it } from "vitest"
import { clipByGlobalNorm } from "../../src/model/clip.ts"

beforeAll(async () => {
  await tf.setBackend("cpu")
})

describe("clipByGlobalNorm", () => {
  it("measures the global norm and scales by maxNorm/(norm+1e-6)", () => {
    const grads = new Map<string, tf.Tensor>([["a", tf.tensor1d([3, 0])], ["b", tf.tensor2d([[0, 4]])]])
    const { grads: out, norm } = clipByGlobalNorm(grads, 1)
    expect(norm).toBe(5)
    const coef = 1 / (5 + 1e-6)
    expect(out.get("a")?.dataSync()[0]).toBeCloseTo(3 * coef, 6)
    expect(out.get("b")?.dataSync()[1]).toBeCloseTo(4 * coef, 6)
    out.forEach((g) => g.dispose())
  })
  it("leaves small gradients untouched (same tensors)", () => {
    const a = tf.tensor1d([0.3, 0.4])
    const grads = new Map<string, tf.Tensor>([["a", a]])
    const r = clipByGlobalNorm(grads, 1)
    expect(r.norm).toBeCloseTo(0.5, 6)
    expect(r.grads.get("a")).toBe(a)
    a.dispose()
  })
  it("maxNorm 0 disables clipping", () => {
    const a = tf.tensor1d([30, 40])
    const r = clipByGlobalNorm(new Map([["a", a]]), 0)
    expect(r.norm).toBe(50)
    expect(Array.from(r.grads.get("a")?.dataSync() ?? [])).toEqual([30, 40])
    a.dispose()
  })
})
