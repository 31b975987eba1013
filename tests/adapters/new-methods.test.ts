/**
 * Oracles of the five methods beyond the seed's (issue 21), besides their rows in the oracle
 * matrix (init = base bit for bit, merge = forward, frozen stays frozen, counts, scaling):
 * - a hand-computed first step for each: the gradient of L = Σ G ⊙ ΔY at init from the paper's
 *   formula in float64, then AdamW's first step p − lr·g/(|g| + ε) — DoRA's with the norm
 *   detached (the undetached gradient differs, and the test says by how much);
 * - PiSSA and OLoRA: the initial factors reproduce W (full rank) or its top-r / QR part, to
 *   float rounding;
 * - the artifact applies to the ORIGINAL base: save, load onto a fresh copy of the base, merge:
 *   the merged model gives the trained model's logits.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Adapter } from "../../src/adapters/adapter.ts"
import { getMethod } from "../../src/adapters/index.ts"
import { loadAdapter, saveAdapter } from "../../src/adapters/io.ts"
import { topSvd, mat } from "../../src/adapters/linalg.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { AdamW } from "../../src/model/adamw.ts"
import { disposeGPT, forward, param, type GPT } from "../../src/model/arch/model.ts"
import { cloneModel, disposeBatch, makeAdapter, makeBatch, makeModel, maxAbs, maxAbsDiff, setupBackend, values } from "./fixtures.ts"

let base: GPT
const dirs: string[] = []
beforeAll(async () => {
  await setupBackend()
  base = makeModel(4)
  // Non-zero biases: (IA)³ scales them, DoRA must not.
  let k = 50
  for (const [name, v] of base.params) if (name.endsWith(".bias")) v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", k++))
})
afterAll(() => {
  disposeGPT(base)
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))
})

type F64 = Float64Array
const f64 = (t: tf.Tensor): F64 => Float64Array.from(t.dataSync())
/** (n, k)·(k, m) row-major, float64; `ta`/`tb` read the operand transposed. */
const mm = (a: F64, b: F64, n: number, k: number, m: number, ta = false, tb = false): F64 => {
  const out = new Float64Array(n * m)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0
      for (let p = 0; p < k; p++) s += (ta ? a[p * n + i]! : a[i * k + p]!) * (tb ? b[j * k + p]! : b[p * m + j]!)
      out[i * m + j] = s
    }
  return out
}

const N = 5
const LR = 1e-2
const EPS = 1e-8

/** The gradient of Σ G ⊙ forward(x) for every trainable tensor of target `ti`, and their values after one AdamW step. */
const firstStep = (a: Adapter, model: GPT, ti: number, x: tf.Tensor2D, G: tf.Tensor2D) => {
  const t = a.targets[ti]!
  const v = a.view(t, model)
  const trainable = a.byRole("trainable").filter((e) => e.name.startsWith(`${t.prefix}.`))
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(G, a.method.forward(v, x, a.settings, { training: false, dropoutSeed: 0 }))) as tf.Scalar, trainable.map((e) => e.variable))
  const g = new Map(trainable.map((e) => [e.name.slice(t.prefix.length + 1), f64(grads[e.variable.name]!)]))
  const before = new Map(trainable.map((e) => [e.name.slice(t.prefix.length + 1), f64(e.variable)]))
  const opt = new AdamW([{ name: "all", vars: trainable.map((e) => e.variable), lrScale: 1, weightDecay: 0 }], { eps: EPS })
  opt.step(new Map(Object.entries(grads)), LR)
  const after = new Map(trainable.map((e) => [e.name.slice(t.prefix.length + 1), f64(e.variable)]))
  tf.dispose([value, ...Object.values(grads)])
  opt.dispose()
  return { t, g, before, after }
}

/** Compares a gradient with the hand-computed one (relative to its size), then the AdamW step p − lr·g/(|g| + ε) in float64. */
const expectStep = (r: ReturnType<typeof firstStep>, local: string, hand: F64) => {
  const g = r.g.get(local)!
  const scale = Math.max(1e-30, ...Array.from(hand, Math.abs))
  g.forEach((x, i) => expect(Math.abs(x - hand[i]!), `${local}[${i}]`).toBeLessThanOrEqual(2e-5 * scale))
  const p0 = r.before.get(local)!
  r.after.get(local)!.forEach((p, i) => {
    const want = p0[i]! - (LR * hand[i]!) / (Math.abs(hand[i]!) + EPS)
    if (hand[i] === 0) expect(p, `${local}[${i}] stays`).toBe(p0[i])
    else expect(Math.abs(p - want), `${local}[${i}]`).toBeLessThan(1e-6 + 1e-3 * LR)
  })
}

const inputs = (dIn: number, dOut: number, seed: number) => [tf.randomNormal([N, dIn], 0, 1, "float32", seed) as tf.Tensor2D, tf.randomNormal([N, dOut], 0, 1, "float32", seed + 1) as tf.Tensor2D] as const

