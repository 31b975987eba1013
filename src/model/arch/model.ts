/**
 * The model contract, read top to bottom like nanoGPT's model.py: parameters → forward →
 * loss, for either architecture (config.ts: GPT-2 or the Llama family; gpt2.ts and llama.ts
 * hold their blocks). Every caller — pretraining, adapters, evaluation, merge — goes through
 * here and never asks which architecture it runs.
 */
import * as tf from "@tensorflow/tfjs"
import { nativeCrossEntropy } from "../kernels/native-ops.ts"
import { invalidateTransposed, matmul, matmulFastPath, matmulPath, matmulTransposed, weightedSoftmaxCrossEntropy } from "../kernels/ops.ts"
import { configProblem, isLlama, parameterSpecs, type GPTConfig, type LlamaConfig, type ModelConfig } from "./config.ts"
import { embedGpt2, gpt2Block, gpt2FinalNorm } from "./gpt2.ts"
import { param, type ForwardContext, type GPT, type Layout, type ProjectionHook } from "./layers.ts"
import { llamaBlock, llamaFinalNorm, rotaryFor } from "./llama.ts"

export * from "./config.ts"
export { param, type GPT, type Layout, type ProjectionDelta, type ProjectionHook } from "./layers.ts"

/** The default of `build-model` (a GPT-2 block; the pipeline overrides every field it sets). */
export const defaultConfig: GPTConfig = {
  vocabSize: 512,
  blockSize: 64,
  nLayer: 2,
  nHead: 4,
  nEmbd: 64,
  mlpRatio: 4,
  tieWeights: true,
  layerNormEps: 1e-5,
}

/**
 * A fresh model; the k-th normal-initialized parameter (k = 1, 2, …) draws from tfjs seed
 * seed·1000 + k. Never seed 0: tfjs reads a falsy seed as "unseeded" (Math.random), which
 * made `wte` of seed 0 differ run to run.
 * Variables get tfjs's unique auto names (two models may live in one process); `params`
 * carries the meaningful names.
 */
export const initGPT = (cfg: ModelConfig, seed: number): GPT => {
  const problem = configProblem(cfg)
  if (problem !== null) throw new Error(problem)
  const params = new Map<string, tf.Variable>()
  let s = seed * 1000 + 1
  for (const { name, shape, init } of parameterSpecs(cfg)) {
    const value = init.kind === "normal" ? tf.randomNormal([...shape], 0, init.std, "float32", s++) : tf.fill([...shape], init.value)
    params.set(name, tf.variable(value, true))
    value.dispose()
  }
  return { config: cfg, params }
}

export const disposeGPT = (model: GPT): void =>
  model.params.forEach((v) => {
    invalidateTransposed(v)
    v.dispose()
  })

// ---------------------------------------------------------------------------------------------
// Forward

/**
 * Mistral's sliding window (Beltagy et al. 2020, Longformer; Jiang et al. 2023, arXiv 2310.06825):
 * query t sees keys s with t − W < s ≤ t. Only sequences longer than W differ from full causal
 * attention, so only they get the explicit mask (as a layout with plain positions). A packed
 * layout longer than W is refused: its rows are trees, not one sequence.
 */
const slidingLayout = (cfg: LlamaConfig, B: number, T: number): Layout | undefined => {
  const W = cfg.slidingWindow
  if (W === null || T <= W) return undefined
  const positions = tf.tile(tf.range(0, T, 1, "int32").reshape([1, T]), [B, 1]) as tf.Tensor2D
  const causal = tf.linalg.bandPart(tf.ones([T, T]), W - 1, 0) // keys t − W + 1 … t
  return { positions, allowed: tf.tile(tf.reshape(causal, [1, T, T]), [B, 1, 1]) as tf.Tensor3D }
}

/**
 * Token ids (B, T) int32 → the final hidden states (B·T, C), after the final norm. Call inside
 * tf.tidy or dispose the result. `layout` replaces the causal 0..T−1 layout (evaluation's packing).
 */
