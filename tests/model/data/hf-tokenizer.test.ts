/**
 * Hugging Face tokenizers of the Llama family, read through the `tokenizers` library: the ids,
 * decoded strings, vocabulary sizes, BOS/EOS and post-processor prefixes that Python
 * `tokenizers` 0.23.2 gives on the same files (tests/model/data/hf-tokenizers/make_fixtures.py),
 * and the BOS handling of the batches built from them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { trainBpe } from "../../../src/model/data/bpe-train.ts"
import { CompletionBatches, encodeExample } from "../../../src/model/data/completion-batches.ts"
import { HfTokenizer, loadHfTokenizer } from "../../../src/model/data/hf-tokenizer.ts"
import { packCompletions } from "../../../src/model/data/packing.ts"
import { isPlainByteLevelBpe, loadTokenizer, Tokenizer, type TokenizerJson } from "../../../src/model/data/tokenizer.ts"
import { isLabelBatch, disposeTrainBatch } from "../../../src/model/losses.ts"

const FIX = join(import.meta.dirname, "hf-tokenizers")
const FAMILIES = ["llama3", "qwen2", "mistral", "smollm2"] as const

interface Case {
  readonly text: string
  readonly ids: number[]
  readonly ids_special: number[]
  readonly decoded: string
  readonly decoded_special: string
}
interface Expected {
  readonly tokenizers_version: string
  readonly vocab_size: number
  readonly max_id: number
  readonly bos_id: number | null
  readonly eos_id: number | null
  readonly prefix: number[]
  readonly suffix: number[]
  readonly cases: Case[]
}
const expectedOf = (family: string): Expected => JSON.parse(readFileSync(join(FIX, family, "expected.json"), "utf8")) as Expected
const load = (family: string): HfTokenizer => {
  const tok = loadTokenizer(join(FIX, family, "tokenizer.json"))
  if (!(tok instanceof HfTokenizer)) throw new Error(`${family} did not go to the library`)
  return tok
}

describe.each(FAMILIES)("%s tokenizer.json vs Python tokenizers", (family) => {
  const want = expectedOf(family)
  const tok = load(family)

  it("was written by the same tokenizers version", () => {
    expect(want.tokenizers_version).toBe("0.23.2")
    expect(JSON.parse(readFileSync(join(import.meta.dirname, "../../../node_modules/tokenizers/package.json"), "utf8")).version).toBe(want.tokenizers_version)
  })

  it.each(want.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))("ids and decoding of %s", (_, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids)
    expect(tok.encodeWithSpecialTokens(c.text)).toEqual(c.ids_special)
    expect(tok.decode(c.ids)).toBe(c.decoded)
    expect(tok.decode(Int32Array.from(c.ids_special))).toBe(c.decoded_special)
  })

  it("has the vocabulary size, BOS/EOS and post-processor ids Python reads", () => {
    expect(tok.vocabSize).toBe(want.vocab_size)
    expect(want.max_id).toBe(want.vocab_size - 1) // contiguous ids: vocabSize is also the embedding rows needed
    expect(tok.bosId ?? null).toBe(want.bos_id)
    expect(tok.eosId ?? null).toBe(want.eos_id)
    expect(tok.prefix).toEqual(want.prefix)
    expect(tok.suffix).toEqual(want.suffix)
  })
})

describe("the fixture texts", () => {
  const texts = expectedOf("llama3").cases.map((c) => c.text)
  it.each([
    ["accents", /é/],
    ["CJK", /\p{Script=Han}/u],
    ["emoji", /\p{Extended_Pictographic}/u],
    ["combining marks", /\p{M}/u],
    ["U+0085", /\u0085/],
    ["U+FEFF", /\ufeff/],
    ["long numbers", /\d{20}/],
    ["runs of spaces", / {3}/],
    ["tabs", /\t\t/],
    ["blank lines", /\n\n\n/],
    ["trailing spaces", / $/],
  ])("cover %s", (_, re) => {
    expect(texts.some((t) => re.test(t))).toBe(true)
  })
  it.each(FAMILIES)("cover %s's special tokens inside text, which map to their ids", (family) => {
    const tok = load(family)
    const want = expectedOf(family)
    const withSpecial = want.cases.filter((c) => c.ids.some((id) => id === want.eos_id || id === want.bos_id || want.prefix.includes(id)))
    expect(withSpecial.length).toBeGreaterThan(0)
    for (const c of withSpecial) expect(tok.encode(c.text)).toEqual(c.ids)
  })
})

describe("BOS in the sequences peftlab builds", () => {
  const llama = load("llama3")
  const mistral = load("mistral")
  const bosOf = (t: HfTokenizer): number => t.prefix[0] ?? -1
  const count = (ids: ArrayLike<number>, id: number) => Array.from(ids).filter((x) => x === id).length

  it.each([
    ["llama3", llama],
    ["mistral", mistral],
  ] as const)("%s: encodeExample puts the BOS first, once, and truncation keeps it", (_, tok) => {
    expect(tok.prefix.length).toBe(1)
    const bos = bosOf(tok)
    const prompt = "Subject: cheap meds now! Click here to claim your prize of $1,000,000 before 12/31/2024.\nLabel:"
    const completion = " spam"
    const c = tok.encode(completion)
    const p = tok.encode(prompt)
    const full = encodeExample(tok, { prompt, completion }, 512)
    expect(Array.from(full.ids)).toEqual([bos, ...p, ...c])
    expect(full.completionStart).toBe(1 + p.length)
    const blockSize = 12 // much shorter than the prompt
    const e = encodeExample(tok, { prompt, completion }, blockSize)
    expect(e.ids.length).toBe(blockSize + 1)
    expect(Array.from(e.ids)).toEqual([bos, ...p.slice(p.length - (blockSize - c.length)), ...c])
    expect(count(e.ids, bos)).toBe(1)
    expect(e.completionStart).toBe(blockSize + 1 - c.length)
    // A prompt whose text already starts with the BOS (a chat template wrote it) still gets one.
    const special = tok === llama ? "<|begin_of_text|>" : "<s>"
    expect(tok.encode(special + prompt)[0]).toBe(bos)
    for (const bs of [12, 512]) expect(count(encodeExample(tok, { prompt: special + prompt, completion }, bs).ids, bos)).toBe(1)
    // The smallest block that fits: BOS then the completion.
    expect(Array.from(encodeExample(tok, { prompt, completion }, c.length).ids)).toEqual([bos, ...c])
    expect(() => encodeExample(tok, { prompt, completion }, c.length - 1)).toThrow(/after the 1-token prefix/)
  })

  it("packed label rows start with the BOS once and truncate as encodeExample does", () => {
    const bos = bosOf(llama)
    const prompt = "The meeting is at 10:30 tomorrow in room 42. Is this spam?\nLabel:"
    const labels = [" ham", " yes"].map((l) => llama.encode(l))
    expect(labels.map((l) => l.length)).toEqual([2, 2]) // one length: the packed row is each label's encodeExample row
    for (const blockSize of [8, 64]) {
      const row = packCompletions(llama.encode(prompt), labels, blockSize, llama.prefix)
      if (row === null) throw new Error("no row")
      expect(row.ids[0]).toBe(bos)
      expect(count(row.ids, bos)).toBe(1)
      const plain = encodeExample(llama, { prompt, completion: " ham" }, blockSize)
      const n = plain.completionStart
      expect(Array.from(row.ids.slice(0, n))).toEqual(Array.from(plain.ids.slice(0, n)))
      expect(Array.from(row.positions.slice(0, n))).toEqual([...Array(n).keys()])
    }
    // Nothing of the prompt survives, the BOS does, and reads the first label token.
    const c = labels[0] ?? []
    const tight = packCompletions(llama.encode(prompt), labels, c.length, llama.prefix)
    expect(tight?.ids[0]).toBe(bos)
    expect(tight?.reads[0]?.[0]).toEqual([0, c[0]])
  })

  it("every row of a training batch starts with the BOS, for both losses", () => {
    const bos = bosOf(llama)
    const examples = Array.from({ length: 6 }, (_, i) => ({ prompt: `Message ${i}: ${"word ".repeat(i * 5)}\nLabel:`, completion: i % 2 === 0 ? " spam" : " ham" }))
    for (const loss of ["completion", "labels"] as const) {
      const batches = new CompletionBatches(examples, llama, 16, { batchSize: 4, seed: 3, loss, labels: [" spam", " ham"] })
      const b = batches.at(1)
      const idx = isLabelBatch(b) ? b.packed.idx : b.idx
      const [B, T] = idx.shape
      const data = idx.dataSync()
      for (let r = 0; r < B; r++) {
        expect(data[r * T]).toBe(bos)
        expect(count(data.slice(r * T, (r + 1) * T), bos)).toBe(1)
      }
      disposeTrainBatch(b)
    }
  })
})

describe("loadTokenizer routes by format", () => {
  const dir = mkdtempSync(join(tmpdir(), "peftlab-hf-tok-"))

  it("keeps peftlab's own byte-level BPE in the in-process class", () => {
    const json = trainBpe(new Map([["Ġthe", 5], ["the", 3], ["Ġcat", 2]]), 260)
    expect(isPlainByteLevelBpe(json)).toBe(true)
    const path = join(dir, "own.json")
    writeFileSync(path, JSON.stringify(json))
    expect(loadTokenizer(path)).toBeInstanceOf(Tokenizer)
    // Anything added around the model sends it to the library.
    for (const change of [{ added_tokens: [{ id: 260, content: "<|endoftext|>", special: true }] }, { normalizer: { type: "NFC" } }, { post_processor: { type: "ByteLevel" } }])
      expect(isPlainByteLevelBpe({ ...json, ...change })).toBe(false)
  })

  it("gives the same ids either way on a byte-level BPE both can read (GPT-2 written by transformers)", () => {
    const path = join(import.meta.dirname, "..", "..", "fixtures", "hf", "gpt2-tied", "tokenizer.json")
    const lib = loadTokenizer(path)
    expect(lib).toBeInstanceOf(HfTokenizer)
    const own = new Tokenizer(JSON.parse(readFileSync(path, "utf8")) as TokenizerJson)
    for (const c of expectedOf("smollm2").cases) {
      expect(lib.encode(c.text)).toEqual(own.encode(c.text))
      expect(lib.decode(own.encode(c.text))).toBe(own.decode(own.encode(c.text)))
    }
  })

  it("reports the library's own error for a file it cannot read", () => {
    const path = join(dir, "bad.json")
    writeFileSync(path, JSON.stringify({ version: "1.0", model: { type: "NoSuchModel" } }))
    expect(() => loadTokenizer(path)).toThrow(`${path}: the tokenizers library cannot read it: Error loading from file`)
  })

  it("refuses a tokenizer_config.json naming an EOS the tokenizer lacks", () => {
    const sub = mkdtempSync(join(dir, "cfg-"))
    writeFileSync(join(sub, "tokenizer.json"), readFileSync(join(FIX, "qwen2", "tokenizer.json")))
    writeFileSync(join(sub, "tokenizer_config.json"), JSON.stringify({ eos_token: { content: "<|no_such_token|>" } }))
    expect(() => loadHfTokenizer(join(sub, "tokenizer.json"))).toThrow(/eos_token "<\|no_such_token\|>" is not in/)
  })
})
