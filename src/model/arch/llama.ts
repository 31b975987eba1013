/**
 * The Llama family's block (Touvron et al. 2023, arXiv 2302.13971; Llama 3, Qwen2, Mistral and
 * SmolLM2 share it), as transformers' `modeling_llama.py` computes it:
 *
 *   x = x + o(attn(rope(q(n₁)), rope(k(n₁)), v(n₁)))   n₁ = RMSNorm₁(x)
 *   x = x + down(silu(gate(n₂)) ⊙ up(n₂))               n₂ = RMSNorm₂(x)
 *
 * - RMSNorm (Zhang & Sennrich 2019): w ⊙ x / √(mean(x²) + ε), no mean subtraction, no bias.
 * - Rotary positions on q and k (rope.ts), no position embedding table.
 * - Grouped-query attention (Ainslie et al. 2023, arXiv 2305.13245): nKvHead key/value heads,
 *   each shared by nHead/nKvHead consecutive query heads (transformers' `repeat_kv`); scores
 *   scaled by 1/√head_dim.
 * - SwiGLU MLP (Shazeer 2020, arXiv 2002.05202): silu(x) = x·σ(x).
 */
import * as tf from "@tensorflow/tfjs"
import type { LlamaConfig } from "./config.ts"
import { llamaKernelsAvailable, nativeGqaAttention, nativeRmsNorm, nativeRope, nativeSwiGlu } from "../kernels/native-llama.ts"
import { matmulPath } from "../kernels/ops.ts"
import { attend, linear, param, type ForwardContext } from "./layers.ts"
import { ropeTables } from "./rope.ts"

/** cos and sin (B or 1, T, 1, hd/2) for this forward's positions: built once, shared by every layer. */
export interface Rotary {
  readonly cos: tf.Tensor4D
  readonly sin: tf.Tensor4D
}

export const rotaryFor = (ctx: ForwardContext, cfg: LlamaConfig): Rotary => {
  const { B, T, layout } = ctx
  const half = cfg.headDim / 2
  if (layout === undefined) {
    const { cos, sin } = ropeTables(cfg, T)
    return { cos: tf.tensor4d(cos, [1, T, 1, half]), sin: tf.tensor4d(sin, [1, T, 1, half]) }
  }
  // Packed evaluation: each token's own position id (a completion continues its prompt's). The
  // table covers the largest id present (B·T ints read back: gather must never index past it).
  const ids = tf.reshape(layout.positions, [B * T]) as tf.Tensor1D
  const rows = Math.max(...(ids.dataSync() as Int32Array)) + 1
  if (rows > cfg.maxPositionEmbeddings) throw new Error(`position ${rows - 1} exceeds max_position_embeddings ${cfg.maxPositionEmbeddings}`)
  const { cos, sin } = ropeTables(cfg, rows)
  const at = (table: Float32Array) => tf.reshape(tf.gather(tf.tensor2d(table, [rows, half]), ids), [B, T, 1, half]) as tf.Tensor4D
  return { cos: at(cos), sin: at(sin) }
}

/**
 * Native runs RMSNorm, RoPE, SiLU·gate and grouped-query attention as fused kernels
 * (kernels/native-llama.ts: one pass each way instead of 4–12 tfjs kernels, and no repeat_kv
 * copies); cpu and wasm keep the tfjs ops below.
 */
const fused = (): boolean => matmulPath() === "blas" && llamaKernelsAvailable()

/** RMSNorm over the last axis of x (N, C), computed in float32 as transformers does. */
export const rmsNorm = (x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D =>
  fused() ? nativeRmsNorm(x, w, eps) : tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w) as tf.Tensor2D

/** rotate_half rotary embedding of x (N, heads·hd): [x₁ | x₂] → [x₁·cos − x₂·sin | x₂·cos + x₁·sin] per head. */
export const applyRotary = (ctx: ForwardContext, x: tf.Tensor2D, heads: number, hd: number, rot: Rotary): tf.Tensor2D => {
  const { B, T } = ctx
  if (fused()) return nativeRope(x, rot.cos, rot.sin, B, T, heads)
  const half = hd / 2
  const x4 = tf.reshape(x, [B, T, heads, hd])
  const x1 = tf.slice(x4, [0, 0, 0, 0], [B, T, heads, half])
  const x2 = tf.slice(x4, [0, 0, 0, half], [B, T, heads, half])
  const first = tf.sub(tf.mul(x1, rot.cos), tf.mul(x2, rot.sin))
  const second = tf.add(tf.mul(x2, rot.cos), tf.mul(x1, rot.sin))
  return tf.reshape(tf.concat([first, second], 3), [B * T, heads * hd]) as tf.Tensor2D
}

/** (N, nKv·hd) → (N, nHead·hd): kv head j serves query heads j·g … j·g + g − 1, g = nHead/nKv (`repeat_kv`). */
export const repeatKv = (x: tf.Tensor2D, nKv: number, groups: number, hd: number): tf.Tensor2D => {
  if (groups === 1) return x
  const N = x.shape[0]
  const x4 = tf.reshape(x, [N, nKv, 1, hd])
  return tf.reshape(tf.concat(new Array<tf.Tensor>(groups).fill(x4), 2), [N, nKv * groups * hd]) as tf.Tensor2D
}

export const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x))

const attention = (ctx: ForwardContext, cfg: LlamaConfig, x: tf.Tensor2D, layer: number, rot: Rotary): tf.Tensor2D => {
  const { nHead, nKvHead, headDim } = cfg
  const q = applyRotary(ctx, linear(ctx, x, layer, "q"), nHead, headDim, rot) // (N, nh·hd)
  const k = applyRotary(ctx, linear(ctx, x, layer, "k"), nKvHead, headDim, rot) // (N, nkv·hd)
  const v = linear(ctx, x, layer, "v") // (N, nkv·hd)
  const groups = nHead / nKvHead
  if (fused()) return linear(ctx, nativeGqaAttention(q, k, v, ctx.B, ctx.T, nHead, nKvHead, 1 / Math.sqrt(headDim), ctx.layout?.allowed), layer, "o")
  const y = attend(ctx, q, repeatKv(k, nKvHead, groups, headDim), repeatKv(v, nKvHead, groups, headDim), nHead, 1 / Math.sqrt(headDim)) // (N, nh·hd)
  return linear(ctx, y, layer, "o") // (N, C)
}

const mlp = (ctx: ForwardContext, x: tf.Tensor2D, layer: number): tf.Tensor2D => {
  const gate = linear(ctx, x, layer, "mlp_gate")
  const up = linear(ctx, x, layer, "mlp_up")
  return linear(ctx, fused() ? nativeSwiGlu(gate, up) : (tf.mul(silu(gate), up) as tf.Tensor2D), layer, "mlp_down")
}

export const llamaBlock = (ctx: ForwardContext, cfg: LlamaConfig, x: tf.Tensor2D, layer: number, rot: Rotary): tf.Tensor2D => {
  const w = (n: string) => param(ctx.model, `h.${layer}.${n}`) as tf.Tensor1D
  const a = tf.add(x, attention(ctx, cfg, rmsNorm(x, w("ln_1.gamma"), cfg.rmsNormEps), layer, rot)) as tf.Tensor2D
  return tf.add(a, mlp(ctx, rmsNorm(a, w("ln_2.gamma"), cfg.rmsNormEps), layer)) as tf.Tensor2D
}

export const llamaFinalNorm = (ctx: ForwardContext, cfg: LlamaConfig, x: tf.Tensor2D): tf.Tensor2D => rmsNorm(x, param(ctx.model, "ln_f.gamma") as tf.Tensor1D, cfg.rmsNormEps)
