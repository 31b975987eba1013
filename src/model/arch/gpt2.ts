/**
 * GPT-2's block (Radford et al. 2019), read like nanoGPT's model.py: learned positions, pre-
 * LayerNorm, attention with biases on q, k, v, o, and a tanh-GELU MLP (up → GELU → down).
 */
import * as tf from "@tensorflow/tfjs"
import { gelu, layerNorm } from "../kernels/ops.ts"
import type { GPTConfig } from "./config.ts"
import { attend, linear, param, type ForwardContext } from "./layers.ts"

/** Token embeddings plus learned positions: ids (B·T) → x (N, C). */
export const embedGpt2 = (ctx: ForwardContext, cfg: GPTConfig, ids: tf.Tensor1D): tf.Tensor2D => {
  const { B, T, layout } = ctx
  const tok = tf.gather(param(ctx.model, "wte") as tf.Tensor2D, ids) // (N, C)
  if (layout !== undefined) return tf.add(tok, tf.gather(param(ctx.model, "wpe"), tf.reshape(layout.positions, [B * T]))) as tf.Tensor2D // (N, C)
  const pos = tf.slice(param(ctx.model, "wpe"), [0, 0], [T, cfg.nEmbd]) // (T, C)
  // Broadcast over the batch rather than tf.tile: wasm's Tile is slow (10 ms at B·T = 1024).
  return tf.reshape(tf.add(tf.reshape(tok, [B, T, cfg.nEmbd]), pos), [B * T, cfg.nEmbd]) as tf.Tensor2D
}

/** Causal self-attention on x (N, C) with N = B·T. */
const attention = (ctx: ForwardContext, cfg: GPTConfig, x: tf.Tensor2D, layer: number): tf.Tensor2D => {
  const hs = cfg.nEmbd / cfg.nHead
  const y = attend(ctx, linear(ctx, x, layer, "q"), linear(ctx, x, layer, "k"), linear(ctx, x, layer, "v"), cfg.nHead, 1 / Math.sqrt(hs)) // (N, C)
  return linear(ctx, y, layer, "o")
}

const mlp = (ctx: ForwardContext, x: tf.Tensor2D, layer: number): tf.Tensor2D =>
  linear(ctx, gelu(linear(ctx, x, layer, "mlp_up")) as tf.Tensor2D, layer, "mlp_down")

/** Pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(x)). x is (N, C). */
export const gpt2Block = (ctx: ForwardContext, cfg: GPTConfig, x: tf.Tensor2D, layer: number): tf.Tensor2D => {
  const p = (n: string) => param(ctx.model, `h.${layer}.${n}`) as tf.Tensor1D
  const eps = cfg.layerNormEps
  const a = tf.add(x, attention(ctx, cfg, layerNorm(x, p("ln_1.gamma"), p("ln_1.beta"), eps) as tf.Tensor2D, layer)) as tf.Tensor2D
  return tf.add(a, mlp(ctx, layerNorm(a, p("ln_2.gamma"), p("ln_2.beta"), eps) as tf.Tensor2D, layer)) as tf.Tensor2D
}

/** The final LayerNorm. */
export const gpt2FinalNorm = (ctx: ForwardContext, cfg: GPTConfig, x: tf.Tensor2D): tf.Tensor2D =>
  layerNorm(x, param(ctx.model, "ln_f.gamma") as tf.Tensor1D, param(ctx.model, "ln_f.beta") as tf.Tensor1D, cfg.layerNormEps) as tf.Tensor2D
