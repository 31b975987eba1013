/**
 * Writing a frozen base weight (Delta-LoRA's W update, restoring it from a checkpoint or an
 * adapter file). The fast matmul caches Wᵀ of frozen weights, so every write drops that cache.
 */
import type * as tf from "@tensorflow/tfjs"
import { param, type GPT } from "../model/gpt.ts"
import * as ops from "../model/ops.ts"

const invalidateTransposed = (v: tf.Variable): void => {
  // Looked up at run time: the wasm fast path that owns the cache may be absent.
  const fn = (ops as { readonly invalidateTransposed?: (v: tf.Variable) => void }).invalidateTransposed
  fn?.(v)
}

export const assignBase = (model: GPT, name: string, value: tf.Tensor): void => {
  const v = param(model, name)
  v.assign(value)
  invalidateTransposed(v)
}