describe("a hand-computed first step", () => {
  it("rsLoRA: g_A = 0, g_B = s·(x·A)ᵀ·G with s = α/√r", () => {
    const a = makeAdapter(getMethod("rslora"), base, { rank: 4, alpha: 8 })
    const t = a.targets[0]!
    const [x, G] = inputs(t.dIn, t.dOut, 1)
    const A = f64(a.view(t).get("lora_A"))
    const s = 8 / Math.sqrt(4)
    const xA = mm(f64(x), A, N, t.dIn, 4)
    const r = firstStep(a, base, 0, x, G)
    expectStep(r, "lora_A", new Float64Array(t.dIn * 4))
    expectStep(r, "lora_B", mm(xA, f64(G), 4, N, t.dOut, true).map((v) => s * v))
    tf.dispose([x, G])
    a.dispose()
  })

  it("DoRA: g_m = Σ_n (x·W)_nj·G_nj / ‖W‖_j, g_B = s·(x·A)ᵀ·G, g_A = 0 — with ‖W + s·A·B‖ detached", () => {
    const model = cloneModel(base)
    const a = makeAdapter(getMethod("dora"), model, { rank: 4, alpha: 8 })
    const t = a.targets[0]!
    const [dIn, dOut, r_, s] = [t.dIn, t.dOut, 4, 2]
    const [x, G] = inputs(dIn, dOut, 3)
    const W = f64(param(model, `${t.prefix}.kernel`))
    const A = f64(a.view(t).get("lora_A"))
    const norm = Array.from({ length: dOut }, (_, j) => Math.sqrt(Array.from({ length: dIn }, (_, i) => W[i * dOut + j]! ** 2).reduce((p, q) => p + q, 0)))
    const xW = mm(f64(x), W, N, dIn, dOut)
    const gm = new Float64Array(dOut).map((_, j) => Array.from({ length: N }, (_, n) => xW[n * dOut + j]! * f64(G)[n * dOut + j]!).reduce((p, q) => p + q, 0) / norm[j]!)
    const xA = mm(f64(x), A, N, dIn, r_)
    const gB = mm(xA, f64(G), r_, N, dOut, true).map((v) => s * v)
    const res = firstStep(a, model, 0, x, G)
    expectStep(res, "lora_magnitude_vector", gm)
    expectStep(res, "lora_A", new Float64Array(dIn * r_))
    expectStep(res, "lora_B", gB)
    // Undetached, g_B would gain −s·Σ_i W_ij·A_ik/‖W‖_j · g_m,j (∂‖·‖/∂B at B = 0, m = ‖W‖): measurably different.
    const extra = new Float64Array(r_ * dOut).map((_, idx) => {
      const [k, j] = [Math.floor(idx / dOut), idx % dOut]
      let wa = 0
      for (let i = 0; i < dIn; i++) wa += W[i * dOut + j]! * A[i * r_ + k]!
      return (-s * wa * gm[j]!) / norm[j]!
    })
    expect(Math.max(...Array.from(extra, Math.abs))).toBeGreaterThan(1e-2 * Math.max(...Array.from(gB, Math.abs)))
    tf.dispose([x, G])
    a.dispose()
    disposeGPT(model)
  })

  it("(IA)³: output targets g_l = Σ_n (x·W + b)_nj·G_nj (bias included); mlp_down g_l = Σ_n x_nk·(G·Wᵀ)_nk", () => {
    const model = cloneModel(base)
    const a = makeAdapter(getMethod("ia3"), model, { targets: ["k", "mlp_down"] })
    a.targets.forEach((t, ti) => {
      const [x, G] = inputs(t.dIn, t.dOut, 10 + ti)
      const W = f64(param(model, `${t.prefix}.kernel`))
      const b = f64(param(model, `${t.prefix}.bias`))
      const X = f64(x)
      const Gv = f64(G)
      let hand: F64
      if (t.proj === "mlp_down") {
        const GWt = mm(Gv, W, N, t.dOut, t.dIn, false, true)
        hand = new Float64Array(t.dIn).map((_, k) => Array.from({ length: N }, (_, n) => X[n * t.dIn + k]! * GWt[n * t.dIn + k]!).reduce((p, q) => p + q, 0))
      } else {
        const xW = mm(X, W, N, t.dIn, t.dOut)
        hand = new Float64Array(t.dOut).map((_, j) => Array.from({ length: N }, (_, n) => (xW[n * t.dOut + j]! + b[j]!) * Gv[n * t.dOut + j]!).reduce((p, q) => p + q, 0))
      }
      expectStep(firstStep(a, model, ti, x, G), "ia3_l", hand)
      tf.dispose([x, G])
    })
    expect(a.targets.map((t) => t.proj)).toEqual(["k", "mlp_down", "k", "mlp_down"])
    a.dispose()
    disposeGPT(model)
  })

  it.each(["pissa", "olora"])("%s: g_A = s·xᵀ·G·Bᵀ, g_B = s·(x·A)ᵀ·G, both non-zero from W's factors", (name) => {
    const a = makeAdapter(getMethod(name), base, { rank: 4, alpha: 8 })
    const t = a.targets[0]!
    const [x, G] = inputs(t.dIn, t.dOut, 20)
    const [A, B, X, Gv, s] = [f64(a.view(t).get("lora_A")), f64(a.view(t).get("lora_B")), f64(x), f64(G), 2]
    const res = firstStep(a, base, 0, x, G)
    expectStep(res, "lora_A", mm(mm(X, Gv, t.dIn, N, t.dOut, true), B, t.dIn, t.dOut, 4, false, true).map((v) => s * v))
    expectStep(res, "lora_B", mm(mm(X, A, N, t.dIn, 4), Gv, 4, N, t.dOut, true).map((v) => s * v))
    tf.dispose([x, G])
    a.dispose()
  })
})

