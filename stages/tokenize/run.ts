/**
 * The tokenize stage's work: corpus → train/validation split → byte-level BPE trained on the
 * training split → both splits encoded to uint16 token files, plus the numbers later stages
 * and reports need (sizes, the unigram baseline).
 */
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Effect } from "effect"
import { StageError, toStageError, type StageContext, type StageOutput } from "../../src/contracts/stage.ts"
import type { TokenizeParams } from "./params.ts"
import { countWords, trainBpe } from "../../src/model/data/bpe-train.ts"
import { sotuDocuments, textFileDocuments, type Document } from "../../src/model/data/datasets/pretrain-text.ts"
import { shuffled } from "../../src/model/data/datasets/split.ts"
import { DOMAIN_TEXT, type DomainTextRecord, type DomainTextSpec } from "../../src/model/data/datasets/domain-text.ts"
import { loadTask, taskSource } from "../../src/model/data/datasets/task.ts"
import { Tokenizer } from "../../src/model/data/tokenizer.ts"
import { unigramCrossEntropy, writeTokens } from "../../src/model/data/token-data.ts"

export const SEPARATOR = "\n\n"

export interface TextSplit {
  readonly train: string
  readonly val: string
  readonly mode: "documents" | "tails"
  readonly valDocs: number
}

/**
 * With ≥ 10 documents, whole documents are held out (seeded shuffle, until valFraction of the
 * characters): validation text is unseen prose. With fewer (one big file), the last
 * valFraction of each document, cut at a line break, is held out instead.
 */
export const splitText = (docs: ReadonlyArray<Document>, valFraction: number, seed: number): TextSplit => {
  const total = docs.reduce((n, d) => n + d.text.length, 0)
  if (docs.length >= 10) {
    const order = shuffled(docs, seed)
    const val: Document[] = []
    let chars = 0
    while (chars < valFraction * total && val.length < order.length - 1) {
      const d = order[val.length] as Document
      val.push(d)
      chars += d.text.length
    }
    const held = new Set(val)
    return { train: docs.filter((d) => !held.has(d)).map((d) => d.text).join(SEPARATOR), val: val.map((d) => d.text).join(SEPARATOR), mode: "documents", valDocs: val.length }
  }
  const parts = docs.map((d) => {
    const cut = d.text.lastIndexOf("\n", Math.floor(d.text.length * (1 - valFraction)))
    const at = cut > 0 ? cut + 1 : Math.floor(d.text.length * (1 - valFraction))
    return [d.text.slice(0, at), d.text.slice(at)] as const
  })
  return { train: parts.map((p) => p[0]).join(SEPARATOR), val: parts.map((p) => p[1]).join(SEPARATOR), mode: "tails", valDocs: 0 }
}

/** The training split's prompts as pretraining documents, and the record of what was read. */
const domainDocuments = async (spec: DomainTextSpec, pipelineDir: string): Promise<{ docs: Document[]; record: DomainTextRecord }> => {
  const task = await loadTask(taskSource(spec.data, pipelineDir), { splitSeed: spec.split_seed, valFraction: spec.val_fraction, testFraction: spec.test_fraction, bodyChars: spec.body_chars })
  const docs = task.train.map((e, i) => ({ source: `${spec.data}:train:${i}`, text: e.prompt }))
  const record: DomainTextRecord = {
    ...spec,
    examples: task.count,
    labels_digest: task.labelsDigest,
    train_documents: docs.length,
    chars: docs.reduce((n, d) => n + d.text.length, 0),
  }
  return { docs, record }
}

const run = async (ctx: StageContext<TokenizeParams>): Promise<StageOutput> => {
  const p = ctx.params
  // Relative paths resolve against the pipeline file's folder, as the fine-tuning stages do.
  const docs = p.corpus === "sotu" ? await sotuDocuments() : textFileDocuments(p.corpus.map((f) => resolve(ctx.pipelineDir, f)))
  const domain = p.task_text === undefined ? null : await domainDocuments(p.task_text, ctx.pipelineDir)
  if (domain !== null) {
    docs.push(...domain.docs)
    writeFileSync(join(ctx.outDir, DOMAIN_TEXT), JSON.stringify(domain.record, null, 2) + "\n")
  }
  if (docs.length === 0) throw new StageError({ reason: "InvalidData", message: "nothing to pretrain on: corpus is empty and there is no task_text" })
  const split = splitText(docs, p.val_fraction, p.seed)
  if (split.val.length === 0) throw new StageError({ reason: "InvalidData", message: "the validation split is empty: raise val_fraction or add text" })
  ctx.progress({ step: 1, total: 3, message: "training BPE" })
  const sample = p.train_chars > 0 ? split.train.slice(0, p.train_chars) : split.train
  const json = trainBpe(countWords(sample), p.vocab_size)
  writeFileSync(join(ctx.outDir, "tokenizer.json"), JSON.stringify(json))
  ctx.progress({ step: 2, total: 3, message: "encoding" })
  const tok = new Tokenizer(json)
  const train = tok.encode(split.train)
  const val = tok.encode(split.val)
  writeTokens(join(ctx.outDir, "train.bin"), train)
  writeTokens(join(ctx.outDir, "val.bin"), val)
  const meta = {
    vocab_size: tok.vocabSize,
    dtype: "uint16",
    train_tokens: train.length,
    val_tokens: val.length,
    train_chars: split.train.length,
    val_chars: split.val.length,
    split: split.mode,
    val_docs: split.valDocs,
    seed: p.seed,
    task_text_documents: domain?.record.train_documents ?? 0,
    task_text_chars: domain?.record.chars ?? 0,
    unigram_entropy_val: unigramCrossEntropy(train, val, tok.vocabSize),
  }
  writeFileSync(join(ctx.outDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n")
  ctx.progress({ step: 3, total: 3 })
  return { summary: { ...meta } }
}

export const tokenize = (ctx: StageContext<TokenizeParams>): Effect.Effect<StageOutput, StageError> => Effect.tryPromise({ try: () => run(ctx), catch: toStageError })
