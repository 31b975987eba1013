/**
 * docs/METHODS.md oracles 1–4, 8 (built model), 10, 11 and the tensor-count invariant as one
 * matrix over every registered method (PEFT's TEST_CASES pattern): a new method is a new row.
 * Method-specific oracles (5, 6, 7, 9) and the Llama cross-check live in rules.test.ts / counts.test.ts.
 * One test file per backend calls `oracleMatrix` (oracles.cpu / .wasm / .native.test.ts): the
 * exact-equality oracles hold within each backend, whatever its kernels.
 */
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { METHODS } from "../../src/adapters/index.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { disposeGPT, forward, type GPT } from "../../src/model/arch/model.ts"
import {
  cloneModel, disposeBatch, makeAdapter, makeBatch, makeModel, maxAbs, maxAbsDiff, perturb, settingsFor, setupBackend, snapshot, values,
  type TestBackend,
} from "./fixtures.ts"
import { needs } from "../setup/facilities.ts"

export const oracleMatrix = (backend: TestBackend): void => {
  let base: GPT
  // Without the addon the native matrix is skipped, saying how to build it (tests/setup/facilities.ts).
  const present = backend !== "native" || needs("native")
  beforeAll(async () => {
    if (!present) return
    await setupBackend(backend)
    base = makeModel()
  })
  afterAll(() => present && disposeGPT(base))

  const logits = (model: GPT, idx: tf.Tensor2D, hook?: Parameters<typeof forward>[2]) => forward(model, idx, hook)

  /**
   * Tensors whose gradient is exactly zero at init (B = 0 / b = 0 kill them). PiSSA and OLoRA
   * start both factors from W, (IA)³ at l = 1: nothing of theirs is zero at init.
   */
  const zeroAtInit = (method: string, name: string) =>
    !["pissa", "olora", "ia3"].includes(method) && (name.endsWith(".lora_A") || name.endsWith(".vera_lambda_d"))

  describe.each(METHODS.map((m) => [m.name, m] as const))(`${backend}: %s`, (name, method) => {
    it("1: adapted logits equal base logits bit-exactly at init", () => {
      const a = makeAdapter(method, base)
      const b = makeBatch(11)
      const [y0, y1] = [logits(base, b.idx), logits(base, b.idx, a.hook(undefined, base))]
      expect(values(y1)).toEqual(values(y0))
      tf.dispose([y0, y1])
      disposeBatch(b)
      a.dispose()
    })

    it("2: merged logits match adapter logits; merging at init leaves W bit-identical", () => {
      if (method.training?.trainsBase !== undefined) {
        // Full fine-tuning: no adapter; merge = the trained weights, bit-identical.
        const model = cloneModel(base)
        const a = makeAdapter(method, model)
        expect(a.targets).toEqual([])
        model.params.forEach((v) => tf.tidy(() => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, "float32", 40)))))
        const m = mergedModel(model, a)
        for (const [k, v] of model.params) expect(values(m.params.get(k) as tf.Tensor), k).toEqual(values(v))
        ;[m, model].forEach(disposeGPT)
        a.dispose()
        return
      }
      const a = makeAdapter(method, base)
      const b = makeBatch(12)
      const m0 = mergedModel(base, a)
      for (const t of a.targets) expect(values(m0.params.get(`${t.prefix}.kernel`) as tf.Tensor)).toEqual(values(base.params.get(`${t.prefix}.kernel`) as tf.Tensor))
      disposeGPT(m0)
      perturb(a, 5)
      const m = mergedModel(base, a)
      const [ya, ym, y0] = [logits(base, b.idx, a.hook(undefined, base)), logits(m, b.idx), logits(base, b.idx)]
      expect(maxAbsDiff(ya, y0)).toBeGreaterThan(1e-3) // the adapter does something
      expect(maxAbsDiff(ya, ym)).toBeLessThanOrEqual(1e-5 * maxAbs(ya))
      // DoRA's and (IA)³'s ΔW depend on W: unmerging reads the W they were merged from.
      const un = mergedModel(m, a, -1, base)
      for (const t of a.targets) {
        expect(maxAbsDiff(un.params.get(`${t.prefix}.kernel`) as tf.Tensor, base.params.get(`${t.prefix}.kernel`) as tf.Tensor)).toBeLessThan(1e-6)
        expect(maxAbsDiff(un.params.get(`${t.prefix}.bias`) as tf.Tensor, base.params.get(`${t.prefix}.bias`) as tf.Tensor)).toBeLessThan(1e-6)
      }
      tf.dispose([ya, ym, y0])
      ;[m, un].forEach(disposeGPT)
      disposeBatch(b)
      a.dispose()
    })

    it("3: frozen tensors stay bit-identical over training; trainable ones move", () => {
      const model = cloneModel(base)
      const a = makeAdapter(method, model)
      const tr = new Trainer(model, a, { weightDecay: 0.01, gradClip: 1, seed: 0 })
      const frozen0 = snapshot([...a.tensors].filter(([, t]) => t.role !== "trainable").map(([k, t]) => [k, t.variable]))
      const trainable0 = snapshot(a.byRole("trainable").map((t) => [t.name, t.variable]))
      const base0 = snapshot(model.params)
      const written = new Set(method.training?.modifiedBase?.(a, model) ?? [])
      const trained = new Set(method.training?.trainsBase?.(a, model) ?? [])
      const b = makeBatch(13)
      for (let step = 0; step < 4; step++) {
        const prev = snapshot(model.params)
        tr.step(b, 1e-2, step)
        for (const [k, v] of model.params) {
          // Full fine-tuning moves every weight from the first step.
          if (trained.has(k)) expect(values(v), `${k} after step ${step}`).not.toEqual(prev.get(k))
          // Delta-LoRA (K = 1 in the fixtures) writes W only after steps t > K.
          else if (written.has(k) && step > 1) expect(values(v)).not.toEqual(base0.get(k))
          else expect(values(v), `${k} after step ${step}`).toEqual(base0.get(k))
        }
      }
      for (const [k, t] of a.tensors) {
        if (t.role === "trainable") expect(values(t.variable), k).not.toEqual(trainable0.get(k))
        else expect(values(t.variable), k).toEqual(frozen0.get(k))
      }
      tr.dispose()
      disposeBatch(b)
      a.dispose()
      disposeGPT(model)
    })

    it("4: at init ∂L/∂A (∂L/∂d for VeRA) is exactly 0, so step 1 moves only B (b)", () => {
      const model = cloneModel(base)
      const a = makeAdapter(method, model)
      const b = makeBatch(14)
      const trainable = a.byRole("trainable")
      if (trainable.length === 0) {
        // Full fine-tuning has no zero-initialized factor: oracle 4 does not apply; it trains every weight.
        expect(method.training?.trainsBase?.(a, model)).toEqual([...model.params.keys()])
        a.dispose()
        disposeGPT(model)
        disposeBatch(b)
        return
      }
      const { value, grads } = tf.variableGrads(() => {
        const y = forward(model, b.idx, a.hook(undefined, model))
        return tf.mean(tf.square(y)) as tf.Scalar
      }, trainable.map((t) => t.variable))
      for (const t of trainable) {
        const g = values(grads[t.variable.name] as tf.Tensor)
        if (zeroAtInit(name, t.name)) expect(g.every((x) => x === 0), t.name).toBe(true)
        else expect(g.some((x) => x !== 0), t.name).toBe(true)
      }
      tf.dispose([value, ...Object.values(grads)])
      const before = snapshot(trainable.map((t) => [t.name, t.variable]))
      const tr = new Trainer(model, a, { weightDecay: 0, gradClip: 0, seed: 0 })
      tr.step(b, 1e-2, 0)
      for (const t of trainable) {
        if (zeroAtInit(name, t.name)) expect(values(t.variable), t.name).toEqual(before.get(t.name))
        else expect(values(t.variable), t.name).not.toEqual(before.get(t.name))
      }
      tr.dispose()
      disposeBatch(b)
      a.dispose()
      disposeGPT(model)
    })

    it("8: counts equal the sizes of the built tensors", () => {
      const a = makeAdapter(method, base)
      const c = method.counts(a.targets, a.settings)
      const size = (role: string) => [...a.tensors.values()].filter((t) => (role === "trainable" ? t.role === "trainable" : t.role !== "trainable")).reduce((n, t) => n + t.variable.size, 0)
      expect(c.trainable).toBe(size("trainable"))
      expect(c.frozenAdapter).toBe(size("frozen"))
      a.dispose()
    })

    it("10: doubling α doubles ΔW for the LoRA family (rsLoRA, OLoRA too); VeRA's and (IA)³'s ΔW ignore α; DoRA doubles s·A·B; PiSSA keeps s·A₀·B₀", () => {
      const a1 = makeAdapter(method, base, { alpha: 8 })
      const a2 = makeAdapter(method, base, { alpha: 16 })
      perturb(a1, 9)
      perturb(a2, 9)
      if (name === "pissa") {
        // PiSSA's factors absorb s (√(S/s)): s·A₀·B₀ is W's top-r part whatever α; A₀·B₀ halves.
        for (const t of a1.targets) {
          const [p1, p2] = [a1, a2].map((a) => tf.matMul(a.view(t).get("lora_A_init"), a.view(t).get("lora_B_init")))
          expect(maxAbsDiff(p1 as tf.Tensor, tf.mul(p2 as tf.Tensor, 2))).toBeLessThan(1e-5 * maxAbs(p1 as tf.Tensor))
          tf.dispose([p1 as tf.Tensor, p2 as tf.Tensor])
        }
      } else if (name === "dora") {
        // ΔW = (W + s·A·B)·diag(m/‖·‖) − W: α = 16 with B is α = 8 with 2B.
        for (const t of a1.targets) a1.view(t).get("lora_B").assign(tf.mul(a1.view(t).get("lora_B"), 2))
        for (const t of a1.targets) {
          const [d1, d2] = [a1.delta(t, base), a2.delta(t, base)]
          expect(values(d2)).toEqual(values(d1))
          tf.dispose([d1, d2])
        }
      } else {
        for (const t of a1.targets) {
          const [d1, d2] = [a1.delta(t, base), a2.delta(t, base)]
          const want = name === "vera" || name === "ia3" ? d1 : tf.mul(d1, 2)
          expect(values(d2)).toEqual(values(want))
          tf.dispose([d1, d2, want])
        }
      }
      a1.dispose()
      a2.dispose()
    })

    it("11: init bounds", () => {
      const a = makeAdapter(method, base)
      const s = settingsFor(method.name)
      for (const t of a.targets) {
        const v = a.view(t)
        if (method.name === "vera") {
          expect(values(v.get("vera_lambda_d")).every((x) => x === Math.fround(0.1))).toBe(true)
          expect(values(v.get("vera_lambda_b")).every((x) => x === 0)).toBe(true)
        } else if (method.name === "ia3") {
          expect(values(v.get("ia3_l")).every((x) => x === 1)).toBe(true)
          expect(v.get("ia3_l").shape).toEqual([t.proj === "mlp_down" ? t.dIn : t.dOut])
        } else if (method.name === "pissa" || method.name === "olora") {
          // The trained factors start at the frozen initial ones, bit for bit (their size: oracles in init-methods.test.ts).
          expect(values(v.get("lora_A"))).toEqual(values(v.get("lora_A_init")))
          expect(values(v.get("lora_B"))).toEqual(values(v.get("lora_B_init")))
        } else {
          const bound = 1 / Math.sqrt(t.dIn)
          const A = values(v.get("lora_A"))
          expect(A.every((x) => Math.abs(x) <= bound)).toBe(true)
          expect(Math.max(...A.map(Math.abs))).toBeGreaterThan(0.8 * bound) // uniform over the whole range
          expect(values(v.get("lora_B")).every((x) => x === 0)).toBe(true)
          if (method.name === "dora") {
            // m₀ = ‖W‖ per output column, as the same ops compute it.
            const W = base.params.get(`${t.prefix}.kernel`) as tf.Tensor
            const norm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(W), 0)))
            expect(values(v.get("lora_magnitude_vector"))).toEqual(values(norm))
            norm.dispose()
          }
        }
      }
      if (method.name === "vera") {
        const As = values(a.tensors.get("vera_A")?.variable as tf.Tensor)
        expect(As.every((x) => Math.abs(x) <= Math.sqrt(6 / 64))).toBe(true) // max_in = 64 (mlp_down)
        expect(a.tensors.get("vera_B")?.variable.shape).toEqual([s.rank, 64])
      }
      a.dispose()
    })

    it("the number of live tensors stays flat across training steps", () => {
      const model = cloneModel(base)
      const a = makeAdapter(method, model, { dropout: 0.1 })
      const tr = new Trainer(model, a, { weightDecay: 0.01, gradClip: 1, seed: 0 })
      const b = makeBatch(15)
      // Warm-up past Delta-LoRA's K = 1: from then on every step ends with its Wᵀ cache dropped.
      for (let step = 0; step < 3; step++) tr.step(b, 1e-3, step)
      const n = tf.memory().numTensors
      for (let step = 3; step < 6; step++) tr.step(b, 1e-3, step)
      expect(tf.memory().numTensors).toBe(n)
      tr.dispose()
      disposeBatch(b)
      a.dispose()
      disposeGPT(model)
    })
  })
}
