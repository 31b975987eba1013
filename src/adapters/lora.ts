/**
 * LoRA (Hu et al., arXiv 2106.09685): y = x·W + s·(dropout(x)·A)·B, s = α/r.
 *
 * A ∈ R^{d_in×r} (down, touches the input), B ∈ R^{r×d_out} (up, starts at zero).
 * Init: B = 0, A ~ U(−1/√d_in, 1/√d_in) — PEFT's Kaiming-uniform with a = √5, not tfjs's
 * heUniform (√6 times wider). Trainable per matrix r·(d_in + d_out); W frozen.
 * Defaults: r = 8, α = 16 (the LoRA repo's RoBERTa recipe), dropout 0, lr 1e-3.
 *
 * `loraFamily` is shared by LoRA-FA, Delta-LoRA, LoRA+, rsLoRA and DoRA: same parametrization
 * and delta, different training rules (rsLoRA: a different scaling; DoRA builds on the delta).
 */
import * as tf from "@tensorflow/tfjs"
import { PROJ_NAMES } from "../model/arch/model.ts"
import { matmul } from "../model/kernels/ops.ts"
import { tensorSeed, uniform } from "./init.ts"
import type { AdapterSettings, InitTensor, LayerView, Method, RunMode, Target } from "./method.ts"
import { loraSpec } from "./specs/lora.ts"

export const loraScaling = (s: AdapterSettings): number => s.alpha / s.rank

const initLoRA = (targets: ReadonlyArray<Target>, s: AdapterSettings, roleA: "trainable" | "frozen"): InitTensor[] =>
  targets.flatMap((t) => [
    { name: `${t.prefix}.lora_A`, role: roleA, value: uniform([t.dIn, s.rank], 1 / Math.sqrt(t.dIn), tensorSeed(s.seed, `${t.prefix}.lora_A`)) },
    { name: `${t.prefix}.lora_B`, role: "trainable", value: tf.zeros([s.rank, t.dOut]) },
  ])

/** Dropout on the adapter's input only (the base path sees x unchanged), seeded per step and target. */
export const adapterInput = (v: LayerView, x: tf.Tensor2D, s: AdapterSettings, mode: RunMode): tf.Tensor2D => {
  const { layer, proj } = v.target
  if (!mode.training || s.dropout === 0) return x
  return tf.dropout(x, s.dropout, undefined, mode.dropoutSeed * 97 + layer * 7 + PROJ_NAMES.indexOf(proj)) as tf.Tensor2D
}

/** The scaling s of ΔW = s·A·B from the settings: α/r for LoRA, α/√r for rsLoRA. */
export type Scaling = (s: AdapterSettings) => number

const forwardLoRA = (scaling: Scaling) => (v: LayerView, x: tf.Tensor2D, s: AdapterSettings, mode: RunMode): tf.Tensor2D => {
  const xin = adapterInput(v, x, s, mode)
  // s scales the (N, r) product, not the (N, d_out) one: r/d_out of the elementwise work, both
  // ways (the (N, d_out) scale and its gradient were ~5 % of a step). With s a power of two (the
  // default α/r = 2) the result is bit for bit the same: scaling by 2ᵏ commutes with rounding.
  const down = tf.mul(matmul(xin, v.get("lora_A") as tf.Tensor2D), scaling(s)) // s·(N, r)
  return matmul(down as tf.Tensor2D, v.get("lora_B") as tf.Tensor2D) // (N, d_out)
}

const deltaLoRA = (scaling: Scaling) => (v: LayerView, s: AdapterSettings): tf.Tensor2D =>
  tf.tidy(() => tf.mul(matmul(v.get("lora_A") as tf.Tensor2D, v.get("lora_B") as tf.Tensor2D), scaling(s))) // (d_in, d_out)

/**
 * The LoRA parametrization with A trainable or frozen, scaled by `scaling` (α/r unless given);
 * methods spread it and add a training rule.
 */
export const loraFamily = (roleA: "trainable" | "frozen", scaling: Scaling = loraScaling) => ({
  counts: (targets: ReadonlyArray<{ dIn: number; dOut: number }>, s: AdapterSettings) => ({
    trainable: targets.reduce((n, t) => n + s.rank * (t.dOut + (roleA === "trainable" ? t.dIn : 0)), 0),
    frozenAdapter: targets.reduce((n, t) => n + (roleA === "frozen" ? s.rank * t.dIn : 0), 0),
  }),
  init: (targets: ReadonlyArray<Target>, s: AdapterSettings) => initLoRA(targets, s, roleA),
  forward: forwardLoRA(scaling),
  delta: deltaLoRA(scaling),
})

export const lora: Method = {
  ...loraSpec,
  ...loraFamily("trainable"),
}
