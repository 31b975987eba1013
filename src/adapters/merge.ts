/**
 * Merging: W' = W + ΔW per adapted projection, with the method's one `delta` function.
 * `sign = -1` unmerges (W − ΔW), e.g. to recover W_T from a merged Delta-LoRA model.
 */
import * as tf from "@tensorflow/tfjs"
import { param, type GPT } from "../model/arch/model.ts"
import type { Adapter } from "./adapter.ts"

/** A new model whose targeted kernels are W ± ΔW; every other parameter is copied. Frozen variables. */
export const mergedModel = (model: GPT, adapter: Adapter, sign: 1 | -1 = 1): GPT => {
  const merged = new Map<string, tf.Tensor>()
  for (const t of adapter.targets) {
    const name = `${t.prefix}.kernel`
    merged.set(name, tf.tidy(() => {
      const d = adapter.delta(t, model)
      return sign === 1 ? tf.add(param(model, name), d) : tf.sub(param(model, name), d)
    }))
  }
  const params = new Map<string, tf.Variable>()
  for (const [name, v] of model.params) {
    const m = merged.get(name)
    params.set(name, tf.variable(m ?? v, false))
    m?.dispose()
  }
  return { config: model.config, params }
}
