/**
 * A transformers config.json of the Llama family (LlamaForCausalLM, Qwen2ForCausalLM,
 * MistralForCausalLM; SmolLM2 is a Llama) → peftlab's LlamaConfig, and back. Pure JSON, no tfjs:
 * `peftlab status` runs it for load-model, so an unsupported field is exit 2 at plan time,
 * naming the field and what is supported.
 *
 * What each family fixes (transformers 5.17 modeling code):
 * - llama: `attention_bias` → biases on q, k, v AND o; `mlp_bias` → on gate, up, down.
 * - qwen2: q, k, v always have biases, o and the MLP never; sliding windows per layer
 *   (`use_sliding_window`, `layer_types`) — refused when on.
 * - mistral: no biases; `sliding_window` on every layer (null = full attention).
 * Rotary settings live in `rope_parameters` (transformers ≥ 5) or `rope_scaling` + `rope_theta`
 * (older files): both are read.
 */
import { configProblem, type LlamaConfig, type RopeScaling } from "../model/arch/config.ts"
import { HfUnsupported } from "./unsupported.ts"

export const LLAMA_MODEL_TYPES = ["llama", "qwen2", "mistral"] as const
export type LlamaFamily = (typeof LLAMA_MODEL_TYPES)[number]

const ARCHITECTURE: Readonly<Record<LlamaFamily, string>> = { llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", mistral: "MistralForCausalLM" }

/** Fields that change nothing in a float32 forward and backward pass (generation, ids, bookkeeping, precision of the stored file). */
const IGNORED = new Set([
  "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "use_cache", "bos_token_id", "eos_token_id", "pad_token_id",
  "initializer_range", "_name_or_path", "output_attentions", "output_hidden_states", "return_dict", "id2label", "label2id", "problem_type",
  "tokenizer_class", "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "tie_encoder_decoder", "use_bfloat16", "finetuning_task",
  "pretraining_tp", // tensor-parallel slicing of the same products: equal results, and transformers 5 ignores it
  "is_llama_config", // SmolLM2's marker
  "max_window_layers", // Qwen2: which layers would slide, read only when use_sliding_window is true (refused)
  "torchscript", "prefix", "sep_token_id", "decoder_start_token_id", "max_length", "min_length", "do_sample", "num_beams", "temperature",
  "top_k", "top_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
  "task_specific_params", "cross_attention_hidden_size", "add_cross_attention", "pruned_heads", "tf_legacy_loss",
])

const READ = new Set([
  "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
  "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings", "hidden_act", "rope_theta", "rope_scaling", "rope_parameters",
  "attention_bias", "mlp_bias", "attention_dropout", "sliding_window", "use_sliding_window", "layer_types", "partial_rotary_factor",
  "rope_interleaved", "use_mrope", "quantization_config",
])

const ROPE_TYPES = ["default", "linear", "llama3"]

const posInt = (cfg: Record<string, unknown>, key: string, fallback?: number): number => {
  const v = cfg[key] ?? fallback
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new HfUnsupported(key, `config.json: ${key} must be a positive integer, got ${JSON.stringify(cfg[key])}`)
  return v
}

const posNum = (obj: Record<string, unknown>, key: string, where: string, fallback?: number): number => {
  const v = obj[key] ?? fallback
  if (typeof v !== "number" || !(v > 0)) throw new HfUnsupported(key, `config.json: ${where}${key} must be a positive number, got ${JSON.stringify(obj[key])}`)
  return v
}

const bool = (cfg: Record<string, unknown>, key: string, fallback: boolean): boolean => {
  const v = cfg[key] ?? fallback
  if (typeof v !== "boolean") throw new HfUnsupported(key, `config.json: ${key} must be true or false, got ${JSON.stringify(v)}`)
  return v
}

/** θ and the scaling, from `rope_parameters` or (older files) `rope_scaling` + `rope_theta`. */
const ropeOf = (cfg: Record<string, unknown>): { theta: number; scaling: RopeScaling } => {
  const params = cfg.rope_parameters ?? cfg.rope_scaling
  const key = cfg.rope_parameters !== undefined && cfg.rope_parameters !== null ? "rope_parameters" : "rope_scaling"
  if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params))) throw new HfUnsupported(key, `config.json: ${key} must be an object or null`)
  const p = (params ?? {}) as Record<string, unknown>
  const theta = posNum(p.rope_theta !== undefined ? p : cfg, "rope_theta", "", 10000)
  const type = p.rope_type ?? p.type ?? "default"
  if (typeof type !== "string" || !ROPE_TYPES.includes(type))
    throw new HfUnsupported(`${key}.rope_type`, `config.json: ${key} type ${JSON.stringify(type)} is not supported (supported: ${ROPE_TYPES.join(", ")})`)
  const known = new Set(["rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings", "partial_rotary_factor"])
  const extra = Object.keys(p).filter((k) => !known.has(k))
  if (extra.length > 0) throw new HfUnsupported(`${key}.${extra[0]}`, `config.json: ${key}.${extra[0]} is not supported for rope type ${type}`)
  if (p.partial_rotary_factor !== undefined && p.partial_rotary_factor !== 1) throw new HfUnsupported(`${key}.partial_rotary_factor`, `config.json: partial rotary embeddings (${key}.partial_rotary_factor ${JSON.stringify(p.partial_rotary_factor)}) are not supported`)
  const where = `${key}.`
  if (type === "linear") return { theta, scaling: { type, factor: posNum(p, "factor", where) } }
  if (type === "llama3") {
    const scaling = {
      type,
      factor: posNum(p, "factor", where),
      lowFreqFactor: posNum(p, "low_freq_factor", where),
      highFreqFactor: posNum(p, "high_freq_factor", where),
      originalMaxPositionEmbeddings: posNum(p, "original_max_position_embeddings", where),
    } as const
    if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) throw new HfUnsupported(`${key}.high_freq_factor`, `config.json: ${key}.high_freq_factor must exceed low_freq_factor`)
    return { theta, scaling }
  }
  return { theta, scaling: { type: "default" } }
}

