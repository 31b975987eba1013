/**
 * Whole folders: a peftlab model artifact (model.safetensors + config.json + tokenizer.json) ⇄ a
 * transformers folder (config.json, model.safetensors with `format: pt`, tokenizer.json,
 * tokenizer_config.json) of GPT-2 or the Llama family. Tensor and config mapping: gpt2.ts and
 * config.ts; llama.ts and llama-config.ts.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { isLlama, type ModelConfig } from "../model/arch/config.ts"
import { readSafetensors, writeSafetensors } from "../model/safetensors.ts"
import type { TokenizerJson } from "../model/data/tokenizer.ts"
import { Tokenizer } from "../model/data/tokenizer.ts"
import { checkHfFolder, gpt2ConfigJson, HfUnsupported } from "./config.ts"
import { fromGpt2Tensors, readGpt2Checkpoint, toGpt2Tensors, type Tensors } from "./gpt2.ts"
import { fromLlamaTensors, readLlamaCheckpoint, toLlamaTensors } from "./llama.ts"
import { llamaConfigJson } from "./llama-config.ts"

/** Reads a peftlab model artifact's config and float parameters. */
export const readPeftlabModel = (dir: string): { config: ModelConfig; params: Map<string, { shape: readonly number[]; data: Float32Array }> } => {
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as ModelConfig
  const { tensors } = readSafetensors(join(dir, "model.safetensors"))
  const params = new Map<string, { shape: readonly number[]; data: Float32Array }>()
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${dir}/model.safetensors: ${name} is not F32`)
    params.set(name, { shape: t.shape, data: t.data })
  }
  return { config, params }
}

/** tokenizer_config.json for `AutoTokenizer`: the fast tokenizer of tokenizer.json, no special tokens (peftlab's BPE has none). */
export const tokenizerConfigJson = (maxLength: number): Record<string, unknown> => ({
  tokenizer_class: "PreTrainedTokenizerFast",
  model_max_length: maxLength,
  add_prefix_space: false,
  clean_up_tokenization_spaces: false,
  added_tokens_decoder: {},
})

/**
 * Writes a transformers GPT-2 folder for peftlab parameters: config.json, model.safetensors,
 * tokenizer.json (copied) and tokenizer_config.json. `replace` swaps in kernels (Delta-LoRA's W).
 */
export const writeHfModel = (outDir: string, config: ModelConfig, params: Tensors, tokenizerJson: string, replace?: Tensors): void => {
  const merged = new Map(params)
  for (const [name, t] of replace ?? new Map()) {
    const old = merged.get(name)
    if (old === undefined || old.shape.join(",") !== t.shape.join(",")) throw new Error(`updated base tensor ${name} does not match the model`)
    merged.set(name, t)
  }
  writeFileSync(join(outDir, "config.json"), JSON.stringify(isLlama(config) ? llamaConfigJson(config) : gpt2ConfigJson(config), null, 2) + "\n")
  writeSafetensors(join(outDir, "model.safetensors"), isLlama(config) ? toLlamaTensors(config, merged) : toGpt2Tensors(config, merged), { format: "pt" })
  copyFileSync(tokenizerJson, join(outDir, "tokenizer.json"))
  // A checkpoint's own tokenizer_config.json (its BOS/EOS and chat template) travels with it.
  const shipped = join(dirname(tokenizerJson), "tokenizer_config.json")
  if (isLlama(config) && existsSync(shipped)) copyFileSync(shipped, join(outDir, "tokenizer_config.json"))
  else writeFileSync(join(outDir, "tokenizer_config.json"), JSON.stringify(tokenizerConfigJson(config.blockSize), null, 2) + "\n")
}

/** A peftlab model artifact folder → a transformers GPT-2 folder. */
export const exportModelFolder = (artifactDir: string, outDir: string, replace?: Tensors): ModelConfig => {
  const { config, params } = readPeftlabModel(artifactDir)
  writeHfModel(outDir, config, params, join(artifactDir, "tokenizer.json"), replace)
  return config
}

// ---------------------------------------------------------------------------------------------
// Import

const bytesToUnicodeOk = (json: TokenizerJson, where: string): void => {
  if (json.normalizer !== null && json.normalizer !== undefined) throw new HfUnsupported("normalizer", `${where}: normalizer ${JSON.stringify((json.normalizer as { type?: string }).type)} is not supported (peftlab's byte-level BPE has none)`)
  if (json.pre_tokenizer?.add_prefix_space === true) throw new HfUnsupported("add_prefix_space", `${where}: pre_tokenizer.add_prefix_space true is not supported (GPT-2's is false)`)
  if (json.pre_tokenizer?.use_regex === false) throw new HfUnsupported("use_regex", `${where}: pre_tokenizer.use_regex false is not supported (GPT-2 splits with its regex)`)
}

/** The folder's tokenizer as tokenizer.json: tokenizer.json itself, or built from vocab.json + merges.txt. */
export const tokenizerJsonOf = (dir: string): TokenizerJson => {
  const tj = join(dir, "tokenizer.json")
  if (existsSync(tj)) {
    const json = JSON.parse(readFileSync(tj, "utf8")) as TokenizerJson
    if (json.model?.type !== "BPE") throw new HfUnsupported("model.type", `${tj}: tokenizer model ${JSON.stringify(json.model?.type)} is not supported (byte-level BPE only)`)
    if (json.pre_tokenizer?.type !== "ByteLevel") throw new HfUnsupported("pre_tokenizer", `${tj}: pre_tokenizer ${JSON.stringify((json.pre_tokenizer as { type?: string } | null)?.type)} is not supported (ByteLevel only)`)
    bytesToUnicodeOk(json, tj)
    return json
  }
  const vj = join(dir, "vocab.json")
  const mt = join(dir, "merges.txt")
  if (!existsSync(vj) || !existsSync(mt)) throw new HfUnsupported("tokenizer", `${dir}: no tokenizer.json, and no vocab.json + merges.txt`)
  const vocab = JSON.parse(readFileSync(vj, "utf8")) as Record<string, number>
  const merges = readFileSync(mt, "utf8")
    .split("\n")
    .map((line, i) => [line.replace(/\r$/, ""), i + 1] as const)
    .filter(([line, n]) => line.length > 0 && !(n === 1 && line.startsWith("#version")))
    .map(([line, n]) => {
      const parts = line.split(" ")
      if (parts.length !== 2) throw new HfUnsupported("merges.txt", `${mt}:${n}: expected "left right", got ${JSON.stringify(line)}`)
      return line
    })
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } as const
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  }
}

