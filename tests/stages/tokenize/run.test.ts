import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { splitText } from "../../../stages/tokenize/run.ts"
import { loadTokenizer } from "../../../src/model/data/tokenizer.ts"
import { readTokens, unigramCrossEntropy } from "../../../src/model/data/token-data.ts"
import tokenizeStage from "../../../stages/tokenize/index.ts"
import { TokenizeParams } from "../../../stages/tokenize/params.ts"
import { runStage } from "../harness.ts"
import { DOMAIN_TEXT } from "../../../src/model/data/datasets/domain-text.ts"
import { loadTask } from "../../../src/model/data/datasets/task.ts"

const dir = mkdtempSync(join(tmpdir(), "tokenize-test-"))
const text = Array.from({ length: 300 }, (_, i) => `Line ${i}: the people of the United States, in congress assembled — déjà vu ${i % 7}.`).join("\n")

describe("tokenize stage", () => {
  it("decodes defaults", async () => {
    const p = await Effect.runPromise(Schema.decodeUnknownEffect(TokenizeParams)({}))
    expect(p).toEqual({ vocab_size: 1024, corpus: "sotu", val_fraction: 0.05, seed: 0, train_chars: 0 })
    await expect(Effect.runPromise(Schema.decodeUnknownEffect(TokenizeParams)({ vocab_size: 100 }))).rejects.toThrow()
  })

  it("trains a tokenizer on a text file and writes tokens that decode back to the split text", async () => {
    const file = join(dir, "corpus.txt")
    writeFileSync(file, text)
    const { output, outDir } = await runStage(tokenizeStage, { params: { corpus: [file], vocab_size: 300, val_fraction: 0.1 } })
    for (const f of ["tokenizer.json", "train.bin", "val.bin", "meta.json"]) expect(existsSync(join(outDir, f))).toBe(true)
    const meta = JSON.parse(readFileSync(join(outDir, "meta.json"), "utf8"))
    const tok = loadTokenizer(join(outDir, "tokenizer.json"))
    const train = readTokens(join(outDir, "train.bin"))
    const val = readTokens(join(outDir, "val.bin"))
    const split = splitText([{ source: file, text }], 0.1, 0)
    expect(split.mode).toBe("tails")
    expect(tok.decode(train)).toBe(split.train)
    expect(tok.decode(val)).toBe(split.val)
    expect(meta).toMatchObject({ vocab_size: 300, train_tokens: train.length, val_tokens: val.length, split: "tails" })
    expect(meta.unigram_entropy_val).toBeCloseTo(unigramCrossEntropy(train, val, 300), 10)
    expect(output.summary.val_tokens).toBe(val.length)
  })

  it("task_text adds the task's TRAINING prompts and nothing of its validation or test split", async () => {
    const data = join(dir, "task.jsonl")
    const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `Subject: message number ${i} about item ${i * 7}\nLabel:`, completion: i % 3 === 0 ? " spam" : " ham" }))
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
    const taskText = { data, split_seed: 2, val_fraction: 0.2, test_fraction: 0.25 }
    const { output, outDir } = await runStage(tokenizeStage, { params: { corpus: [], vocab_size: 300, val_fraction: 0.1, task_text: taskText } })
    const tok = loadTokenizer(join(outDir, "tokenizer.json"))
    const text = tok.decode(readTokens(join(outDir, "train.bin"))) + "\n\n" + tok.decode(readTokens(join(outDir, "val.bin")))
    const task = await loadTask({ path: data }, { splitSeed: 2, valFraction: 0.2, testFraction: 0.25 })
    expect(task.train.length).toBe(22)
    for (const e of task.train) expect(text).toContain(e.prompt)
    for (const e of [...task.validation, ...task.test]) expect(text).not.toContain(e.prompt.slice(0, e.prompt.indexOf("\n")) + "\n")
    expect(text).not.toMatch(/ spam| ham/) // never a label
    const record = JSON.parse(readFileSync(join(outDir, DOMAIN_TEXT), "utf8"))
    expect(record).toMatchObject({ ...taskText, examples: 40, labels_digest: task.labelsDigest, train_documents: 22 })
    expect(output.summary).toMatchObject({ task_text_documents: 22 })
  })

  it("fails with nothing to pretrain on", async () => {
    await expect(runStage(tokenizeStage, { params: { corpus: [], vocab_size: 300 } })).rejects.toMatchObject({ reason: "InvalidData", message: expect.stringContaining("nothing to pretrain on") })
  })

  it("holds out whole documents when there are many, as a function of the seed", () => {
    const docs = Array.from({ length: 20 }, (_, i) => ({ source: `d${i}`, text: `document ${i} `.repeat(10) }))
    const a = splitText(docs, 0.2, 1)
    expect(a.mode).toBe("documents")
    expect(a.valDocs).toBe(4)
    expect(splitText(docs, 0.2, 1)).toEqual(a)
    expect(splitText(docs, 0.2, 2).val).not.toBe(a.val)
    for (const d of docs) expect(a.train.includes(d.text) !== a.val.includes(d.text)).toBe(true)
  })

  it("unigram cross-entropy: uniform data over k tokens gives log k (add-one smoothing aside)", () => {
    const ids = Array.from({ length: 4000 }, (_, i) => i % 4)
    expect(unigramCrossEntropy(ids, ids, 4)).toBeCloseTo(Math.log(4), 10)
  })

  it("fails with InvalidData naming the file for invalid UTF-8", async () => {
    const bad = join(dir, "bad.txt")
    writeFileSync(bad, Buffer.from([0x61, 0x0a, 0xff]))
    await expect(runStage(tokenizeStage, { params: { corpus: [bad] } })).rejects.toMatchObject({ reason: "InvalidData", message: `${bad}:2: not valid UTF-8` })
  })
})
