/**
 * Byte-level BPE (GPT-2's scheme) as stored in a Hugging Face `tokenizer.json`:
 * text → pre-tokens (GPT-2's regex) → UTF-8 bytes, each shown as a printable character
 * (`bytes_to_unicode`) → merges applied by rank. Every byte is in the vocabulary, so any
 * string round-trips: decode(encode(s)) === s for well-formed Unicode.
 *
 * This reads files written by `bpe-train.ts` and the BPE subset of what `tokenizers` writes
 * (no normalizer, ByteLevel pre-tokenizer and decoder, no added tokens in the text);
 * `loadTokenizer` sends every other tokenizer.json to Hugging Face's library (hf-tokenizer.ts).
 */
import { readFileSync } from "node:fs"
import { loadHfTokenizer, type HfTokenizer } from "./hf-tokenizer.ts"

/**
 * Oniguruma's `\s` (what `tokenizers` compiles GPT-2's pattern with) is Unicode White_Space:
 * U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000. JavaScript's `\s` differs: it lacks U+0085 (NEL) and adds U+FEFF (BOM). So the class is
 * spelled out, and `\S` is its complement.
 */
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"

/** GPT-2's pre-tokenizer regex, as the `tokenizers` ByteLevel pre-tokenizer uses it (with Oniguruma's `\s`). */
export const PRETOKENIZE = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`, "gu")

/**
 * GPT-2's byte → character map: printable bytes map to themselves, the others to U+0100…
 * so that every token is a printable string (and a space becomes "Ġ").
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
  const out: string[] = []
  let n = 0
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + n++))
  return out
})()

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]))

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8")

/** A pre-token as its byte-level string, e.g. " the" → "Ġthe". */
export const byteLevel = (word: string): string => {
  let s = ""
  for (const b of utf8.encode(word)) s += BYTE_TO_CHAR[b]
  return s
}

/** Splits text into GPT-2 pre-tokens (the pieces BPE never merges across). */
export const preTokenize = (text: string): string[] => text.match(PRETOKENIZE) ?? []

/** The Hugging Face tokenizer.json fields we write and read. */
export interface TokenizerJson {
  readonly version: "1.0"
  readonly truncation: null
  readonly padding: null
  readonly added_tokens: readonly unknown[]
  readonly normalizer: null
  readonly pre_tokenizer: { readonly type: "ByteLevel"; readonly add_prefix_space: boolean; readonly trim_offsets: boolean; readonly use_regex: boolean }
  readonly post_processor: null
  readonly decoder: { readonly type: "ByteLevel"; readonly add_prefix_space: boolean; readonly trim_offsets: boolean; readonly use_regex: boolean }
  readonly model: {
    readonly type: "BPE"
    readonly dropout: null
    readonly unk_token: null
    readonly continuing_subword_prefix: null
    readonly end_of_word_suffix: null
    readonly fuse_unk: false
    readonly byte_fallback: false
    readonly ignore_merges: false
    readonly vocab: Readonly<Record<string, number>>
    readonly merges: ReadonlyArray<string | readonly [string, string]>
  }
}

export class Tokenizer {
  readonly vocabSize: number
  private readonly vocab: ReadonlyMap<string, number>
  private readonly idToToken: readonly string[]
  /** "a b" → rank (lower merges first). */
  private readonly ranks: ReadonlyMap<string, number>
  private readonly cache = new Map<string, readonly number[]>()

  constructor(json: TokenizerJson) {
    if (json.model?.type !== "BPE") throw new Error(`tokenizer model type ${String(json.model?.type)} is not BPE`)
    if (json.pre_tokenizer?.type !== "ByteLevel") throw new Error("tokenizer is not byte-level")
    this.vocab = new Map(Object.entries(json.model.vocab))
    const ids: string[] = []
    for (const [tok, id] of this.vocab) ids[id] = tok
    this.idToToken = ids
    this.vocabSize = ids.length
    this.ranks = new Map(json.model.merges.map((m, i) => [typeof m === "string" ? m : `${m[0]} ${m[1]}`, i]))
    for (const c of BYTE_TO_CHAR) if (!this.vocab.has(c)) throw new Error(`byte-level vocabulary lacks the byte token ${c}`)
  }

  encode(text: string): number[] {
    const out: number[] = []
    for (const word of preTokenize(text)) for (const id of this.encodeWord(word)) out.push(id)
    return out
  }

  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length * 8)
    let n = 0
    for (let i = 0; i < ids.length; i++) {
      const tok = this.idToToken[ids[i] ?? -1]
      if (tok === undefined) throw new Error(`token id ${ids[i]} is outside the vocabulary (size ${this.vocabSize})`)
      for (const ch of tok) {
        if (n === bytes.length) return this.decodeSlow(ids)
        bytes[n++] = CHAR_TO_BYTE.get(ch) ?? 0
      }
    }
    return utf8Decoder.decode(bytes.subarray(0, n))
  }

  private decodeSlow(ids: ArrayLike<number>): string {
    const parts: number[] = []
    for (let i = 0; i < ids.length; i++) for (const ch of this.idToToken[ids[i] ?? -1] ?? "") parts.push(CHAR_TO_BYTE.get(ch) ?? 0)
    return utf8Decoder.decode(Uint8Array.from(parts))
  }

  /** One pre-token → ids: repeatedly merge the adjacent pair of lowest rank (GPT-2's `bpe`). */
  private encodeWord(word: string): readonly number[] {
    const hit = this.cache.get(word)
    if (hit !== undefined) return hit
    const parts = [...byteLevel(word)]
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`)
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r]
      }
      if (best < 0) break
      parts.splice(best, 2, `${parts[best]}${parts[best + 1]}`)
    }
    const ids = parts.map((p) => this.vocab.get(p) ?? -1)
    if (this.cache.size < 200_000) this.cache.set(word, ids)
    return ids
  }
}