/**
 * config.json of a Llama-family checkpoint → LlamaConfig, or `HfUnsupported` naming the first
 * field peftlab cannot reproduce. Pure: callable at plan time.
 */
export const configFromLlama = (raw: unknown): LlamaConfig => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new HfUnsupported("config.json", "config.json is not a JSON object")
  const cfg = raw as Record<string, unknown>
  const family = cfg.model_type as LlamaFamily
  if (!LLAMA_MODEL_TYPES.includes(family)) throw new HfUnsupported("model_type", `config.json: model_type ${JSON.stringify(cfg.model_type)} is not of the Llama family (${LLAMA_MODEL_TYPES.join(", ")})`)
  const arch = cfg.architectures
  if (arch !== undefined && arch !== null && !(Array.isArray(arch) && arch.length === 1 && arch[0] === ARCHITECTURE[family]))
    throw new HfUnsupported("architectures", `config.json: architectures ${JSON.stringify(arch)} is not supported for model_type ${family} (supported: ["${ARCHITECTURE[family]}"])`)
  for (const key of Object.keys(cfg))
    if (!READ.has(key) && !IGNORED.has(key))
      throw new HfUnsupported(key, `config.json: field ${key} is not supported by peftlab's ${family} import (it reads ${[...READ].join(", ")}, and ignores fields that do not change a float32 forward or backward pass)`)
  if (cfg.quantization_config !== undefined && cfg.quantization_config !== null) throw new HfUnsupported("quantization_config", "config.json: quantized checkpoints are not supported (peftlab reads float weights: F32, BF16, F16)")
  const act = cfg.hidden_act ?? "silu"
  if (act !== "silu") throw new HfUnsupported("hidden_act", `config.json: hidden_act ${JSON.stringify(act)} is not supported (the SwiGLU MLP uses silu)`)
  if (cfg.attention_dropout !== undefined && cfg.attention_dropout !== 0)
    throw new HfUnsupported("attention_dropout", `config.json: attention_dropout ${JSON.stringify(cfg.attention_dropout)} is not supported (peftlab trains without attention dropout; transformers would drop attention weights while training)`)
  if (cfg.partial_rotary_factor !== undefined && cfg.partial_rotary_factor !== 1) throw new HfUnsupported("partial_rotary_factor", `config.json: partial rotary embeddings (partial_rotary_factor ${JSON.stringify(cfg.partial_rotary_factor)}) are not supported`)
  if (cfg.rope_interleaved === true) throw new HfUnsupported("rope_interleaved", "config.json: rope_interleaved true is not supported (transformers' Llama rotates halves, not interleaved pairs)")
  if (cfg.use_mrope === true) throw new HfUnsupported("use_mrope", "config.json: multimodal rotary embeddings (use_mrope true) are not supported")
  // Sliding-window attention: Mistral slides every layer when sliding_window is set; Qwen2 only under use_sliding_window.
  let slidingWindow: number | null = null
  if (family === "qwen2") {
    if (cfg.use_sliding_window === true) throw new HfUnsupported("use_sliding_window", "config.json: use_sliding_window true is not supported (Qwen2's per-layer sliding windows; peftlab attends over the whole sequence)")
    const types = cfg.layer_types
    if (Array.isArray(types) && types.some((t) => t !== "full_attention"))
      throw new HfUnsupported("layer_types", `config.json: layer_types ${JSON.stringify([...new Set(types)])} is not supported (only "full_attention")`)
  } else if (family === "mistral" && cfg.sliding_window !== undefined && cfg.sliding_window !== null) slidingWindow = posInt(cfg, "sliding_window")
  else if (family === "llama" && cfg.sliding_window !== undefined && cfg.sliding_window !== null) throw new HfUnsupported("sliding_window", "config.json: sliding_window is not a Llama field")
  if (family !== "llama") for (const key of ["attention_bias", "mlp_bias"]) if (cfg[key] === true) throw new HfUnsupported(key, `config.json: ${key} true is not a ${family} setting (${family} fixes its biases)`)
  const nEmbd = posInt(cfg, "hidden_size")
  const nHead = posInt(cfg, "num_attention_heads")
  const headDim = cfg.head_dim === null || cfg.head_dim === undefined ? nEmbd / nHead : posInt(cfg, "head_dim")
  if (!Number.isInteger(headDim)) throw new HfUnsupported("head_dim", `config.json: hidden_size ${nEmbd} is not divisible by num_attention_heads ${nHead}, and no head_dim is given`)
  const { theta, scaling } = ropeOf(cfg)
  const attentionBias = family === "llama" ? bool(cfg, "attention_bias", false) : family === "qwen2"
  const out: LlamaConfig = {
    arch: "llama",
    family,
    vocabSize: posInt(cfg, "vocab_size"),
    blockSize: posInt(cfg, "max_position_embeddings"),
    maxPositionEmbeddings: posInt(cfg, "max_position_embeddings"),
    nLayer: posInt(cfg, "num_hidden_layers"),
    nHead,
    nKvHead: posInt(cfg, "num_key_value_heads", nHead),
    headDim,
    nEmbd,
    intermediateSize: posInt(cfg, "intermediate_size"),
    tieWeights: bool(cfg, "tie_word_embeddings", false),
    rmsNormEps: posNum(cfg, "rms_norm_eps", "", 1e-6),
    ropeTheta: theta,
    ropeScaling: scaling,
    qkvBias: attentionBias,
    oBias: family === "llama" && attentionBias,
    mlpBias: family === "llama" && bool(cfg, "mlp_bias", false),
    slidingWindow,
  }
  const problem = configProblem(out)
  if (problem !== null) throw new HfUnsupported(problem.startsWith("head_dim") ? "head_dim" : "num_key_value_heads", `config.json: ${problem}`)
  return out
}

