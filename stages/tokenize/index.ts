/**
 * tokenize: trains a byte-level BPE tokenizer on the pretraining corpus (State of the Union
 * addresses, or the user's text files, and optionally a task's training-split text) and encodes it. Outputs `tokenizer.json` (Hugging Face
 * format), `train.bin` / `val.bin` (uint16 LE token ids) and `meta.json` (sizes, split, and the
 * unigram cross-entropy of the validation tokens — the baseline pretraining must beat).
 */
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import { TokenizeParams } from "./params.ts"

export default defineStage<TokenizeParams>({
  kind: "tokenize",
  version: 1,
  description: "Train a byte-level BPE tokenizer on the pretraining corpus and encode it",
  module: import.meta.url,
  params: TokenizeParams,
  inputs: {},
  files: (p) => [...(p.corpus === "sotu" ? [] : p.corpus), ...(p.task_text === undefined || p.task_text.data === "spam-assassin" ? [] : [p.task_text.data])],
  packages: ["pretrain-data", "task-data"],
  // At most vocab_size tokens (BPE may stop early): enough for build-model's plan-time config.
  facts: (p) => ({ vocabSize: p.vocab_size }),
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.tokenize(ctx)),
})