/**
 * Is this exactly what `bpe-train.ts` writes: a plain byte-level BPE with GPT-2's regex, the
 * whole byte alphabet, and nothing around it (no normalizer, added tokens, post-processor,
 * truncation or padding)? Only then does the class above give the ids by itself.
 */
export const isPlainByteLevelBpe = (json: unknown): json is TokenizerJson => {
  const j = json as Partial<Record<keyof TokenizerJson, unknown>> & { model?: Partial<Record<string, unknown>>; pre_tokenizer?: Partial<Record<string, unknown>>; decoder?: Partial<Record<string, unknown>> }
  const m = j.model
  const empty = (v: unknown) => v === null || v === undefined
  const noAffix = (v: unknown) => empty(v) || v === ""
  return (
    empty(j.normalizer) && empty(j.post_processor) && empty(j.truncation) && empty(j.padding) &&
    (j.added_tokens === undefined || (Array.isArray(j.added_tokens) && j.added_tokens.length === 0)) &&
    j.pre_tokenizer?.type === "ByteLevel" && j.pre_tokenizer.add_prefix_space === false && j.pre_tokenizer.use_regex !== false &&
    j.decoder?.type === "ByteLevel" &&
    m?.type === "BPE" && empty(m.dropout) && empty(m.unk_token) && noAffix(m.continuing_subword_prefix) && noAffix(m.end_of_word_suffix) &&
    m.byte_fallback !== true && m.ignore_merges !== true &&
    typeof m.vocab === "object" && m.vocab !== null && BYTE_TO_CHAR.every((c) => Object.hasOwn(m.vocab as object, c))
  )
}

/**
 * A tokenizer.json as an Encoder. peftlab's own tokenizers (the `tokenize` stage's) keep the
 * class above; every other file — Llama 3, Qwen2, Mistral, SmolLM2, GPT-2 with its added
 * <|endoftext|> — goes to Hugging Face's library (hf-tokenizer.ts), which is the reference.
 *
 * Why not route everything through the library: in Node it only encodes asynchronously, so it
 * runs behind a worker-thread bridge (a thread per tokenizer and a blocking round trip per
 * call), while the class above is synchronous, in-process and already held equal to
 * `tokenizers` (tests/hf/conformance.test.ts, tests/model/data/tokenizer.test.ts). For the
 * tokenizers peftlab trains, the two give the same ids, so the library would change nothing
 * but the cost, and the default pipeline would load a native addon (5 MB on Linux x64) it does not need.
 */
export const loadTokenizer = (path: string): Tokenizer | HfTokenizer => {
  const json: unknown = JSON.parse(readFileSync(path, "utf8"))
  return isPlainByteLevelBpe(json) ? new Tokenizer(json) : loadHfTokenizer(path)
}
