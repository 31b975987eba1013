/**
 * GPT-2 config.json ⇄ peftlab's GPTConfig, and the plan-time check of a transformers folder.
 * Reads nothing but JSON (no tfjs, no safetensors): `peftlab status` runs it for load-model.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { isLlama, type GPTConfig, type ModelConfig } from "../model/arch/config.ts"
import { configFromLlama, LLAMA_MODEL_TYPES } from "./llama-config.ts"
import { HfUnsupported } from "./unsupported.ts"

export { HfUnsupported } from "./unsupported.ts"

const GPT_CONFIG_KEYS: ReadonlyArray<keyof GPTConfig> = ["arch", "vocabSize", "blockSize", "nLayer", "nHead", "nEmbd", "mlpRatio", "tieWeights", "layerNormEps"]


/** config.json of a transformers GPT2LMHeadModel equivalent to `cfg`. */
export const gpt2ConfigJson = (cfg: GPTConfig): Record<string, unknown> => {
  const unknown = Object.keys(cfg).filter((k) => !(GPT_CONFIG_KEYS as ReadonlyArray<string>).includes(k))
  if (unknown.length > 0)
    throw new HfUnsupported(unknown[0] ?? "", `peftlab config field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} ha${unknown.length > 1 ? "ve" : "s"} no GPT-2 equivalent (translated: ${GPT_CONFIG_KEYS.join(", ")})`)
  if (!Number.isInteger(cfg.mlpRatio * cfg.nEmbd)) throw new HfUnsupported("mlpRatio", `mlpRatio ${cfg.mlpRatio} × nEmbd ${cfg.nEmbd} is not an integer n_inner`)
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: cfg.vocabSize,
    n_positions: cfg.blockSize,
    n_embd: cfg.nEmbd,
    n_layer: cfg.nLayer,
    n_head: cfg.nHead,
    n_inner: cfg.mlpRatio * cfg.nEmbd,
    activation_function: "gelu_new",
    layer_norm_epsilon: cfg.layerNormEps,
    tie_word_embeddings: cfg.tieWeights,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    summary_first_dropout: 0,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    add_cross_attention: false,
    use_cache: true,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
    dtype: "float32",
  }
}

/** The config.json fields of a GPT-2-family checkpoint that peftlab reads, and the values it accepts. */
const TANH_GELUS = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"]

/** Fields that change nothing in inference with float32 weights, or that only training / generation reads. */
const IGNORED_FIELDS = new Set([
  "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "resid_pdrop", "embd_pdrop", "attn_pdrop",
  "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels", "summary_first_dropout",
  "use_cache", "bos_token_id", "eos_token_id", "pad_token_id", "initializer_range", "task_specific_params",
  "reorder_and_upcast_attn", "n_ctx", "_name_or_path", "output_attentions", "output_hidden_states", "return_dict",
  "id2label", "label2id", "problem_type", "tokenizer_class", "prefix", "decoder_start_token_id", "sep_token_id",
  "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "tf_legacy_loss", "use_bfloat16", "finetuning_task",
  "cross_attention_hidden_size", "pruned_heads", "torchscript", "max_length", "min_length", "do_sample", "early_stopping",
  "num_beams", "temperature", "top_k", "top_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
  "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
  "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
  "begin_suppress_tokens", "diversity_penalty", "num_beam_groups", "typical_p", "encoder_no_repeat_ngram_size",
  "tie_encoder_decoder", "add_prefix_space", "gradient_checkpointing", "num_labels", "quantization_config_none",
])

const SUPPORTED_ARCHITECTURES = ["GPT2LMHeadModel"]

const posInt = (cfg: Record<string, unknown>, key: string, fallback?: number): number => {
  const v = cfg[key] ?? fallback
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new HfUnsupported(key, `config.json: ${key} must be a positive integer, got ${JSON.stringify(cfg[key])}`)
  return v
}

/**
 * A transformers config.json → peftlab's GPTConfig, or `HfUnsupported` naming the first field
 * peftlab cannot reproduce and what it supports. Pure: callable at plan time.
 */
