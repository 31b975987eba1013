/**
 * (IA)³ (Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
 * In-Context Learning", NeurIPS 2022, arXiv 2205.05638): a learned vector l rescales activations.
 * PEFT's IA3 layer, which this follows exactly:
 *   output targets (k, v, … — every target but mlp_down): y = l ⊙ (x·W + b), l ∈ R^{d_out}
 *     (the bias is scaled too: PEFT multiplies the base layer's result, and merges b ← l ⊙ b);
 *   mlp_down (PEFT's `feedforward_modules`, the MLP's input to the down projection):
 *     y = (x ⊙ l)·W + b, l ∈ R^{d_in}, the bias untouched.
 * Init l = 1 (PEFT's `init_ia3_weights`): the adapted model is the base model. No rank, α or
 * dropout (PEFT's IA3 has none): normalize records them as 0.
 * ΔY and ΔW in this layout:
 *   output:      ΔW = W·diag(l − 1), Δb = (l − 1) ⊙ b, ΔY = x·ΔW + Δb
 *   feedforward: ΔW = diag(l − 1)·W, ΔY = x·ΔW — folded into W (`weightForward`)
 * The output form cannot fold (the model's fold has no bias term), so it costs one product of the
 * layer's size; PEFT gets it free by scaling the result it already has.
 * Trainable per matrix d_out (output) or d_in (mlp_down). lr 3e-3 (T-Few's).
 */
import * as tf from "@tensorflow/tfjs"
import { matmul } from "../model/kernels/ops.ts"
import type { LayerView, Method, Target } from "./method.ts"
import { ia3Spec } from "./specs/ia3.ts"

/** PEFT's `feedforward_modules`: the projections whose input, not output, is scaled. */
export const isFeedforward = (t: Pick<Target, "proj">): boolean => t.proj === "mlp_down"

const size = (t: Pick<Target, "proj" | "dIn" | "dOut">): number => (isFeedforward(t) ? t.dIn : t.dOut)

/** ΔW (d_in, d_out); tensors left to the caller's scope. */
const ia3Delta = (v: LayerView): tf.Tensor2D => {
  const lm1 = tf.sub(v.get("ia3_l"), 1) // l − 1
  return tf.mul(v.base(), isFeedforward(v.target) ? tf.reshape(lm1, [-1, 1]) : lm1) as tf.Tensor2D // diag(l−1)·W or W·diag(l−1)
}

export const ia3: Method = {
  ...ia3Spec,
  normalize: (s) => ({ ...s, rank: 0, alpha: 0, dropout: 0 }),
  counts: (targets) => ({ trainable: targets.reduce((n, t) => n + size(t), 0), frozenAdapter: 0 }),
  init: (targets) => targets.map((t) => ({ name: `${t.prefix}.ia3_l`, role: "trainable" as const, value: tf.ones([size(t)]) })),
  forward: (v, x) => {
    const y = matmul(x, ia3Delta(v))
    const b = v.baseBias()
    return isFeedforward(v.target) || b === null ? y : (tf.add(y, tf.mul(b, tf.sub(v.get("ia3_l"), 1))) as tf.Tensor2D)
  },
  delta: (v) => tf.tidy(() => ia3Delta(v)),
  deltaBias: (v) => {
    const b = v.baseBias()
    return isFeedforward(v.target) || b === null ? null : tf.tidy(() => tf.mul(b, tf.sub(v.get("ia3_l"), 1)) as tf.Tensor1D)
  },
  weightForward: (v) => (isFeedforward(v.target) ? ia3Delta(v) : null),
}
