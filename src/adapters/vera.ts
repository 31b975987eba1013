/**
 * VeRA (Kopiczko et al., ICLR 2024, arXiv 2310.11454): one pair of frozen random matrices
 * shared by every adapted layer, A_s ∈ R^{max_in×r} and B_s ∈ R^{r×max_out}; per layer two
 * trainable vectors d ∈ R^r, b ∈ R^{d_out}:
 *   y = x·W + ((x·A)·diag(d))·B·diag(b),   A = A_s[:d_in, :], B = B_s[:, :d_out].
 * No α/r scaling. Init: b = 0, d = vera_d_init (0.1, PEFT's d_initial); A_s, B_s
 * He-uniform, bound √(6/fan_in) with fan_in = max_in for A_s and r for B_s, from
 * vera_projection_seed, saved once with the adapter. Unset (−1), it is the adapter's seed, so a
 * cell's seed varies the projections as it varies LoRA's A (PEFT's projection_prng_key is a
 * fixed 0; pin it to reproduce that: then seeds vary data order and dropout only).
 * Trainable per layer d_out + r. Defaults: r = 256 (PEFT's), lr 1e-2 (the paper trains
 * VeRA's few parameters with a much larger rate than LoRA).
 */
import * as tf from "@tensorflow/tfjs"
import { matmul } from "../model/kernels/ops.ts"
import { uniform } from "./init.ts"
import { adapterInput } from "./lora.ts"
import type { AdapterSettings, InitTensor, LayerView, Method, Target } from "./method.ts"
import { veraSpec } from "./specs/vera.ts"

const maxDims = (targets: ReadonlyArray<{ dIn: number; dOut: number }>) => ({
  maxIn: Math.max(...targets.map((t) => t.dIn)),
  maxOut: Math.max(...targets.map((t) => t.dOut)),
})

/** Refuses a layer the shared pair cannot serve (PEFT raises the same when a later adapter is larger). */
export const checkSharedFits = (A: readonly number[], B: readonly number[], t: Pick<Target, "dIn" | "dOut" | "prefix">, rank: number): void => {
  const [aIn = 0, aR = 0] = A
  const [bR = 0, bOut = 0] = B
  if (aR !== rank || bR !== rank)
    throw new Error(`VeRA: shared projections have rank ${aR}, but this adapter asks for rank ${rank}; use a new projection for a different rank`)
  if (aIn < t.dIn || bOut < t.dOut)
    throw new Error(`VeRA: shared vera_A/vera_B are ${aIn}→${bOut} but ${t.prefix} needs ${t.dIn}→${t.dOut}; the first VeRA adapter fixes the largest dims`)
}

const initShared = (targets: ReadonlyArray<Target>, s: AdapterSettings): InitTensor[] => {
  const { maxIn, maxOut } = maxDims(targets)
  const seed = Number(s.options.vera_projection_seed)
  return [
    { name: "vera_A", role: "shared", value: uniform([maxIn, s.rank], Math.sqrt(6 / maxIn), seed * 2 + 1) },
    { name: "vera_B", role: "shared", value: uniform([s.rank, maxOut], Math.sqrt(6 / s.rank), seed * 2 + 2) },
  ]
}

/** (A (d_in, r), B (r, d_out)): the leading slices of the shared pair for this layer. */
const slices = (v: LayerView, s: AdapterSettings): [tf.Tensor2D, tf.Tensor2D] => {
  const As = v.get("vera_A")
  const Bs = v.get("vera_B")
  checkSharedFits(As.shape, Bs.shape, v.target, s.rank)
  return [tf.slice(As, [0, 0], [v.target.dIn, s.rank]) as tf.Tensor2D, tf.slice(Bs, [0, 0], [s.rank, v.target.dOut]) as tf.Tensor2D]
}

export const vera: Method = {
  ...veraSpec,
  normalize: (s) =>
    s.options.vera_projection_seed === -1 ? { ...s, options: { ...s.options, vera_projection_seed: s.seed } } : s,
  counts: (targets, s) => {
    const { maxIn, maxOut } = maxDims(targets)
    return { trainable: targets.reduce((n, t) => n + t.dOut + s.rank, 0), frozenAdapter: s.rank * (maxIn + maxOut) }
  },
  init: (targets, s) => [
    ...initShared(targets, s),
    ...targets.flatMap((t): InitTensor[] => [
      { name: `${t.prefix}.vera_lambda_d`, role: "trainable", value: tf.fill([s.rank], Number(s.options.vera_d_init)) },
      { name: `${t.prefix}.vera_lambda_b`, role: "trainable", value: tf.zeros([t.dOut]) },
    ]),
  ],
  forward: (v, x, s, mode) => {
    const [A, B] = slices(v, s)
    const xd = tf.mul(matmul(adapterInput(v, x, s, mode), A), v.get("vera_lambda_d")) // (N, r)·diag(d)
    return tf.mul(matmul(xd as tf.Tensor2D, B), v.get("vera_lambda_b")) // (N, d_out)·diag(b)
  },
  delta: (v, s) => tf.tidy(() => veraDelta(v, s)),
  // Without dropout, x·A·diag(d)·B·diag(b) = x·ΔW: the model then runs x·(W + ΔW), one
  // (N, d_in)·(d_in, d_out) product, instead of two r-wide ones and the (N, r) elementwise
  // work (at r = 256 on a 128-wide layer, twice the layer's own product). ΔW costs d_in·r·d_out,
  // independent of the batch. The oracle matrix holds the forms equal (merge = adapter forward).
  weightForward: (v, s, mode) => (mode.training && s.dropout > 0 ? null : veraDelta(v, s)),
}

/** ΔW = A·diag(d)·B·diag(b) (d_in, d_out); tensors left to the caller's scope. */
const veraDelta = (v: LayerView, s: AdapterSettings): tf.Tensor2D => {
  const [A, B] = slices(v, s)
  const Ad = tf.mul(A, v.get("vera_lambda_d")) as tf.Tensor2D // A·diag(d) (d_in, r)
  return tf.mul(matmul(Ad, B), v.get("vera_lambda_b")) as tf.Tensor2D // ·B·diag(b) (d_in, d_out)
}
