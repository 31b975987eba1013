/** docs/METHODS.md oracles 5 (LoRA+), 6 (Delta-LoRA), 7 (LoRA-FA) and 9 (VeRA sharing). */
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Adapter } from "../../src/adapters/adapter.ts"
import { deltaLoRA } from "../../src/adapters/delta-lora.ts"
import { lora, loraScaling } from "../../src/adapters/lora.ts"
import { loraFA } from "../../src/adapters/lora-fa.ts"
import { loraPlus } from "../../src/adapters/lora-plus.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import type { Method } from "../../src/adapters/method.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { vera } from "../../src/adapters/vera.ts"
import { disposeGPT, forward, maskedCrossEntropy, type GPT } from "../../src/model/arch/model.ts"
import type { SettingsRequest } from "../../src/adapters/settings.ts"
import { cloneModel, disposeBatch, makeAdapter, makeBatch, makeModel, maxAbs, maxAbsDiff, settingsFor, values, setupBackend } from "./fixtures.ts"

let base: GPT
beforeAll(async () => {
  await setupBackend()
  base = makeModel()
})
afterAll(() => disposeGPT(base))

interface Run {
  readonly model: GPT
  readonly adapter: Adapter
  readonly trainer: Trainer
  dispose(): void
}

const startRun = (method: Method, req: SettingsRequest = {}, eps?: number): Run => {
  const model = cloneModel(base)
  const adapter = makeAdapter(method, model, req)
  const trainer = new Trainer(model, adapter, { weightDecay: 0.01, gradClip: 0, seed: 0, eps })
  return { model, adapter, trainer, dispose: () => [trainer.dispose(), adapter.dispose(), disposeGPT(model)].forEach(() => undefined) }
}

const trainSteps = (r: Run, n: number, lr = 1e-2, onStep?: (t: number) => void) => {
  const b = makeBatch(21)
  for (let t = 0; t < n; t++) {
    r.trainer.step(b, lr, t)
    onStep?.(t)
  }
  disposeBatch(b)
}

const tensorsOf = (r: Run) => new Map([...r.adapter.tensors].map(([k, t]) => [k, Float32Array.from(values(t.variable))]))

describe("5: LoRA+", () => {
  it("with λ = 1 reproduces LoRA bit-exactly", () => {
    const [a, b] = [startRun(lora), startRun(loraPlus, { options: { loraplus_ratio: 1 } })]
    trainSteps(a, 3)
    trainSteps(b, 3)
    expect(tensorsOf(b)).toEqual(tensorsOf(a))
    a.dispose()
    b.dispose()
  })

  it("from B = 0, its first Adam step of B is λ times LoRA's", () => {
    const [a, b] = [startRun(lora), startRun(loraPlus, { options: { loraplus_ratio: 16 } })]
    trainSteps(a, 1, 1e-3)
    trainSteps(b, 1, 1e-3)
    for (const t of a.adapter.targets) {
      const [Ba, Bb] = [values(a.adapter.view(t).get("lora_B")), values(b.adapter.view(t).get("lora_B"))]
      expect(Array.from(Bb)).toEqual(Array.from(Ba, (x) => 16 * x))
      expect(values(b.adapter.view(t).get("lora_A"))).toEqual(values(a.adapter.view(t).get("lora_A")))
    }
    a.dispose()
    b.dispose()
  })
})

describe("6: Delta-LoRA", () => {
  const lambda = 2
  const products = (r: Run) => r.adapter.targets.map((t) => tf.tidy(() => tf.matMul(r.adapter.view(t).get("lora_A"), r.adapter.view(t).get("lora_B"))))
  const kernels = (r: Run) => r.adapter.targets.map((t) => (r.model.params.get(`${t.prefix}.kernel`) as tf.Variable).clone())

  it("W moves by λ·s·(A'B' − AB) after every step t > K, not at all before; the updates telescope", () => {
    const K = 1
    const r = startRun(deltaLoRA, { options: { delta_k: K, delta_lambda: lambda } })
    const k = lambda * loraScaling(r.adapter.settings)
    let [W, AB] = [kernels(r), products(r)]
    const W0 = kernels(r)
    let ABk: tf.Tensor[] = []
    trainSteps(r, 5, 1e-2, (t) => {
      const [W1, AB1] = [kernels(r), products(r)]
      W1.forEach((w1, i) => {
        const dW = tf.sub(w1, W[i] as tf.Tensor)
        if (t <= K) expect(maxAbs(dW)).toBe(0)
        else {
          const want = tf.mul(tf.sub(AB1[i] as tf.Tensor, AB[i] as tf.Tensor), k)
          expect(maxAbs(want)).toBeGreaterThan(1e-5)
          expect(maxAbsDiff(dW, want)).toBeLessThan(1e-6)
          want.dispose()
        }
        dW.dispose()
      })
      if (t === K) ABk = AB1.map((x) => x.clone()) // A_{K+1}·B_{K+1}
      tf.dispose([...W, ...AB])
      ;[W, AB] = [W1, AB1]
    })
    W.forEach((wT, i) => {
      const want = tf.add(W0[i] as tf.Tensor, tf.mul(tf.sub(AB[i] as tf.Tensor, ABk[i] as tf.Tensor), k))
      expect(maxAbsDiff(wT, want)).toBeLessThan(1e-6)
      want.dispose()
    })
    tf.dispose([...W, ...AB, ...W0, ...ABk])
    r.dispose()
  })

  it("with K = −1 equals LoRA with scaling (1+λ)·s", () => {
    const d = startRun(deltaLoRA, { alpha: 8, options: { delta_k: -1, delta_lambda: lambda } }, 1e-12)
    const l = startRun(lora, { alpha: 8 * (1 + lambda) }, 1e-12)
    trainSteps(d, 4, 1e-3)
    trainSteps(l, 4, 1e-3)
    const b = makeBatch(22)
    const [md, ml] = [mergedModel(d.model, d.adapter), mergedModel(l.model, l.adapter)]
    const [yd, yl, y0] = [forward(md, b.idx), forward(ml, b.idx), forward(base, b.idx)]
    expect(maxAbsDiff(yl, y0)).toBeGreaterThan(1e-3)
    expect(maxAbsDiff(yd, yl)).toBeLessThan(1e-4 * maxAbs(yl))
    tf.dispose([yd, yl, y0])
    ;[md, ml].forEach(disposeGPT)
    disposeBatch(b)
    d.dispose()
    l.dispose()
  })
})