/** config.json of a transformers model equivalent to `cfg` (float32 weights), in the family it came from. */
export const llamaConfigJson = (cfg: LlamaConfig): Record<string, unknown> => {
  const family = cfg.family
  if (family === "qwen2" && (!cfg.qkvBias || cfg.oBias || cfg.mlpBias)) throw new HfUnsupported("qkvBias", "a Qwen2 model has biases on q, k, v only")
  if (family === "mistral" && (cfg.qkvBias || cfg.oBias || cfg.mlpBias)) throw new HfUnsupported("qkvBias", "a Mistral model has no biases")
  if (family === "llama" && cfg.qkvBias !== cfg.oBias) throw new HfUnsupported("oBias", "Llama's attention_bias puts biases on q, k, v and o together")
  const s = cfg.ropeScaling
  const rope: Record<string, unknown> =
    s.type === "default"
      ? { rope_type: "default", rope_theta: cfg.ropeTheta }
      : s.type === "linear"
        ? { rope_type: "linear", rope_theta: cfg.ropeTheta, factor: s.factor }
        : { rope_type: "llama3", rope_theta: cfg.ropeTheta, factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositionEmbeddings }
  return {
    architectures: [ARCHITECTURE[family]],
    model_type: family,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.nEmbd,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead,
    num_key_value_heads: cfg.nKvHead,
    head_dim: cfg.headDim,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    rms_norm_eps: cfg.rmsNormEps,
    rope_parameters: rope,
    hidden_act: "silu",
    tie_word_embeddings: cfg.tieWeights,
    attention_dropout: 0,
    ...(family === "llama" ? { attention_bias: cfg.qkvBias, mlp_bias: cfg.mlpBias } : {}),
    ...(family === "mistral" ? { sliding_window: cfg.slidingWindow } : {}),
    ...(family === "qwen2" ? { use_sliding_window: false, sliding_window: null } : {}),
    use_cache: true,
    dtype: "float32",
  }
}
