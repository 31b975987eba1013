/**
 * The contract is enough for a sixth method: a DoRA (Liu et al., arXiv 2402.09353) written
 * here as one object, never registered, trains and merges through the same Adapter, Trainer
 * and mergedModel as the five. W' = m ⊙ (W + s·A·B) / ‖W + s·A·B‖_c, with the norm over d_in
 * for each output column and m initialised to ‖W‖_c. (The registered DoRA, src/adapters/dora.ts,
 * also detaches the norm from the gradient, as PEFT does; this one stays as the proof that the
 * contract alone is enough.)
 */
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Adapter } from "../../src/adapters/adapter.ts"
import { loraFamily, loraScaling } from "../../src/adapters/lora.ts"
import { loraDefaults } from "../../src/adapters/specs/lora.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import type { AdapterSettings, LayerView, Method } from "../../src/adapters/method.ts"
import { resolveSettings } from "../../src/adapters/settings.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { disposeGPT, forward, type GPT } from "../../src/model/arch/model.ts"
import { cloneModel, makeBatch, disposeBatch, makeModel, maxAbs, maxAbsDiff, setupBackend } from "./fixtures.ts"

const colNorm = (w: tf.Tensor) => tf.sqrt(tf.sum(tf.square(w), 0)) // (d_out,)

/** W' − W (d_in, d_out). */
const doraDelta = (v: LayerView, s: AdapterSettings): tf.Tensor2D =>
  tf.tidy(() => {
    const W = v.base()
    const adapted = tf.add(W, tf.mul(tf.matMul(v.get("lora_A"), v.get("lora_B")), loraScaling(s)))
    return tf.sub(tf.mul(tf.div(adapted, colNorm(adapted)), v.get("magnitude")), W) as tf.Tensor2D
  })

const lf = loraFamily("trainable")
const dora: Method = {
  name: "dora",
  peftType: "LORA",
  description: "DoRA: LoRA on the direction, a trained magnitude per output column",
  defaults: loraDefaults,
  options: {},
  module: import.meta.url,
  specModule: import.meta.url,
  footprint: { form: "low-rank", counts: (ts, r) => ({ trainable: ts.reduce((n, t) => n + r * (t.dIn + t.dOut) + t.dOut, 0), frozen: 0 }), writesBase: "none" },
  counts: (targets, s) => ({ trainable: lf.counts(targets, s).trainable + targets.reduce((n, t) => n + t.dOut, 0), frozenAdapter: 0 }),
  init: (targets, s, base) => {
    if (base === undefined) throw new Error("DoRA's init needs the base model")
    return [...lf.init(targets, s), ...targets.map((t) => ({ name: `${t.prefix}.magnitude`, role: "trainable" as const, value: colNorm(base(t)) }))]
  },
  forward: (v, x, s) => tf.matMul(x, doraDelta(v, s)),
  delta: doraDelta,
}

let base: GPT
beforeAll(async () => {
  await setupBackend()
  base = makeModel(8)
})
afterAll(() => disposeGPT(base))

describe("a sixth method written against the contract only (DoRA)", () => {
  it("is a no-op at init (to float error), trains, and merges to the same logits", () => {
    const model = cloneModel(base)
    const a = Adapter.create(dora, model.config, resolveSettings(dora, { rank: 4, targets: ["q", "v"], seed: 1 }), { model })
    const b = makeBatch(41)
    const y0 = forward(model, b.idx)
    const y1 = forward(model, b.idx, a.hook(undefined, model))
    expect(maxAbsDiff(y0, y1)).toBeLessThan(1e-5 * maxAbs(y0))
    const tr = new Trainer(model, a, { weightDecay: 0, gradClip: 1, seed: 0 })
    const losses = [0, 1, 2, 3].map((t) => tr.step(b, 1e-2, t).loss)
    expect(losses[3]).toBeLessThan(losses[0] as number)
    const merged = mergedModel(model, a)
    const [ya, ym] = [forward(model, b.idx, a.hook(undefined, model)), forward(merged, b.idx)]
    expect(maxAbsDiff(ya, ym)).toBeLessThanOrEqual(1e-5 * maxAbs(ya))
    expect(() => a.delta(a.targets[0]!)).toThrow(/needs the base weight/)
    tf.dispose([y0, y1, ya, ym])
    tr.dispose()
    disposeBatch(b)
    a.dispose()
    ;[model, merged].forEach(disposeGPT)
  })
})
