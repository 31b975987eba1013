/**
 * A decoder-only transformer in plain tfjs ops, read top to bottom like nanoGPT's model.py:
 * config → parameters → attention → MLP → block → model → loss.
 *
 * Layout: a dense kernel is W ∈ R^{d_in×d_out} and y = x·W + b (tfjs convention; PyTorch
 * stores the transpose). Projections are separate (q, k, v, o, mlp_up, mlp_down) so PEFT
 * methods can target each by name (docs/METHODS.md: the papers adapt q and v).
 */
import * as tf from "@tensorflow/tfjs"
import { nativeAttention, nativeCrossEntropy } from "../kernels/native-ops.ts"
import { batchMatmul, batchMatmulTransposed, dense, gelu, invalidateTransposed, layerNorm, matmul, matmulFastPath, matmulPath, matmulTransposed, weightedSoftmaxCrossEntropy } from "../kernels/ops.ts"

export interface GPTConfig {
  readonly vocabSize: number // tokenizer vocabulary size
  readonly blockSize: number // maximum context length T
  readonly nLayer: number // transformer blocks
  readonly nHead: number // attention heads; nEmbd must divide by it
  readonly nEmbd: number // residual stream width C
  readonly mlpRatio: number // MLP hidden width = mlpRatio·C (4 in GPT-2)
  readonly tieWeights: boolean // output head = wteᵀ (GPT-2 does; saves V·C params)
  readonly layerNormEps: number // 1e-5 as in PyTorch's LayerNorm
}

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

export const PROJ_NAMES = ["q", "k", "v", "o", "mlp_up", "mlp_down"] as const
export type ProjName = (typeof PROJ_NAMES)[number]

/** [d_in, d_out] of a projection's kernel. */
export const projDims = (cfg: GPTConfig, proj: ProjName): readonly [number, number] => {
  const hidden = cfg.mlpRatio * cfg.nEmbd
  if (proj === "mlp_up") return [cfg.nEmbd, hidden]
  if (proj === "mlp_down") return [hidden, cfg.nEmbd]
  return [cfg.nEmbd, cfg.nEmbd]
}

const projPrefix = (layer: number, proj: ProjName): string =>
  proj === "mlp_up" ? `h.${layer}.mlp.up` : proj === "mlp_down" ? `h.${layer}.mlp.down` : `h.${layer}.attn.${proj}`

/** Parameter names: the keys of `GPT.params` and of the safetensors file. */
export const kernelName = (layer: number, proj: ProjName): string => `${projPrefix(layer, proj)}.kernel`
export const biasName = (layer: number, proj: ProjName): string => `${projPrefix(layer, proj)}.bias`