export const hiddenStates = (model: GPT, idx: tf.Tensor2D, hook?: ProjectionHook, layout?: Layout): tf.Tensor2D => {
  const [B, T] = idx.shape
  const cfg = model.config
  if (layout === undefined && T > cfg.blockSize) throw new Error(`sequence length ${T} exceeds blockSize ${cfg.blockSize}`)
  const ids = tf.reshape(idx, [B * T]) as tf.Tensor1D
  if (isLlama(cfg)) {
    if (layout !== undefined && cfg.slidingWindow !== null && T > cfg.slidingWindow) throw new Error(`packed rows of ${T} tokens exceed the sliding window ${cfg.slidingWindow}: evaluate with shorter rows`)
    const ctx: ForwardContext = { model, hook, B, T, layout: layout ?? slidingLayout(cfg, B, T) }
    const rot = rotaryFor(ctx, cfg)
    let x = tf.gather(param(model, "wte") as tf.Tensor2D, ids) as tf.Tensor2D // (N, C)
    for (let l = 0; l < cfg.nLayer; l++) x = llamaBlock(ctx, cfg, x, l, rot)
    return llamaFinalNorm(ctx, cfg, x)
  }
  const ctx: ForwardContext = { model, hook, B, T, layout }
  let x = embedGpt2(ctx, cfg, ids)
  for (let l = 0; l < cfg.nLayer; l++) x = gpt2Block(ctx, cfg, x, l)
  return gpt2FinalNorm(ctx, cfg, x)
}

/** Final hidden states (N, C) → logits (N, V) through the output head (wteᵀ when tied). */
export const outputLogits = (model: GPT, h: tf.Tensor2D): tf.Tensor2D => {
  if (model.config.tieWeights) return matmulTransposed(h, param(model, "wte") as tf.Tensor2D) // (N, C)·(V, C)ᵀ
  return matmul(h, param(model, "lm_head.kernel") as tf.Tensor2D) // (N, C)·(C, V)
}

/** Token ids (B, T) int32 → logits (B, T, V). Call inside tf.tidy or dispose the result. */
export const forward = (model: GPT, idx: tf.Tensor2D, hook?: ProjectionHook): tf.Tensor3D => {
  const [B, T] = idx.shape
  return tf.reshape(outputLogits(model, hiddenStates(model, idx, hook)), [B, T, model.config.vocabSize]) as tf.Tensor3D
}

/**
 * Mean cross-entropy over positions where mask = 1 (completion tokens when fine-tuning,
 * every position when pretraining). logits (B, T, V), targets (B, T) int32, mask (B, T).
 */
export const maskedCrossEntropy = (logits: tf.Tensor3D, targets: tf.Tensor2D, mask?: tf.Tensor2D): tf.Scalar =>
  tf.tidy(() => {
    const [B, T, V] = logits.shape
    const flat = tf.reshape(logits, [B * T, V]) as tf.Tensor2D // (N, V)
    // Per-position weights summing to 1 over the counted positions: 1/N, or mask/Σmask.
    const m = mask === undefined ? null : tf.reshape(tf.cast(mask, "float32"), [B * T])
    const weights = (m === null ? tf.fill([B * T], 1 / (B * T)) : tf.div(m, tf.maximum(tf.sum(m), 1))) as tf.Tensor1D
    const ids = tf.reshape(targets, [B * T]) as tf.Tensor1D // (N,)
    if (matmulPath() === "blas") return nativeCrossEntropy(flat, (ids.dtype === "int32" ? ids : tf.cast(ids, "int32")) as tf.Tensor1D, weights)
    const onehot = tf.oneHot(ids, V) as tf.Tensor2D // (N, V)
    if (matmulFastPath()) return weightedSoftmaxCrossEntropy(flat, onehot, weights)
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(flat), onehot), -1)) // (N,)
    return tf.sum(tf.mul(nll, weights)) as tf.Scalar
  })