describe("7: LoRA-FA gradient projection", () => {
  /** g_B of the batch loss, and the projected one from the method's transform. */
  const gradients = (a: Adapter, model: GPT, W: tf.Variable) => {
    const B = a.view(a.targets[0]!).get("lora_B")
    const b = makeBatch(23)
    const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, b.idx, a.hook()), b.targets, b.mask), [B, W])
    const gB = (grads[B.name] as tf.Tensor).clone()
    const projected = loraFA.training?.transformGrads?.(a, new Map([[B.name, grads[B.name] as tf.Tensor]]))
    disposeBatch(b)
    value.dispose()
    return { gB, gW: grads[W.name] as tf.Tensor2D, gP: projected?.get(B.name) as tf.Tensor2D }
  }

  it("with orthonormal columns in A the projected gradient is g_B/s²", () => {
    const a = makeAdapter(loraFA, base, { alpha: 8 })
    const t = a.targets[0]!
    const A = a.view(t).get("lora_A")
    A.assign(tf.tidy(() => tf.linalg.qr(A)[0]))
    const W = base.params.get(`${t.prefix}.kernel`) as tf.Variable
    const { gB, gW, gP } = gradients(a, base, W)
    const s = loraScaling(a.settings)
    const want = tf.div(gB, s * s)
    expect(maxAbs(gB)).toBeGreaterThan(0)
    expect(maxAbsDiff(gP, want)).toBeLessThan(1e-5 * maxAbs(want))
    tf.dispose([gB, gW, gP, want])
    a.dispose()
  })

  it("s·A·g_B' is the projection of the full-weight gradient onto A's column space", () => {
    const a = makeAdapter(loraFA, base, { alpha: 8 })
    const t = a.targets[0]!
    const A = a.view(t).get("lora_A") as tf.Tensor2D
    const W = base.params.get(`${t.prefix}.kernel`) as tf.Variable
    const { gB, gW, gP } = gradients(a, base, W)
    const s = loraScaling(a.settings)
    const got = tf.mul(tf.matMul(A, gP), s) // (d_in, d_out)
    const Q = tf.linalg.qr(A)[0] // orthonormal basis of col(A): P_A = Q·Qᵀ, independent of the Gauss-Jordan inverse
    const want = tf.matMul(Q, tf.matMul(Q, gW, true, false))
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4 * maxAbs(want))
    expect(maxAbsDiff(want, gW)).toBeGreaterThan(1e-3 * maxAbs(gW)) // a real projection, not the identity
    tf.dispose([gB, gW, gP, got, Q, want])
    a.dispose()
  })
})