/**
 * The number of ids a Hugging Face tokenizer.json can produce: its model's vocabulary and its
 * added tokens (BPE and WordPiece vocabularies are token → id maps, Unigram's a list). Plain
 * JSON: the import checks it against config.json's vocab_size without loading the tokenizer.
 */
export const tokenizerIdCount = (json: { model?: { vocab?: unknown }; added_tokens?: ReadonlyArray<{ id?: unknown }> }): number => {
  const vocab = json.model?.vocab
  const ids = Array.isArray(vocab) ? [vocab.length - 1] : typeof vocab === "object" && vocab !== null ? Object.values(vocab as Record<string, number>) : []
  for (const t of json.added_tokens ?? []) if (typeof t.id === "number") ids.push(t.id)
  return ids.reduce((a, b) => Math.max(a, b), -1) + 1
}

/**
 * A transformers folder (GPT-2 or the Llama family) → a peftlab model artifact in `outDir`
 * (model.safetensors in peftlab's names and float32, config.json, tokenizer.json — GPT-2's in
 * peftlab's byte-level form, a Llama-family checkpoint's copied as shipped, with its
 * tokenizer_config.json). Returns the config and the parameter count.
 */
export const importHfFolder = (dir: string, outDir: string, blockSize?: number): { config: ModelConfig; params: number; tokenizerVocab: number } => {
  const config = checkHfFolder(dir, blockSize)
  let params: Map<string, { shape: number[]; data: Float32Array }>
  let tokenizerVocab: number
  if (isLlama(config)) {
    params = fromLlamaTensors(config, readLlamaCheckpoint(dir))
    const tj = join(dir, "tokenizer.json")
    tokenizerVocab = tokenizerIdCount(JSON.parse(readFileSync(tj, "utf8")) as Parameters<typeof tokenizerIdCount>[0])
    copyFileSync(tj, join(outDir, "tokenizer.json"))
    if (existsSync(join(dir, "tokenizer_config.json"))) copyFileSync(join(dir, "tokenizer_config.json"), join(outDir, "tokenizer_config.json"))
  } else {
    params = fromGpt2Tensors(config, readGpt2Checkpoint(dir))
    const tok = tokenizerJsonOf(dir)
    tokenizerVocab = new Tokenizer(tok).vocabSize // checks the byte alphabet is in the vocabulary
    writeFileSync(join(outDir, "tokenizer.json"), JSON.stringify(tok) + "\n")
  }
  if (tokenizerVocab > config.vocabSize)
    throw new HfUnsupported("vocab_size", `${dir}: the tokenizer has ${tokenizerVocab} ids but config.json's vocab_size is ${config.vocabSize}`)
  writeSafetensors(join(outDir, "model.safetensors"), [...params].map(([name, t]) => ({ name, dtype: "F32" as const, shape: t.shape, data: t.data })), { format: "peftlab-gpt" })
  writeFileSync(join(outDir, "config.json"), JSON.stringify(config, null, 2) + "\n")
  return { config, params: [...params.values()].reduce((n, t) => n + t.data.length, 0), tokenizerVocab }
}
