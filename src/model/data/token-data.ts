/**
 * Token arrays on disk and the batches drawn from them.
 *
 * Files: `train.bin` / `val.bin` are raw little-endian uint16 token ids (vocabularies up to
 * 65,536, nanoGPT's format), described by `meta.json`.
 *
 * Batches: the batch at step t is a pure function of (seed, t) — B windows of T + 1 tokens at
 * offsets drawn from a stream seeded by (seed, t) — so a resumed run needs no RNG state.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { endianness } from "node:os"
import * as tf from "@tensorflow/tfjs"
import { mulberry32 } from "../mulberry32.ts"

export const writeTokens = (path: string, ids: ArrayLike<number>): void => {
  if (endianness() !== "LE") throw new Error("token files are little-endian; big-endian hosts are not supported")
  const out = new Uint16Array(ids.length)
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] ?? 0
    if (id < 0 || id > 65535) throw new Error(`token id ${id} does not fit uint16`)
    out[i] = id
  }
  writeFileSync(path, out)
}

export const readTokens = (path: string): Uint16Array => {
  const bytes = readFileSync(path)
  if (bytes.length % 2 !== 0) throw new Error(`${path}: odd byte length ${bytes.length} for uint16 tokens`)
  return new Uint16Array(Uint8Array.prototype.slice.call(bytes).buffer)
}

export interface LMBatch {
  readonly idx: tf.Tensor2D // (B, T) int32
  readonly targets: tf.Tensor2D // (B, T) int32: idx shifted left by one
}

/** B windows starting at `offsets`: inputs tokens[o .. o+T), targets tokens[o+1 .. o+T]. */
export const windows = (tokens: Uint16Array, offsets: ReadonlyArray<number>, T: number): LMBatch => {
  const B = offsets.length
  const idx = new Int32Array(B * T)
  const tgt = new Int32Array(B * T)
  offsets.forEach((o, b) => {
    for (let i = 0; i < T; i++) {
      idx[b * T + i] = tokens[o + i] ?? 0
      tgt[b * T + i] = tokens[o + i + 1] ?? 0
    }
  })
  return { idx: tf.tensor2d(idx, [B, T], "int32"), targets: tf.tensor2d(tgt, [B, T], "int32") }
}

/** Offsets of the training batch at step t. */
export const batchOffsets = (n: number, opts: { seed: number; step: number; B: number; T: number }): number[] => {
  const span = n - opts.T - 1
  if (span < 1) throw new Error(`${n} tokens are too few for windows of ${opts.T + 1}`)
  const next = mulberry32((opts.seed * 1_000_003 + opts.step * 7919) >>> 0)
  return Array.from({ length: opts.B }, () => Math.floor(next() * span))
}

/**
 * Fixed evaluation windows: `count` windows spread evenly over the split (the same every
 * evaluation, so the curve compares like with like).
 */
export const evalOffsets = (n: number, count: number, T: number): number[] => {
  const span = n - T - 1
  if (span < 1) throw new Error(`${n} validation tokens are too few for windows of ${T + 1}`)
  const k = Math.max(1, Math.min(count, span))
  return Array.from({ length: k }, (_, i) => Math.floor((i * span) / k))
}

/**
 * Cross-entropy (nats/token) of `evalIds` under the add-one-smoothed unigram distribution of
 * `trainIds`: the loss of a model that ignores context. Pretraining should beat it.
 */
export const unigramCrossEntropy = (trainIds: ArrayLike<number>, evalIds: ArrayLike<number>, vocabSize: number): number => {
  const counts = new Float64Array(vocabSize).fill(1)
  for (let i = 0; i < trainIds.length; i++) counts[trainIds[i] ?? 0] = (counts[trainIds[i] ?? 0] ?? 0) + 1
  const total = trainIds.length + vocabSize
  let nll = 0
  for (let i = 0; i < evalIds.length; i++) nll -= Math.log((counts[evalIds[i] ?? 0] ?? 1) / total)
  return nll / Math.max(1, evalIds.length)
}
