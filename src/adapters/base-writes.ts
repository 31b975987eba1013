/**
 * Writing a frozen base weight (Delta-LoRA's W update, restoring it from a checkpoint or an
 * adapter file). The fast matmul caches Wᵀ of frozen weights, so every write drops that cache.
 */
import type * as tf from "@tensorflow/tfjs"
import { param, type GPT } from "../model/arch/model.ts"
import { invalidateTransposed } from "../model/kernels/ops.ts"

export const assignBase = (model: GPT, name: string, value: tf.Tensor): void => {
  const v = param(model, name)
  v.assign(value)
  invalidateTransposed(v)
}
