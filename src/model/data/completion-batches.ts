/**
 * Prompt → completion examples as next-token batches with the loss on completion tokens only.
 *
 * An example is encoded as prompt ++ completion, left-truncated (the prompt loses its start,
 * the completion and the prompt's cue such as "Label:" survive) to blockSize + 1 tokens; the
 * model sees tokens[0..L−1] and predicts tokens[1..L]. A tokenizer whose post-processor starts
 * every sequence with fixed ids (Llama 3's <|begin_of_text|>, Mistral's <s>: the `prefix`)
 * gets them once, at the front, before the surviving end of the prompt: models trained with a
 * BOS expect it at position 0, and truncation must not cut it off. The batch at step t is a pure function
 * of (seed, t): example k = t·B + j of the stream is perm_e[k mod N] with e = ⌊k / N⌋ and
 * perm_e a seeded shuffle — epochs without replacement, and resuming at any step is exact.
 */
import * as tf from "@tensorflow/tfjs"
import type { TrainBatch } from "../losses.ts"
import { mulberry32 } from "../mulberry32.ts"
import { collatePacked, packCompletions, promptBody, type PackedRow } from "./packing.ts"

export interface Example {
  readonly prompt: string
  readonly completion: string
}

/** The part of a tokenizer this module needs. */
export interface Encoder {
  /** Token ids of `text`, without any special tokens the tokenizer adds around a sequence. */
  encode(text: string): ReadonlyArray<number>
  /** Ids every sequence starts with (a BOS), as the tokenizer's post-processor adds them; none when absent. */
  readonly prefix?: ReadonlyArray<number>
}

export interface Encoded {
  /** prompt ++ completion token ids, at most blockSize + 1 of them. */
  readonly ids: Int32Array
  /** Index in `ids` of the first completion token. */
  readonly completionStart: number
}

export const encodeExample = (enc: Encoder, ex: Example, blockSize: number): Encoded => {
  const prefix = enc.prefix ?? []
  const p = promptBody(enc.encode(ex.prompt), prefix)
  const c = enc.encode(ex.completion)
  if (c.length === 0) throw new Error(`empty completion for prompt ${JSON.stringify(ex.prompt.slice(0, 40))}`)
  // At least one token before the completion predicts its first token: the prefix, or a prompt token.
  if (c.length + Math.max(prefix.length, 1) > blockSize + 1)
    throw new Error(`completion of ${c.length} tokens does not fit blockSize ${blockSize}${prefix.length > 0 ? ` after the ${prefix.length}-token prefix` : ""}`)
  const keep = Math.min(p.length, blockSize + 1 - prefix.length - c.length) // prompt tokens kept, from the end
  const ids = Int32Array.from([...prefix, ...p.slice(p.length - keep), ...c])
  return { ids, completionStart: prefix.length + keep }
}

export interface BatchTensors {
  readonly idx: tf.Tensor2D // (B, T) int32
  readonly targets: tf.Tensor2D // (B, T) int32
  readonly mask: tf.Tensor2D // (B, T) float32: 1 where the target is a completion token
}

/** Right-pads to the longest sequence (pads are masked out; attention is causal so they are never seen). */
export const collate = (items: ReadonlyArray<Encoded>): BatchTensors => {
  const T = Math.max(...items.map((e) => e.ids.length - 1))
  const B = items.length
  const idx = new Int32Array(B * T)
  const tgt = new Int32Array(B * T)
  const mask = new Float32Array(B * T)
  items.forEach((e, b) => {
    for (let i = 0; i < e.ids.length - 1; i++) {
      idx[b * T + i] = e.ids[i] ?? 0
      tgt[b * T + i] = e.ids[i + 1] ?? 0
      mask[b * T + i] = i + 1 >= e.completionStart ? 1 : 0
    }
  })
  return { idx: tf.tensor2d(idx, [B, T], "int32"), targets: tf.tensor2d(tgt, [B, T], "int32"), mask: tf.tensor2d(mask, [B, T]) }
}


/** Fisher-Yates permutation of 0..n−1 for (seed, epoch). */
export const permutation = (n: number, seed: number, epoch: number): Int32Array => {
  const rand = mulberry32((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0)
  const p = Int32Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = p[i] ?? 0
    p[i] = p[j] ?? 0
    p[j] = t
  }
  return p
}

/** Example indices of the batch at step t. */
export const batchIndices = (n: number, batchSize: number, seed: number, step: number): number[] => {
  const out: number[] = []
  let epoch = -1
  let perm: Int32Array = new Int32Array(0)
  for (let j = 0; j < batchSize; j++) {
    const k = step * batchSize + j
    const e = Math.floor(k / n)
    if (e !== epoch) [epoch, perm] = [e, permutation(n, seed, e)]
    out.push(perm[k % n] ?? 0)
  }
  return out
}

/** Which loss the batches feed (losses.ts). */
export type FineTuneLoss = "completion" | "labels"

/** The training stream: encodes every example once, then serves batch t. */
export class CompletionBatches {
  private readonly encoded: ReadonlyArray<Encoded>
  /** For the label-restricted loss: each example packed with every label, and its label's index. */
  private readonly packed: ReadonlyArray<{ readonly row: PackedRow; readonly truth: number }>

  constructor(
    examples: ReadonlyArray<Example>,
    enc: Encoder,
    blockSize: number,
    private readonly opts: { readonly batchSize: number; readonly seed: number; readonly loss?: FineTuneLoss; readonly labels?: ReadonlyArray<string> },
  ) {
    if (examples.length === 0) throw new Error("no training examples")
    if (opts.loss !== "labels") {
      this.encoded = examples.map((e) => encodeExample(enc, e, blockSize))
      this.packed = []
      return
    }
    const labels = opts.labels ?? []
    if (labels.length < 2) throw new Error("the label-restricted loss needs a task with a label set (at least two distinct completions); this one has none, use loss: completion")
    const labelIds = labels.map((l) => enc.encode(l))
    this.encoded = []
    this.packed = examples.map((e, i) => {
      const truth = labels.indexOf(e.completion)
      if (truth < 0) throw new Error(`training example ${i}: completion ${JSON.stringify(e.completion)} is not one of the labels ${JSON.stringify(labels)}`)
      const row = packCompletions(enc.encode(e.prompt), labelIds, blockSize, enc.prefix)
      if (row === null) throw new Error(`training example ${i}: no prompt token survives truncation to blockSize ${blockSize}`)
      return { row, truth }
    })
  }

  get size(): number {
    return Math.max(this.encoded.length, this.packed.length)
  }

  at(step: number): TrainBatch {
    const ids = batchIndices(this.size, this.opts.batchSize, this.opts.seed, step)
    if (this.opts.loss !== "labels") return collate(ids.map((i) => this.encoded[i] as Encoded))
    const items = ids.map((i) => this.packed[i] as (typeof this.packed)[number])
    return { kind: "labels", packed: collatePacked(items.map((x) => x.row)), truth: tf.tensor1d(items.map((x) => x.truth), "int32") }
  }
}
