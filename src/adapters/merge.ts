/**
 * Merging: W' = W + ΔW per adapted projection, with the method's one `delta` function (and
 * b' = b + Δb where the method scales the bias too: (IA)³).
 * `sign = -1` unmerges (W − ΔW), e.g. to recover W_T from a merged Delta-LoRA model. ΔW of
 * DoRA and (IA)³ depends on W itself: unmerging them needs the W they were merged from,
 * `deltaFrom` (ΔW is read from it; by default from `model`).
 */
import * as tf from "@tensorflow/tfjs"
import { param, type GPT } from "../model/arch/model.ts"
import type { Adapter } from "./adapter.ts"

/** A new model whose targeted kernels are W ± ΔW (biases b ± Δb); every other parameter is copied. Frozen variables. */
export const mergedModel = (model: GPT, adapter: Adapter, sign: 1 | -1 = 1, deltaFrom: GPT = model): GPT => {
  const merged = new Map<string, tf.Tensor>()
  const apply = (name: string, d: tf.Tensor) => (sign === 1 ? tf.add(param(model, name), d) : tf.sub(param(model, name), d))
  for (const t of adapter.targets) {
    const name = `${t.prefix}.kernel`
    merged.set(name, tf.tidy(() => apply(name, adapter.delta(t, deltaFrom))))
    const bias = `${t.prefix}.bias`
    const db = model.params.has(bias) ? adapter.deltaBias(t, deltaFrom) : null
    if (db !== null) {
      merged.set(bias, tf.tidy(() => apply(bias, db)))
      db.dispose()
    }
  }
  const params = new Map<string, tf.Variable>()
  for (const [name, v] of model.params) {
    const m = merged.get(name)
    params.set(name, tf.variable(m ?? v, false))
    m?.dispose()
  }
  return { config: model.config, params }
}
