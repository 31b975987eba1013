/**
 * Trains a byte-level BPE and returns it as a Hugging Face `tokenizer.json`.
 *
 * Why our own trainer: the npm `tokenizers` package (0.23.2) installs here with prebuilt
 * binaries, but its Node binding exposes no trainer options (`Trainer` is an empty class and
 * `Tokenizer.train(files)` takes no vocabulary size), weighs 64 MB, and only encodes
 * asynchronously. Training on the unique pre-tokens with their counts is fast in plain
 * TypeScript: SOTU has ~10 M characters but only tens of thousands of distinct words.
 *
 * The algorithm is the classic one (Sennrich et al. 2016, as in `tokenizers`' BpeTrainer):
 * start from the 256 byte symbols, repeatedly merge the most frequent adjacent pair
 * (ties: the pair whose token ids are smaller, for determinism), updating only the words
 * that contain it.
 */
import { BYTE_TO_CHAR, byteLevel, preTokenize, type TokenizerJson } from "./tokenizer.ts"

/** Distinct pre-tokens of `text` (byte-level strings) with their counts. */
export const countWords = (text: string, into: Map<string, number> = new Map()): Map<string, number> => {
  for (const w of preTokenize(text)) into.set(w, (into.get(w) ?? 0) + 1)
  return into
}

interface Word {
  symbols: number[]
  readonly count: number
}

const pairKey = (a: number, b: number): number => a * 65536 + b

/** Learns merges until the vocabulary has `vocabSize` tokens (≥ 256) or no pair repeats. */
export const trainBpe = (wordCounts: ReadonlyMap<string, number>, vocabSize: number): TokenizerJson => {
  if (vocabSize < 256 || vocabSize > 65536) throw new Error(`vocab_size must be in [256, 65536], got ${vocabSize}`)
  const tokens: string[] = [...BYTE_TO_CHAR]
  const ids = new Map(BYTE_TO_CHAR.map((c, i) => [c, i]))
  const tokenId = (t: string): number => {
    const known = ids.get(t)
    if (known !== undefined) return known
    ids.set(t, tokens.length)
    tokens.push(t)
    return tokens.length - 1
  }
  const words: Word[] = [...wordCounts].map(([w, count]) => ({ symbols: [...byteLevel(w)].map((c) => ids.get(c) ?? 0), count }))
  const pairCounts = new Map<number, number>()
  const pairWords = new Map<number, Set<number>>() // pair → indices of words containing it
  words.forEach((w, wi) => addPairs(w, wi, pairCounts, pairWords))
  const merges: string[] = []
  while (tokens.length < vocabSize) {
    const best = mostFrequent(pairCounts)
    if (best === null) break
    const [a, b] = [Math.floor(best / 65536), best % 65536]
    merges.push(`${tokens[a]} ${tokens[b]}`)
    const id = tokenId(`${tokens[a]}${tokens[b]}`) // two merge paths can spell the same token
    for (const wi of [...(pairWords.get(best) ?? [])]) {
      const w = words[wi] as Word
      removePairs(w, pairCounts)
      w.symbols = mergeSymbols(w.symbols, a, b, id)
      addPairs(w, wi, pairCounts, pairWords)
    }
    pairCounts.delete(best)
    pairWords.delete(best)
  }
  return tokenizerJson(tokens, merges)
}

const mostFrequent = (pairCounts: ReadonlyMap<number, number>): number | null => {
  let best: number | null = null
  let bestCount = 1 // a pair seen once compresses nothing worth a vocabulary slot
  for (const [p, c] of pairCounts) if (c > bestCount || (c === bestCount && best !== null && p < best)) [best, bestCount] = [p, c]
  return best
}

const addPairs = (w: Word, wi: number, counts: Map<number, number>, where: Map<number, Set<number>>): void => {
  for (let i = 0; i + 1 < w.symbols.length; i++) {
    const p = pairKey(w.symbols[i] as number, w.symbols[i + 1] as number)
    counts.set(p, (counts.get(p) ?? 0) + w.count)
    let s = where.get(p)
    if (s === undefined) where.set(p, (s = new Set()))
    s.add(wi)
  }
}

// Stale entries in pairWords are harmless: a word listed under a pair it no longer has is
// simply re-counted unchanged when that pair is merged.
const removePairs = (w: Word, counts: Map<number, number>): void => {
  for (let i = 0; i + 1 < w.symbols.length; i++) {
    const p = pairKey(w.symbols[i] as number, w.symbols[i + 1] as number)
    const c = (counts.get(p) ?? 0) - w.count
    if (c > 0) counts.set(p, c)
    else counts.delete(p)
  }
}

const mergeSymbols = (symbols: readonly number[], a: number, b: number, id: number): number[] => {
  const out: number[] = []
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === a && symbols[i + 1] === b) {
      out.push(id)
      i++
    } else out.push(symbols[i] as number)
  }
  return out
}

const BYTE_LEVEL = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } as const

export const tokenizerJson = (tokens: readonly string[], merges: readonly string[]): TokenizerJson => ({
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [],
  normalizer: null,
  pre_tokenizer: BYTE_LEVEL,
  post_processor: null,
  decoder: BYTE_LEVEL,
  model: {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
    merges,
  },
})