describe("PiSSA and OLoRA start from W", () => {
  const W = () => param(base, "h.0.mlp.up.kernel") // (16, 64)
  const product = (a: Adapter, prefix: string, s: number) => {
    const t = a.targets.find((x) => x.prefix === prefix)!
    return tf.tidy(() => tf.mul(tf.matMul(a.view(t).get("lora_A_init"), a.view(t).get("lora_B_init")), s))
  }

  it.each([
    ["pissa", 0.5],
    ["olora", 1],
  ] as const)("%s at full rank: W reproduced to float rounding (PiSSA: s·A₀·B₀; OLoRA: A₀·B₀ = (Q·R)ᵀ, no 1/s in its factors)", (name, k) => {
    const a = makeAdapter(getMethod(name), base, { rank: 16, alpha: 8, targets: ["mlp_up"] })
    const p = product(a, "h.0.mlp.up", k)
    expect(maxAbsDiff(p, W())).toBeLessThan(1e-6 * maxAbs(W()))
    p.dispose()
    a.dispose()
  })

  it("PiSSA at rank r: s·A₀·B₀ is W's best rank-r approximation (‖W − s·A₀B₀‖²_F = Σ_{j>r} σ_j²), for any α", () => {
    const Wm = mat(16, 64, W().dataSync())
    const { S } = topSvd(Wm, 16)
    const tail = Array.from(S.slice(4)).reduce((p, q) => p + q * q, 0)
    for (const alpha of [4, 8, 32]) {
      const a = makeAdapter(getMethod("pissa"), base, { rank: 4, alpha, targets: ["mlp_up"] })
      const p = product(a, "h.0.mlp.up", alpha / 4)
      const resid = tf.tidy(() => tf.sum(tf.square(tf.sub(W(), p))).dataSync()[0]!)
      expect(Math.abs(resid - tail) / tail).toBeLessThan(1e-4)
      p.dispose()
      a.dispose()
    }
  })

  it("OLoRA at rank r: B₀ has orthonormal rows and A₀·B₀ = W·B₀ᵀ·B₀ (R[:r] = Q_rᵀ·Wᵀ)", () => {
    const a = makeAdapter(getMethod("olora"), base, { rank: 4, alpha: 8, targets: ["mlp_up"] })
    const t = a.targets[0]!
    const B0 = a.view(t).get("lora_B_init")
    const gram = tf.tidy(() => tf.matMul(B0, B0, false, true))
    expect(maxAbsDiff(gram, tf.eye(4))).toBeLessThan(1e-6)
    const p = product(a, "h.0.mlp.up", 1)
    const proj = tf.tidy(() => tf.matMul(tf.matMul(W(), B0, false, true), B0))
    expect(maxAbsDiff(p, proj)).toBeLessThan(1e-5 * maxAbs(proj))
    tf.dispose([gram, p, proj])
    a.dispose()
  })
})

describe("the trained artifact applies to the original base", () => {
  it.each(["pissa", "olora", "dora", "ia3", "rslora"])("%s: trained, saved, loaded onto a fresh copy of the base and merged: the trained model's logits", async (name) => {
    const model = cloneModel(base)
    const a = makeAdapter(getMethod(name), model, { targets: ["q", "v", "mlp_down"] })
    const tr = new Trainer(model, a, { weightDecay: 0.01, gradClip: 1, seed: 0 })
    const b = makeBatch(31)
    for (let step = 0; step < 4; step++) tr.step(b, 1e-2, step)
    const trained = forward(model, b.idx, a.hook(undefined, model))
    const y0 = forward(base, b.idx)
    expect(maxAbsDiff(trained, y0)).toBeGreaterThan(1e-4)
    const dir = mkdtempSync(join(tmpdir(), `${name}-`))
    dirs.push(dir)
    await saveAdapter(dir, a, model)
    const fresh = cloneModel(base)
    const loaded = await loadAdapter(dir, fresh)
    for (const [k, v] of fresh.params) expect(values(v), k).toEqual(values(param(base, k))) // nothing written into the base
    const merged = mergedModel(fresh, loaded)
    const ym = forward(merged, b.idx)
    expect(maxAbsDiff(ym, trained)).toBeLessThanOrEqual(1e-5 * maxAbs(trained))
    tf.dispose([trained, y0, ym])
    tr.dispose()
    disposeBatch(b)
    ;[a, loaded].forEach((x) => x.dispose())
    ;[model, fresh, merged].forEach(disposeGPT)
  })
})
