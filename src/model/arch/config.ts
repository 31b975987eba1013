/**
 * The architectures peftlab runs, as data: each one's config, its parameters (names, shapes,
 * init) and the projections an adapter may target. No tfjs here — `peftlab status` reads this
 * at plan time (memory estimates, checkpoint checks).
 *
 * Two families, one parameter naming (so an adapter never knows which it is on):
 * - `gpt2`: GPT-2's block — LayerNorm with bias, learned positions (wpe), biases everywhere,
 *   a GELU MLP (up, down). Configs written before the Llama family have no `arch` field.
 * - `llama`: Llama / Qwen2 / Mistral / SmolLM2 — RMSNorm, rotary positions (rope.ts), grouped-
 *   query attention with its own head_dim, a SwiGLU MLP (gate, up, down), optional biases.
 *
 * Layout: a dense kernel is W ∈ R^{d_in×d_out} and y = x·W + b (tfjs convention; PyTorch's
 * nn.Linear stores the transpose, GPT-2's Conv1D the same as ours).
 */

export interface GPTConfig {
  readonly arch?: "gpt2" // absent in configs written before the Llama family
  readonly vocabSize: number // tokenizer vocabulary size
  readonly blockSize: number // maximum context length T (learned positions: the rows of wpe)
  readonly nLayer: number // transformer blocks
  readonly nHead: number // attention heads; nEmbd must divide by it
  readonly nEmbd: number // residual stream width C
  readonly mlpRatio: number // MLP hidden width = mlpRatio·C (4 in GPT-2)
  readonly tieWeights: boolean // output head = wteᵀ (GPT-2 does; saves V·C params)
  readonly layerNormEps: number // 1e-5 as in PyTorch's LayerNorm
}

/**
 * How rotary frequencies are rescaled for long contexts (transformers' `rope_scaling` /
 * `rope_parameters`): none, position interpolation (Chen et al. 2023, arXiv 2306.15595:
 * every frequency ÷ factor), or Llama 3.1's band-wise rule (low frequencies ÷ factor, high
 * ones kept, a smooth ramp between).
 */
export type RopeScaling =
  | { readonly type: "default" }
  | { readonly type: "linear"; readonly factor: number }
  | {
      readonly type: "llama3"
      readonly factor: number
      readonly lowFreqFactor: number
      readonly highFreqFactor: number
      readonly originalMaxPositionEmbeddings: number
    }

export interface LlamaConfig {
  readonly arch: "llama"
  readonly family: "llama" | "qwen2" | "mistral" // the transformers model_type it maps to (each fixes its biases differently)
  readonly vocabSize: number // embedding rows V
  readonly blockSize: number // the longest sequence peftlab runs on it (load-model's block_size ≤ maxPositionEmbeddings): train, eval and merge truncate to it
  readonly maxPositionEmbeddings: number // what the checkpoint was made for (max_position_embeddings), written back on export
  readonly nLayer: number // decoder layers
  readonly nHead: number // query heads
  readonly nKvHead: number // key/value heads (GQA: nHead % nKvHead = 0; each serves nHead/nKvHead query heads)
  readonly headDim: number // per head; need not be nEmbd/nHead (Qwen2 configs may set it)
  readonly nEmbd: number // residual stream width C (hidden_size)
  readonly intermediateSize: number // SwiGLU hidden width I
  readonly tieWeights: boolean // output head = wteᵀ (SmolLM2, small Qwen2)
  readonly rmsNormEps: number // 1e-5 (Llama 3, SmolLM2), 1e-6 (Qwen2, Mistral)
  readonly ropeTheta: number // base θ of the rotary frequencies θ^(−2i/d)
  readonly ropeScaling: RopeScaling
  readonly qkvBias: boolean // biases on q, k, v (Qwen2 always; Llama's attention_bias)
  readonly oBias: boolean // bias on o (Llama's attention_bias; Qwen2 never)
  readonly mlpBias: boolean // biases on gate, up, down (Llama's mlp_bias)
  readonly slidingWindow: number | null // Mistral: each query sees the last W keys only (null: all earlier keys)
}

export type ModelConfig = GPTConfig | LlamaConfig

export const isLlama = (cfg: ModelConfig): cfg is LlamaConfig => cfg.arch === "llama"

/**
 * Every projection an adapter can target, in a fixed order (dropout seeds and adapter tensor
 * order follow it, so new ones go at the end). GPT-2 has all but `mlp_gate`; Llama all seven.
 */
export const PROJ_NAMES = ["q", "k", "v", "o", "mlp_up", "mlp_down", "mlp_gate"] as const
export type ProjName = (typeof PROJ_NAMES)[number]

/** The projections of an architecture, in PROJ_NAMES order. */
export const projectionsOf = (cfg: ModelConfig): ReadonlyArray<ProjName> => (isLlama(cfg) ? PROJ_NAMES : PROJ_NAMES.filter((p) => p !== "mlp_gate"))

/** The name transformers (and PEFT's target_modules) give each projection in the Llama family. */
export const HF_PROJ_NAMES: Readonly<Record<ProjName, string>> = { q: "q_proj", k: "k_proj", v: "v_proj", o: "o_proj", mlp_gate: "gate_proj", mlp_up: "up_proj", mlp_down: "down_proj" }

/** A projection by either name a pipeline may use: peftlab's (`q`, `mlp_gate`) or transformers' (`q_proj`, `gate_proj`). */
export const projByName = (name: string): ProjName | undefined =>
  (PROJ_NAMES as ReadonlyArray<string>).includes(name) ? (name as ProjName) : PROJ_NAMES.find((p) => HF_PROJ_NAMES[p] === name)

