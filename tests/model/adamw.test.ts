import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AdamW } from "../../src/model/adamw.ts"
import { initBackend } from "../../src/model/kernels/backend.ts"
import { needs } from "../setup/facilities.ts"

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

describe("AdamW on the native backend (one C kernel per slot)", () => {
  needs("native")
  /** Float32 bit patterns of a tensor. */
  const bits = (t: tf.Tensor): number[] => [...new Uint32Array(new Float32Array(t.dataSync()).buffer)]

  /**
   * Six steps on two groups (decay and lrScale 1; no decay and lrScale 16) of tensors of several
   * shapes, a scalar among them; gradients random with zeros, −0, denormals, huge values, and
   * in the last step ±∞ and NaN. Returns every parameter and moment as bits, the bits of a clone
   * taken before the first step (it shares the variable's data: it must not change), and the
   * tensor count after each step.
   */
  const train = async (backend: "wasm" | "native") => {
    await initBackend(backend)
    const shapes = [[37, 5], [128], [3, 4, 2], []]
    const params = shapes.map((s, i) => tf.variable(tf.tidy(() => tf.randomNormal(s, 0, 1, "float32", i + 1))))
    const snapshot = params[0]!.clone()
    const opt = new AdamW(
      [
        { name: "a", vars: [params[0]!, params[1]!], lrScale: 1, weightDecay: 0.1 },
        { name: "b", vars: [params[2]!, params[3]!], lrScale: 16, weightDecay: 0 },
      ],
      { eps: 1e-8 },
    )
    const counts: number[] = []
    const special = [0, -0, 1e-45, -3e-39, 1e30, -1e-30]
    for (let t = 0; t < 6; t++) {
      const grads = new Map(
        params.map((p, i) => {
          const g = tf.tidy(() => {
            // (seed 0 would mean "unseeded" to tfjs)
            const v = tf.randomNormal(p.shape, 0, 0.5 + t, "float32", 100 * t + i + 1).dataSync().slice()
            for (let j = 0; j < v.length; j += 4) v[j] = special[(j / 4 + t) % special.length]!
            if (t === 5 && v.length > 3) [v[1], v[2], v[3]] = [Infinity, -Infinity, NaN]
            return tf.tensor(v, p.shape)
          })
          return [p.name, g] as const
        }),
      )
      opt.step(grads, 1e-3 * (t + 1))
      grads.forEach((g) => g.dispose())
      counts.push(tf.memory().numTensors)
    }
    const state = [...params.map(bits), ...[...opt.stateTensors().values()].map(bits), bits(snapshot)]
    // The kernels one step runs: the fused one on native, tfjs ops on wasm.
    const g1 = new Map(params.map((p) => [p.name, tf.onesLike(p)] as const))
    const kernels = new Set((await tf.profile(() => opt.step(g1, 1e-3))).kernelNames)
    g1.forEach((g) => g.dispose())
    opt.dispose()
    tf.dispose([...params, snapshot])
    return { state, counts, kernels }
  }

  afterAll(() => tf.setBackend("cpu"))

  it("gives wasm's bits over several steps (decay on and off, lrScale 16, special values), leaves clones alone, keeps the tensor count flat", async () => {
    const wasm = await train("wasm")
    const native = await train("native")
    expect(native.kernels).toEqual(new Set(["PeftlabAdamW"]))
    expect(wasm.kernels.has("PeftlabAdamW")).toBe(false)
    expect(native.state.length).toBe(wasm.state.length)
    native.state.forEach((s, i) => expect(s, `tensor ${i}`).toEqual(wasm.state[i]))
    expect(native.state.at(-1)).not.toEqual(native.state[0]) // the clone kept the initial values
    expect(new Set(native.counts).size, `tensor count per step: ${native.counts.join(", ")}`).toBe(1)
  })
})
