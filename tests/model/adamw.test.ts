import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AdamW } from "../../src/model/adamw.ts"

beforeAll(async () => {
  await tf.setBackend("cpu")
})

/** PyTorch AdamW, one scalar, in float64: decay first, then the bias-corrected Adam step. */
const torchAdamW = (p0: number, grads: number[], o: { lr: number; wd: number; b1: number; b2: number; eps: number }) => {
  let p = p0
  let m = 0
  let v = 0
  grads.forEach((g, i) => {
    const t = i + 1
    p = p * (1 - o.lr * o.wd)
    m = o.b1 * m + (1 - o.b1) * g
    v = o.b2 * v + (1 - o.b2) * g * g
    p = p - (o.lr * (m / (1 - o.b1 ** t))) / (Math.sqrt(v / (1 - o.b2 ** t)) + o.eps)
  })
  return p
}

describe("AdamW", () => {
  const opts = { lr: 0.1, wd: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 }
  let x: tf.Variable
  afterAll(() => x.dispose())

  it("first step matches the hand-computed PyTorch update", () => {
    x = tf.variable(tf.tensor1d([1, -2]), true)
    const opt = new AdamW([{ name: "all", vars: [x], lrScale: 1, weightDecay: 0.01 }])
    const g = tf.tensor1d([0.5, 0.1])
    opt.step(new Map([[x.name, g]]), 0.1)
    // Step 1: m̂ = g, v̂ = g², so p = p·(1 − 0.001) − 0.1·g/(|g| + 1e-8).
    const got = Array.from(x.dataSync())
    expect(got[0]).toBeCloseTo(0.999 - 0.1, 6)
    expect(got[1]).toBeCloseTo(-1.998 - 0.1, 6)
    expect(opt.stepCount).toBe(1)
    g.dispose()
    opt.dispose()
  })

  it("three steps with changing gradients match the float64 reference", () => {
    const y = tf.variable(tf.tensor1d([0.3, -0.7, 2]), true)
    const opt = new AdamW([{ name: "g", vars: [y], lrScale: 2, weightDecay: 0.1 }])
    const seq = [[0.2, -1, 3], [-0.4, 0.5, 0.01], [1, 1, -2]]
    for (const gs of seq) {
      const g = tf.tensor1d(gs)
      opt.step(new Map([[y.name, g]]), 0.05)
      g.dispose()
    }
    const got = Array.from(y.dataSync())
    ;[0.3, -0.7, 2].forEach((p0, j) => {
      const want = torchAdamW(p0, seq.map((s) => s[j] ?? 0), { ...opts, lr: 0.05 * 2, wd: 0.1 })
      expect(Math.abs((got[j] ?? 0) - want)).toBeLessThan(1e-6)
    })
    opt.dispose()
    y.dispose()
  })

  it("skips variables without a gradient and keeps per-group lr scales", () => {
    const a = tf.variable(tf.scalar(1), true)
    const b = tf.variable(tf.scalar(1), true)
    const c = tf.variable(tf.scalar(1), true)
    const opt = new AdamW([
      { name: "a", vars: [a], lrScale: 1, weightDecay: 0 },
      { name: "b", vars: [b, c], lrScale: 16, weightDecay: 0 },
    ])
    const g = tf.scalar(3)
    opt.step(new Map([[a.name, g], [b.name, g]]), 0.01)
    expect(a.dataSync()[0]).toBeCloseTo(1 - 0.01, 6)
    expect(b.dataSync()[0]).toBeCloseTo(1 - 0.16, 6)
    expect(c.dataSync()[0]).toBe(1)
    g.dispose()
    opt.dispose()
    ;[a, b, c].forEach((v) => v.dispose())
  })

  it("state round-trips: a restored optimizer continues bit-identically", () => {
    const run = (resumeAt: number | null) => {
      const p = tf.variable(tf.tensor1d([0.5, -0.25]), true)
      let opt = new AdamW([{ name: "p", vars: [p], lrScale: 1, weightDecay: 0.05 }])
      for (let t = 0; t < 4; t++) {
        if (t === resumeAt) {
          const saved = new Map([...opt.stateTensors()].map(([k, v]) => [k, v.clone()]))
          const step = opt.stepCount
          opt.dispose()
          opt = new AdamW([{ name: "p", vars: [p], lrScale: 1, weightDecay: 0.05 }])
          opt.loadState(saved, step)
          saved.forEach((v) => v.dispose())
        }
        const g = tf.tensor1d([Math.sin(t + 1), Math.cos(t + 1)])
        opt.step(new Map([[p.name, g]]), 0.01)
        g.dispose()
      }
      const out = Array.from(p.dataSync())
      opt.dispose()
      p.dispose()
      return out
    }
    expect(run(2)).toEqual(run(null))
  })

  it("leaks no tensors per step", () => {
    const p = tf.variable(tf.ones([4, 4]), true)
    const opt = new AdamW([{ name: "p", vars: [p], lrScale: 1, weightDecay: 0.01 }])
    const g = tf.onesLike(p)
    opt.step(new Map([[p.name, g]]), 0.1)
    const before = tf.memory().numTensors
    for (let i = 0; i < 5; i++) opt.step(new Map([[p.name, g]]), 0.1)
    expect(tf.memory().numTensors).toBe(before)
    g.dispose()
    opt.dispose()
    p.dispose()
  })
})