/** [d_in, d_out] of a projection's kernel. */
export const projDims = (cfg: ModelConfig, proj: ProjName): readonly [number, number] => {
  if (isLlama(cfg)) {
    const C = cfg.nEmbd
    const qOut = cfg.nHead * cfg.headDim
    const kvOut = cfg.nKvHead * cfg.headDim
    if (proj === "q") return [C, qOut]
    if (proj === "k" || proj === "v") return [C, kvOut]
    if (proj === "o") return [qOut, C]
    if (proj === "mlp_down") return [cfg.intermediateSize, C]
    return [C, cfg.intermediateSize] // gate, up
  }
  if (proj === "mlp_gate") throw new Error("a GPT-2 block has no gate projection (mlp_gate / gate_proj): its MLP is up → GELU → down")
  const hidden = cfg.mlpRatio * cfg.nEmbd
  if (proj === "mlp_up") return [cfg.nEmbd, hidden]
  if (proj === "mlp_down") return [hidden, cfg.nEmbd]
  return [cfg.nEmbd, cfg.nEmbd]
}

const projPrefix = (layer: number, proj: ProjName): string =>
  proj === "mlp_up" ? `h.${layer}.mlp.up` : proj === "mlp_down" ? `h.${layer}.mlp.down` : proj === "mlp_gate" ? `h.${layer}.mlp.gate` : `h.${layer}.attn.${proj}`

/** Parameter names: the keys of `GPT.params` and of the safetensors file. */
export const kernelName = (layer: number, proj: ProjName): string => `${projPrefix(layer, proj)}.kernel`
export const biasName = (layer: number, proj: ProjName): string => `${projPrefix(layer, proj)}.bias`

/** Whether a projection carries a bias (GPT-2: all; Llama: as its config says). */
export const hasBias = (cfg: ModelConfig, proj: ProjName): boolean => {
  if (!isLlama(cfg)) return true
  if (proj === "q" || proj === "k" || proj === "v") return cfg.qkvBias
  if (proj === "o") return cfg.oBias
  return cfg.mlpBias
}

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
 * variance does not grow with depth (GPT-2 paper, §2.3). Llama: transformers' `_init_weights`,
 * N(0, initializer_range = 0.02) everywhere, norms at 1, biases 0.
 */
export const parameterSpecs = (cfg: ModelConfig): ParamSpec[] => {
  const specs: ParamSpec[] = []
  const normal = (name: string, shape: number[], std: number) => specs.push({ name, shape, init: { kind: "normal", std } })
  const constant = (name: string, shape: number[], value: number) => specs.push({ name, shape, init: { kind: "constant", value } })
  const C = cfg.nEmbd
  if (isLlama(cfg)) {
    normal("wte", [cfg.vocabSize, C], 0.02)
    for (let l = 0; l < cfg.nLayer; l++) {
      constant(`h.${l}.ln_1.gamma`, [C], 1)
      for (const p of ["q", "k", "v", "o", "mlp_gate", "mlp_up", "mlp_down"] as const) {
        if (p === "mlp_gate") constant(`h.${l}.ln_2.gamma`, [C], 1)
        const [dIn, dOut] = projDims(cfg, p)
        normal(kernelName(l, p), [dIn, dOut], 0.02)
        if (hasBias(cfg, p)) constant(biasName(l, p), [dOut], 0)
      }
    }
    constant("ln_f.gamma", [C], 1)
    if (!cfg.tieWeights) normal("lm_head.kernel", [C, cfg.vocabSize], 0.02)
    return specs
  }
  const residualStd = 0.02 / Math.sqrt(2 * cfg.nLayer)
  normal("wte", [cfg.vocabSize, C], 0.02)
  normal("wpe", [cfg.blockSize, C], 0.02)
  for (let l = 0; l < cfg.nLayer; l++) {
    constant(`h.${l}.ln_1.gamma`, [C], 1)
    constant(`h.${l}.ln_1.beta`, [C], 0)
    for (const p of ["q", "k", "v", "o", "mlp_up", "mlp_down"] as const) {
      if (p === "mlp_up") {
        constant(`h.${l}.ln_2.gamma`, [C], 1)
        constant(`h.${l}.ln_2.beta`, [C], 0)
      }
      const [dIn, dOut] = projDims(cfg, p)
      normal(kernelName(l, p), [dIn, dOut], p === "o" || p === "mlp_down" ? residualStd : 0.02)
      constant(biasName(l, p), [dOut], 0)
    }
  }
  constant("ln_f.gamma", [C], 1)
  constant("ln_f.beta", [C], 0)
  if (!cfg.tieWeights) normal("lm_head.kernel", [C, cfg.vocabSize], 0.02)
  return specs
}

/** The number of parameters a config implies (the tied head counted once). */
export const parameterCount = (cfg: ModelConfig): number => parameterSpecs(cfg).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)

/** A config's own consistency, as a message, or null (used by init and by the checkpoint import). */
export const configProblem = (cfg: ModelConfig): string | null => {
  if (!isLlama(cfg)) return cfg.nEmbd % cfg.nHead !== 0 ? `nEmbd ${cfg.nEmbd} is not divisible by nHead ${cfg.nHead}` : null
  if (cfg.nHead % cfg.nKvHead !== 0) return `num_attention_heads ${cfg.nHead} is not a multiple of num_key_value_heads ${cfg.nKvHead}`
  if (cfg.headDim % 2 !== 0) return `head_dim ${cfg.headDim} is odd: rotary embeddings rotate pairs of dimensions`
  return null
}
