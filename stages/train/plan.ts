/**
 * What `peftlab status` knows of a train before it runs (tfjs-free): its peak memory, from the
 * base's config and the adapter's method, rank and targets (their stages' `facts`).
 *
 * Sequence length: examples are cut to the model's blockSize (or `max_length`) and a batch is
 * padded to its longest, so T is at most that. The output head runs on the completion tokens
 * only: SpamAssassin's completions are " spam" and " ham" — 9 characters, so at most 9 head
 * rows per example whichever loss reads them (a token covers at least one character); a JSONL
 * task's completions are unknown at plan time, so every position may be one (K = B·T).
 */
import { trainMemoryInput, type AdapterFacts } from "../../src/adapters/specs/footprint.ts"
import { isModelFacts, memoryNeed } from "../../src/model/arch/memory.ts"
import type { MemoryNeed } from "../../src/contracts/stage.ts"
import { trainSeq, type TrainParams } from "./params.ts"

/** Head rows per SpamAssassin example: " spam" and " ham", one token per character at most. */
const SPAM_HEAD_ROWS = 9

export const trainMemory = (p: TrainParams, inputs: Readonly<Record<string, unknown>>): MemoryNeed | undefined => {
  const model = inputs.model
  const adapter = inputs.adapter as AdapterFacts | undefined
  if (!isModelFacts(model) || adapter === undefined || typeof adapter.method !== "string") return undefined
  const T = trainSeq(p, model.config.blockSize)
  const B = p.batch_size
  const headRows = p.data === "spam-assassin" ? Math.min(B * T, B * SPAM_HEAD_ROWS) : B * T
  const input = trainMemoryInput({ config: model.config, batch: B, seq: T, headRows, method: adapter.method, rank: adapter.rank, targets: adapter.targets, dropout: adapter.dropout })
  const a = input.adapter
  const what = a.form === "full" ? "full fine-tuning" : `${adapter.method} r ${a.rank} on ${a.targets.join(", ")}`
  return memoryNeed(input, what)
}