describe("9: VeRA sharing", () => {
  it("every layer references the same A_s, B_s", () => {
    const a = makeAdapter(vera, base)
    const [first, ...rest] = a.targets.map((t) => a.view(t))
    for (const v of rest) {
      expect(v.get("vera_A")).toBe(first!.get("vera_A"))
      expect(v.get("vera_B")).toBe(first!.get("vera_B"))
    }
    expect(a.byRole("shared").map((t) => t.name)).toEqual(["vera_A", "vera_B"])
    a.dispose()
  })

  it("smaller layers use the leading slices (checked in float64)", () => {
    const a = makeAdapter(vera, base)
    a.byRole("trainable").forEach((t, i) => t.variable.assign(tf.randomNormal(t.variable.shape, 0, 1, "float32", 40 + i)))
    const r = a.settings.rank
    const As = values(a.tensors.get("vera_A")!.variable) // (64, r)
    const Bs = values(a.tensors.get("vera_B")!.variable) // (r, 64)
    const maxOut = 64
    for (const t of a.targets) {
      const v = a.view(t)
      const [d, bb] = [values(v.get("vera_lambda_d")), values(v.get("vera_lambda_b"))]
      const dW = values(a.delta(t))
      let worst = 0
      for (let i = 0; i < t.dIn; i++)
        for (let j = 0; j < t.dOut; j++) {
          let acc = 0
          for (let k = 0; k < r; k++) acc += As[i * r + k]! * d[k]! * Bs[k * maxOut + j]!
          worst = Math.max(worst, Math.abs(acc * bb[j]! - dW[i * t.dOut + j]!))
        }
      expect(worst).toBeLessThan(1e-5)
    }
    a.dispose()
  })

  it("a later adapter with larger dims or rank is refused with a clear error", () => {
    const first = Adapter.create(vera, base.config, settingsFor("vera", { targets: ["q", "v"] }))
    expect(() => Adapter.create(vera, base.config, settingsFor("vera", { targets: ["mlp_up"] }), { shareWith: first })).toThrow(/16→16 but h\.0\.mlp\.up needs 16→64/)
    expect(() => Adapter.create(vera, base.config, settingsFor("vera", { targets: ["q"], rank: 16 }), { shareWith: first })).toThrow(/rank 8, but this adapter asks for rank 16/)
    const second = Adapter.create(vera, base.config, settingsFor("vera", { targets: ["k"] }), { shareWith: first })
    expect(values(second.tensors.get("vera_A")!.variable)).toEqual(values(first.tensors.get("vera_A")!.variable))
    ;[first, second].forEach((a) => a.dispose())
  })
})

describe("LoRA+ optimizer groups", () => {
  it("every trainable tensor is in exactly one group: A at lr, B at λ·lr", () => {
    const a = makeAdapter(loraPlus, base, { options: { loraplus_ratio: 4 } })
    const groups = loraPlus.training!.paramGroups!(a, 0.01)
    const grouped = groups.flatMap((g) => g.vars.map((v) => v.name)).sort()
    expect(grouped).toEqual(a.byRole("trainable").map((t) => t.variable.name).sort())
    expect(new Set(grouped).size).toBe(grouped.length)
    expect(groups.map((g) => [g.name, g.lrScale, g.vars.length])).toEqual([["lora_A", 1, a.targets.length], ["lora_B", 4, a.targets.length]])
    a.dispose()
  })
})

describe("options without another test", () => {
  it("lorafa_projection: false trains B with the plain gradient (paper v1): same as LoRA with A frozen", () => {
    const plain = startRun(loraFA, { options: { lorafa_projection: false } })
    expect(loraFA.training?.transformGrads?.(plain.adapter, new Map())).toEqual(new Map())
    const projected = startRun(loraFA)
    trainSteps(plain, 2, 1e-2)
    trainSteps(projected, 2, 1e-2)
    // A frozen in both; B differs, since only one projects its gradient.
    for (const t of plain.adapter.targets) {
      expect(values(plain.adapter.view(t).get("lora_A"))).toEqual(values(projected.adapter.view(t).get("lora_A")))
      expect(maxAbsDiff(plain.adapter.view(t).get("lora_B"), projected.adapter.view(t).get("lora_B"))).toBeGreaterThan(1e-6)
    }
    // v1 is LoRA with A frozen: B's Adam step from B = 0 equals LoRA's B step.
    const l = startRun(lora)
    const v1 = startRun(loraFA, { options: { lorafa_projection: false } })
    trainSteps(l, 1, 1e-3)
    trainSteps(v1, 1, 1e-3)
    for (const t of l.adapter.targets) expect(values(v1.adapter.view(t).get("lora_B"))).toEqual(values(l.adapter.view(t).get("lora_B")))
    ;[plain, projected, l, v1].forEach((r) => r.dispose())
  })

  it("vera_d_init sets every entry of d; b starts at 0", () => {
    const a = makeAdapter(vera, base, { options: { vera_d_init: 0.25 } })
    for (const t of a.targets) {
      expect(Array.from(values(a.view(t).get("vera_lambda_d")))).toEqual(new Array(a.settings.rank).fill(0.25))
      expect(Array.from(values(a.view(t).get("vera_lambda_b")))).toEqual(new Array(t.dOut).fill(0))
    }
    a.dispose()
  })

  it("vera_projection_seed chooses the shared A_s, B_s: same seed same pair, another seed another", () => {
    const [a, b, c] = [0, 0, 7].map((seed) => makeAdapter(vera, base, { options: { vera_projection_seed: seed } }))
    const pair = (x: Adapter) => [values(x.tensors.get("vera_A")!.variable), values(x.tensors.get("vera_B")!.variable)]
    expect(pair(b!)).toEqual(pair(a!))
    const [[A0, B0], [A7, B7]] = [pair(a!), pair(c!)]
    expect(A7!.length).toBe(A0!.length)
    expect(A7!.some((x, i) => x !== A0![i])).toBe(true)
    expect(B7!.some((x, i) => x !== B0![i])).toBe(true)
    // The bound does not depend on the seed: He-uniform √(6/fan_in).
    const bound = Math.sqrt(6 / 64)
    expect(Math.max(...A7!.map(Math.abs))).toBeLessThanOrEqual(bound)
    ;[a, b, c].forEach((x) => x!.dispose())
  })
})