export const configFromGpt2 = (raw: unknown): GPTConfig => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new HfUnsupported("config.json", "config.json is not a JSON object")
  const cfg = raw as Record<string, unknown>
  if (cfg.model_type !== "gpt2") throw new HfUnsupported("model_type", `config.json: model_type ${JSON.stringify(cfg.model_type)} is not supported (supported: "gpt2" — GPT-2 and models saved as GPT2LMHeadModel, e.g. distilgpt2 — and the Llama family: ${LLAMA_MODEL_TYPES.map((t) => JSON.stringify(t)).join(", ")})`)
  const arch = cfg.architectures
  if (arch !== undefined && arch !== null && !(Array.isArray(arch) && arch.length === 1 && SUPPORTED_ARCHITECTURES.includes(String(arch[0]))))
    throw new HfUnsupported("architectures", `config.json: architectures ${JSON.stringify(arch)} is not supported (supported: ${JSON.stringify(SUPPORTED_ARCHITECTURES)})`)
  const act = cfg.activation_function ?? "gelu_new"
  if (typeof act !== "string" || !TANH_GELUS.includes(act))
    throw new HfUnsupported("activation_function", `config.json: activation_function ${JSON.stringify(act)} is not supported (peftlab's MLP uses the tanh GELU: ${TANH_GELUS.join(", ")})`)
  const flag = (key: string, want: boolean, why: string) => {
    const v = cfg[key]
    if (v !== undefined && v !== null && v !== want) throw new HfUnsupported(key, `config.json: ${key} ${JSON.stringify(v)} is not supported (peftlab needs ${want}: ${why})`)
  }
  flag("scale_attn_weights", true, "attention is scaled by 1/√head_dim")
  flag("scale_attn_by_inverse_layer_idx", false, "no per-layer attention scaling")
  flag("add_cross_attention", false, "a decoder-only model")
  for (const key of ["quantization_config", "rope_scaling", "sliding_window"]) if (cfg[key] !== undefined && cfg[key] !== null) throw new HfUnsupported(key, `config.json: ${key} is not supported (float weights, learned positions, full causal attention)`)
  const nEmbd = posInt(cfg, "n_embd")
  const nHead = posInt(cfg, "n_head")
  if (nEmbd % nHead !== 0) throw new HfUnsupported("n_head", `config.json: n_embd ${nEmbd} is not divisible by n_head ${nHead}`)
  const nInner = cfg.n_inner === null || cfg.n_inner === undefined ? 4 * nEmbd : posInt(cfg, "n_inner")
  if ((nInner / nEmbd) * nEmbd !== nInner)
    throw new HfUnsupported("n_inner", `config.json: n_inner ${nInner} is not supported with n_embd ${nEmbd} (peftlab keeps the MLP width as the ratio n_inner/n_embd, and ${nInner}/${nEmbd}·${nEmbd} is not exactly ${nInner} in float64)`)
  const eps = cfg.layer_norm_epsilon ?? 1e-5
  if (typeof eps !== "number" || !(eps > 0)) throw new HfUnsupported("layer_norm_epsilon", `config.json: layer_norm_epsilon must be a positive number, got ${JSON.stringify(eps)}`)
  const tie = cfg.tie_word_embeddings ?? true
  if (typeof tie !== "boolean") throw new HfUnsupported("tie_word_embeddings", `config.json: tie_word_embeddings must be true or false, got ${JSON.stringify(tie)}`)
  const known = new Set(["n_embd", "n_head", "n_layer", "n_positions", "n_inner", "vocab_size", "activation_function", "layer_norm_epsilon", "tie_word_embeddings", "scale_attn_weights", "scale_attn_by_inverse_layer_idx", "add_cross_attention", "quantization_config", "rope_scaling", "sliding_window"])
  for (const key of Object.keys(cfg))
    if (!known.has(key) && !IGNORED_FIELDS.has(key))
      throw new HfUnsupported(key, `config.json: field ${key} is not supported by peftlab's GPT-2 import (it reads ${[...known].join(", ")}, and ignores fields that do not change a float32 forward pass)`)
  return {
    vocabSize: posInt(cfg, "vocab_size"),
    blockSize: posInt(cfg, "n_positions"),
    nLayer: posInt(cfg, "n_layer"),
    nHead,
    nEmbd,
    mlpRatio: nInner / nEmbd,
    tieWeights: tie,
    layerNormEps: eps,
  }
}

/** Plan-time check of a transformers folder: the config maps, and a tokenizer and weights are there. Throws HfUnsupported. */
const withBlockSize = (cfg: ModelConfig, blockSize: number | undefined): ModelConfig => {
  if (!isLlama(cfg)) {
    if (blockSize !== undefined && blockSize !== cfg.blockSize)
      throw new HfUnsupported("block_size", `block_size ${blockSize} is not supported for a GPT-2 checkpoint: its learned positions fix it at n_positions = ${cfg.blockSize}`)
    return cfg
  }
  const want = blockSize ?? Math.min(DEFAULT_LLAMA_BLOCK, cfg.maxPositionEmbeddings)
  if (want > cfg.maxPositionEmbeddings) throw new HfUnsupported("block_size", `block_size ${want} exceeds the checkpoint's max_position_embeddings ${cfg.maxPositionEmbeddings}`)
  return { ...cfg, blockSize: want }
}

/** load-model's block_size when unset, for the Llama family (GPT-2's is its n_positions). */
export const DEFAULT_LLAMA_BLOCK = 512

/**
 * Plan-time check of a transformers folder: the config maps, and a tokenizer and weights are
 * there. `blockSize` (load-model's block_size) caps the sequences peftlab runs. Throws HfUnsupported.
 */
export const checkHfFolder = (dir: string, blockSize?: number): ModelConfig => {
  const cj = join(dir, "config.json")
  if (!existsSync(cj)) throw new HfUnsupported("config.json", `${dir}: no config.json`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(cj, "utf8"))
  } catch (e) {
    throw new HfUnsupported("config.json", `${cj}: not JSON (${(e as Error).message})`)
  }
  const modelType = (raw as { model_type?: unknown } | null)?.model_type
  const llama = typeof modelType === "string" && (LLAMA_MODEL_TYPES as ReadonlyArray<string>).includes(modelType)
  const parsed = llama ? configFromLlama(raw) : configFromGpt2(raw)
  const config = withBlockSize(parsed, blockSize)
  const hasTok = existsSync(join(dir, "tokenizer.json")) || (!llama && existsSync(join(dir, "vocab.json")) && existsSync(join(dir, "merges.txt")))
  if (!hasTok) throw new HfUnsupported("tokenizer", llama ? `${dir}: no tokenizer.json (a ${String(modelType)} checkpoint ships one)` : `${dir}: no tokenizer.json, and no vocab.json + merges.txt`)
  if (!existsSync(join(dir, "model.safetensors")) && !existsSync(join(dir, "model.safetensors.index.json")))
    throw new HfUnsupported("model.safetensors", `${dir}: no model.safetensors or model.safetensors.index.json (peftlab reads safetensors only)`)
  return config
}
