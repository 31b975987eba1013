/**
 * DoRA (Liu et al., ICML 2024, arXiv 2402.09353): the adapted weight split into a magnitude and a
 * direction, LoRA on the direction:
 *   W' = (W + s·A·B) · diag(m / ‖W + s·A·B‖_c),
 * ‖·‖_c the L2 norm of each output unit's column (over d_in; PEFT's row norm of its (out, in)
 * weight), m ∈ R^{d_out} trained, m₀ = ‖W‖_c. The norm is treated as a constant in the backward
 * pass (paper §4.3, PEFT `weight_norm.detach()`): gradients reach m, A and B only through the
 * numerator and the scale m/‖·‖.
 * ΔW = W' − W = (W + s·A·B)·diag(g) − W with g = m/‖W + s·A·B‖_c. The bias is not scaled (PEFT
 * subtracts it before applying the scale). With dropout PEFT computes the whole DoRA term on the
 * dropped-out input, ΔY = dropout(x)·ΔW; that is `forward` here. Without dropout the model folds
 * ΔW into W (`weightForward`): one product of the layer's size instead of recomputing x·W.
 * At init B = 0, so W + s·A·B is W bit for bit, its norm is m₀ bit for bit, g = 1 and ΔW = 0
 * exactly: the adapted model is the base model, bit for bit.
 * Trainable per matrix r·(d_in + d_out) + d_out. Defaults: LoRA's.
 */
import * as tf from "@tensorflow/tfjs"
import { matmul } from "../model/kernels/ops.ts"
import { adapterInput, loraFamily, loraScaling } from "./lora.ts"
import type { AdapterSettings, InitTensor, LayerView, Method } from "./method.ts"
import { doraSpec } from "./specs/dora.ts"

/** ‖W‖_c: the L2 norm of each output unit's column, (d_out,). */
export const columnNorm = (w: tf.Tensor2D): tf.Tensor1D => tf.tidy(() => tf.sqrt(tf.sum(tf.square(w), 0)) as tf.Tensor1D)

/** The identity forward, a zero gradient backward: torch's `.detach()`. */
const detach = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }
}) as (x: tf.Tensor) => tf.Tensor

/** ΔW = (W + s·A·B)·diag(m/‖W + s·A·B‖_c) − W (d_in, d_out); tensors left to the caller's scope. */
const doraDelta = (v: LayerView, s: AdapterSettings): tf.Tensor2D => {
  const W = v.base()
  const adapted = tf.add(W, tf.mul(matmul(v.get("lora_A") as tf.Tensor2D, v.get("lora_B") as tf.Tensor2D), loraScaling(s))) as tf.Tensor2D // W + s·A·B
  const g = tf.div(v.get("lora_magnitude_vector"), detach(tf.sqrt(tf.sum(tf.square(adapted), 0)))) // m/‖·‖_c (d_out,)
  return tf.sub(tf.mul(adapted, g), W) as tf.Tensor2D
}

const lora = loraFamily("trainable")

export const dora: Method = {
  ...doraSpec,
  counts: (targets, s) => ({ trainable: lora.counts(targets, s).trainable + targets.reduce((n, t) => n + t.dOut, 0), frozenAdapter: 0 }),
  init: (targets, s, base) => {
    if (base === undefined) throw new Error("DoRA's init reads W (m₀ = ‖W‖): pass the model")
    const ab = lora.init(targets, s)
    return targets.flatMap((t, i): InitTensor[] => [
      ab[2 * i] as InitTensor,
      ab[2 * i + 1] as InitTensor,
      { name: `${t.prefix}.lora_magnitude_vector`, role: "trainable", value: columnNorm(base(t)) },
    ])
  },
  forward: (v, x, s, mode) => matmul(adapterInput(v, x, s, mode), doraDelta(v, s)),
  delta: (v, s) => tf.tidy(() => doraDelta(v, s)),
  weightForward: (v, s, mode) => (mode.training && s.dropout > 0 ? null : doraDelta(v, s)),
}