export interface GPT {
  readonly config: GPTConfig
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

// ---------------------------------------------------------------------------------------------
// Parameters

/** How a parameter starts: N(0, std²) or a constant. */
export type ParamInit = { readonly kind: "normal"; readonly std: number } | { readonly kind: "constant"; readonly value: number }

export interface ParamSpec {
  readonly name: string
  readonly shape: readonly number[]
  readonly init: ParamInit
}

/**
 * Every parameter in a fixed order (the order of `GPT.params`, of init's seeds, of loading).
 * GPT-2 init (nanoGPT `_init_weights`): N(0, 0.02) for kernels and embeddings, zero biases,
 * and residual projections (o, mlp_down) scaled by 1/√(2·nLayer) so the residual stream's
 * variance does not grow with depth (GPT-2 paper, §2.3).
 */
export const parameterSpecs = (cfg: GPTConfig): ParamSpec[] => {
  const specs: ParamSpec[] = []
  const normal = (name: string, shape: number[], std: number) => specs.push({ name, shape, init: { kind: "normal", std } })
  const constant = (name: string, shape: number[], value: number) => specs.push({ name, shape, init: { kind: "constant", value } })
  const residualStd = 0.02 / Math.sqrt(2 * cfg.nLayer)
  normal("wte", [cfg.vocabSize, cfg.nEmbd], 0.02)
  normal("wpe", [cfg.blockSize, cfg.nEmbd], 0.02)
  for (let l = 0; l < cfg.nLayer; l++) {
    constant(`h.${l}.ln_1.gamma`, [cfg.nEmbd], 1)
    constant(`h.${l}.ln_1.beta`, [cfg.nEmbd], 0)
    for (const p of PROJ_NAMES) {
      if (p === "mlp_up") {
        constant(`h.${l}.ln_2.gamma`, [cfg.nEmbd], 1)
        constant(`h.${l}.ln_2.beta`, [cfg.nEmbd], 0)
      }
      const [dIn, dOut] = projDims(cfg, p)
      normal(kernelName(l, p), [dIn, dOut], p === "o" || p === "mlp_down" ? residualStd : 0.02)
      constant(biasName(l, p), [dOut], 0)
    }
  }
  constant("ln_f.gamma", [cfg.nEmbd], 1)
  constant("ln_f.beta", [cfg.nEmbd], 0)
  if (!cfg.tieWeights) normal("lm_head.kernel", [cfg.nEmbd, cfg.vocabSize], 0.02)
  return specs
}

/**
 * A fresh model; the k-th normal-initialized parameter (k = 1, 2, …) draws from tfjs seed
 * seed·1000 + k. Never seed 0: tfjs reads a falsy seed as "unseeded" (Math.random), which
 * made `wte` of seed 0 differ run to run.
 * Variables get tfjs's unique auto names (two models may live in one process); `params`
 * carries the meaningful names.
 */
export const initGPT = (cfg: GPTConfig, seed: number): GPT => {
  if (cfg.nEmbd % cfg.nHead !== 0) throw new Error(`nEmbd ${cfg.nEmbd} is not divisible by nHead ${cfg.nHead}`)
  const params = new Map<string, tf.Variable>()
  let s = seed * 1000 + 1
  for (const { name, shape, init } of parameterSpecs(cfg)) {
    const value = init.kind === "normal" ? tf.randomNormal([...shape], 0, init.std, "float32", s++) : tf.fill([...shape], init.value)
    params.set(name, tf.variable(value, true))
    value.dispose()
  }
  return { config: cfg, params }
}

export const param = (model: GPT, name: string): tf.Variable => {
  const v = model.params.get(name)
  if (v === undefined) throw new Error(`model has no parameter ${name}`)
  return v
}

export const disposeGPT = (model: GPT): void =>
  model.params.forEach((v) => {
    invalidateTransposed(v)
    v.dispose()
  })

// ---------------------------------------------------------------------------------------------
// Forward

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

interface ForwardContext {
  readonly model: GPT
  readonly hook: ProjectionHook | undefined
  readonly B: number
  readonly T: number
  readonly layout: Layout | undefined
}

/** x (N, d_in) → (N, d_out): the frozen-or-trained base projection plus any adapter delta. */
const linear = (ctx: ForwardContext, x: tf.Tensor2D, layer: number, proj: ProjName): tf.Tensor2D => {
  const W = param(ctx.model, kernelName(layer, proj)) as tf.Tensor2D
  const b = param(ctx.model, biasName(layer, proj)) as tf.Tensor1D
  const delta = ctx.hook?.(x, layer, proj) ?? null
  if (delta !== null && !(delta instanceof tf.Tensor)) return dense(x, tf.add(W, delta.weight) as tf.Tensor2D, b) // x·(W + ΔW) + b
  const base = dense(x, W, b)
  return (delta === null ? base : tf.add(base, delta)) as tf.Tensor2D
}

/**
 * softmax over keys of scaled scores (B·nh, T, T), each query t seeing keys ≤ t. Additive −1e9
 * rather than −∞ keeps the softmax gradient finite on every backend. A layout brings its own
 * mask per sequence. (Native fuses the causal case with the products: native-ops.ts.)
 */
const maskedSoftmax = (ctx: ForwardContext, scores: tf.Tensor3D): tf.Tensor3D => {
  const { B, T } = ctx
  const nHead = ctx.model.config.nHead
  const masked =
    ctx.layout === undefined
      ? tf.add(scores, tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)) // + (T, T)
      : tf.reshape(tf.add(tf.reshape(scores, [B, nHead, T, T]), tf.reshape(tf.mul(tf.sub(1, ctx.layout.allowed), -1e9), [B, 1, T, T])), [B * nHead, T, T])
  return tf.softmax(masked, -1) as tf.Tensor3D
}

