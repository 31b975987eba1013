/**
 * What every architecture's forward pass is made of: the model handle, the adapter hook on each
 * projection, and attention's core (scores, mask, softmax, values) over already-projected heads.
 * gpt2.ts and llama.ts assemble blocks from these; model.ts picks the architecture.
 */
import * as tf from "@tensorflow/tfjs"
import { nativeAttention } from "../kernels/native-ops.ts"
import { batchMatmul, batchMatmulTransposed, dense, matmul, matmulPath } from "../kernels/ops.ts"
import { biasName, kernelName, type ModelConfig, type ProjName } from "./config.ts"

export interface GPT {
  readonly config: ModelConfig
  /** Every parameter by name, in a fixed order (insertion order = init order). */
  readonly params: ReadonlyMap<string, tf.Variable>
}

/**
 * An adapter's contribution to one projection, for x (N, d_in) with N = B·T: an output term
 * ΔY (N, d_out), y = x·W + b + ΔY; or a weight term ΔW (d_in, d_out) folded into the kernel
 * before the product, y = x·(W + ΔW) + b — the same function and gradients in exact
 * arithmetic, but one product of the layer's own size instead of the adapter's (VeRA's r = 256
 * on a 128-wide layer: its two products per projection cost more than W's).
 */
export type ProjectionDelta = tf.Tensor2D | { readonly weight: tf.Tensor2D }

/** The adapter's delta for (layer, proj), or null to leave the projection alone. */
export type ProjectionHook = (x: tf.Tensor2D, layer: number, proj: ProjName) => ProjectionDelta | null

/**
 * Where each token sits and what it may see, when that is not the plain causal layout.
 * Evaluation packs several candidate completions after one prompt (a tree of sequences): each
 * completion continues the prompt's positions and attends to the prompt and to itself only,
 * so every branch scores exactly as if it were its own sequence.
 */
export interface Layout {
  readonly positions: tf.Tensor2D // (B, T) int32 position ids, each < blockSize
  readonly allowed: tf.Tensor3D // (B, T, T) float32: 1 where query t may attend to key s
}

export interface ForwardContext {
  readonly model: GPT
  readonly hook: ProjectionHook | undefined
  readonly B: number
  readonly T: number
  readonly layout: Layout | undefined
}

export const param = (model: GPT, name: string): tf.Variable => {
  const v = model.params.get(name)
  if (v === undefined) throw new Error(`model has no parameter ${name}`)
  return v
}

/** x (N, d_in) → (N, d_out): the frozen-or-trained base projection (bias where it has one) plus any adapter delta. */
export const linear = (ctx: ForwardContext, x: tf.Tensor2D, layer: number, proj: ProjName): tf.Tensor2D => {
  const W = param(ctx.model, kernelName(layer, proj)) as tf.Tensor2D
  const b = ctx.model.params.get(biasName(layer, proj)) as tf.Tensor1D | undefined
  const delta = ctx.hook?.(x, layer, proj) ?? null
  const product = (w: tf.Tensor2D) => (b === undefined ? matmul(x, w) : dense(x, w, b))
  if (delta !== null && !(delta instanceof tf.Tensor)) return product(tf.add(W, delta.weight) as tf.Tensor2D) // x·(W + ΔW) + b
  const base = product(W)
  return (delta === null ? base : tf.add(base, delta)) as tf.Tensor2D
}

/**
 * softmax over keys of scaled scores (B·nh, T, T), each query t seeing keys ≤ t. Additive −1e9
 * rather than −∞ keeps the softmax gradient finite on every backend. A layout brings its own
 * mask per sequence. (Native fuses the causal case with the products: native-ops.ts.)
 */
const maskedSoftmax = (ctx: ForwardContext, scores: tf.Tensor3D, nHead: number): tf.Tensor3D => {
  const { B, T } = ctx
  const masked =
    ctx.layout === undefined
      ? tf.add(scores, tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)) // + (T, T)
      : tf.reshape(tf.add(tf.reshape(scores, [B, nHead, T, T]), tf.reshape(tf.mul(tf.sub(1, ctx.layout.allowed), -1e9), [B, 1, T, T])), [B * nHead, T, T])
  return tf.softmax(masked, -1) as tf.Tensor3D
}

/**
 * Causal attention over projected q, k, v (N, nHead·hs) → (N, nHead·hs), heads merged (column
 * blocks), softmax(scale·q_h·k_hᵀ + mask)·v_h per head h. k and v carry as many heads as q
 * (grouped-query attention repeats them first: llama.ts).
 */
export const attend = (ctx: ForwardContext, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, nHead: number, scale: number): tf.Tensor2D => {
  const { B, T } = ctx
  const width = q.shape[1]
  const hs = width / nHead
  // Native: heads are column blocks of q, k, v (B·T, C); no transposes (native-ops.ts). A
  // packed layout's mask narrows the causal one (every packed key precedes its query).
  if (matmulPath() === "blas") return nativeAttention(q, k, v, B, T, nHead, scale, ctx.layout?.allowed)
  const heads = (t: tf.Tensor2D) => // (N, nh·hs) → (B·nh, T, hs)
    tf.reshape(tf.transpose(tf.reshape(t, [B, T, nHead, hs]), [0, 2, 1, 3]), [B * nHead, T, hs]) as tf.Tensor3D
  const scores = tf.mul(batchMatmulTransposed(heads(q), heads(k)), scale) as tf.Tensor3D // (B·nh, T, hs)·(B·nh, T, hs)ᵀ → (B·nh, T, T)
  const att = maskedSoftmax(ctx, scores, nHead)
  const y = batchMatmul(att, heads(v)) // (B·nh, T, hs)
  return tf.reshape(tf.transpose(tf.reshape(y, [B, nHead, T, hs]), [0, 2, 1, 3]), [B * T, width]) as tf.Tensor2D
}