/** Causal self-attention on x (N, C) with N = B·T. */
const attention = (ctx: ForwardContext, x: tf.Tensor2D, layer: number): tf.Tensor2D => {
  const { B, T } = ctx
  const { nHead, nEmbd } = ctx.model.config
  const hs = nEmbd / nHead
  if (matmulPath() === "blas") {
    // Native: heads are column blocks of q, k, v (B·T, C); no transposes (native-ops.ts). A
    // packed layout's mask narrows the causal one (every packed key precedes its query).
    const y = nativeAttention(linear(ctx, x, layer, "q"), linear(ctx, x, layer, "k"), linear(ctx, x, layer, "v"), B, T, nHead, 1 / Math.sqrt(hs), ctx.layout?.allowed) // (B·T, C)
    return linear(ctx, y, layer, "o")
  }
  const heads = (t: tf.Tensor2D) => // (N, C) → (B·nh, T, hs)
    tf.reshape(tf.transpose(tf.reshape(t, [B, T, nHead, hs]), [0, 2, 1, 3]), [B * nHead, T, hs]) as tf.Tensor3D
  const q = heads(linear(ctx, x, layer, "q"))
  const k = heads(linear(ctx, x, layer, "k"))
  const v = heads(linear(ctx, x, layer, "v"))
  const scores = tf.mul(batchMatmulTransposed(q, k), 1 / Math.sqrt(hs)) as tf.Tensor3D // (B·nh, T, hs)·(B·nh, T, hs)ᵀ → (B·nh, T, T)
  const att = maskedSoftmax(ctx, scores)
  const y = batchMatmul(att, v) // (B·nh, T, hs)
  const merged = tf.reshape(tf.transpose(tf.reshape(y, [B, nHead, T, hs]), [0, 2, 1, 3]), [B * T, nEmbd]) as tf.Tensor2D
  return linear(ctx, merged, layer, "o")
}

const mlp = (ctx: ForwardContext, x: tf.Tensor2D, layer: number): tf.Tensor2D =>
  linear(ctx, gelu(linear(ctx, x, layer, "mlp_up")) as tf.Tensor2D, layer, "mlp_down")

/** Pre-LayerNorm block: x + attn(ln_1(x)), then + mlp(ln_2(x)). x is (N, C). */
const block = (ctx: ForwardContext, x: tf.Tensor2D, layer: number): tf.Tensor2D => {
  const p = (n: string) => param(ctx.model, `h.${layer}.${n}`) as tf.Tensor1D
  const eps = ctx.model.config.layerNormEps
  const a = tf.add(x, attention(ctx, layerNorm(x, p("ln_1.gamma"), p("ln_1.beta"), eps) as tf.Tensor2D, layer)) as tf.Tensor2D
  return tf.add(a, mlp(ctx, layerNorm(a, p("ln_2.gamma"), p("ln_2.beta"), eps) as tf.Tensor2D, layer)) as tf.Tensor2D
}

/**
 * Token ids (B, T) int32 → the final hidden states (B·T, C), after ln_f. Call inside tf.tidy
 * or dispose the result. `layout` replaces the causal 0..T−1 layout (evaluation's packing).
 */
export const hiddenStates = (model: GPT, idx: tf.Tensor2D, hook?: ProjectionHook, layout?: Layout): tf.Tensor2D => {
  const [B, T] = idx.shape
  const cfg = model.config
  if (layout === undefined && T > cfg.blockSize) throw new Error(`sequence length ${T} exceeds blockSize ${cfg.blockSize}`)
  const ctx: ForwardContext = { model, hook, B, T, layout }
  const wte = param(model, "wte") as tf.Tensor2D
  const tok = tf.gather(wte, tf.reshape(idx, [B * T])) // (N, C)
  let x: tf.Tensor2D
  if (layout === undefined) {
    const pos = tf.slice(param(model, "wpe"), [0, 0], [T, cfg.nEmbd]) // (T, C)
    // Broadcast over the batch rather than tf.tile: wasm's Tile is slow (10 ms at B·T = 1024).
    x = tf.reshape(tf.add(tf.reshape(tok, [B, T, cfg.nEmbd]), pos), [B * T, cfg.nEmbd]) as tf.Tensor2D
  } else x = tf.add(tok, tf.gather(param(model, "wpe"), tf.reshape(layout.positions, [B * T]))) as tf.Tensor2D // (N, C)
  for (let l = 0; l < cfg.nLayer; l++) x = block(ctx, x, l)
  return layerNorm(x, param(model, "ln_f.gamma") as tf.Tensor1D, param(model, "ln_f.beta") as tf.Tensor1D, cfg.layerNormEps) as tf.Tensor2D
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
