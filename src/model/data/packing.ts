/**
 * One prompt with several candidate completions packed into one row: a tree of sequences, as
 * in speculative decoding's tree attention. The prompt comes once; each completion continues
 * the prompt's positions and attends only to the prompt and to itself, so every branch scores
 * exactly as if it were its own sequence. Evaluation scores every label this way, and the
 * label-restricted training loss (LM-BFF) needs every label's score with gradients.
 *
 *   prompt p0 … p(n−1) | c1[0] … c1[m1−2] | c2[0] … c2[m2−2] | …
 *   positions 0 … n−1  | n … n+m1−2       | n … n+m2−2       |
 *
 * The last token of a completion is never an input (nothing reads what it predicts), so a
 * one-token completion adds no column and is read from the prompt's last position.
 */
import * as tf from "@tensorflow/tfjs"

export interface PackedRow {
  readonly ids: Int32Array
  readonly positions: Int32Array
  /** Per token: 0 for the prompt, k + 1 for the k-th completion. */
  readonly branch: Int32Array
  /** Per completion: the (row index, target token) pairs whose log-probabilities it sums. */
  readonly reads: ReadonlyArray<ReadonlyArray<readonly [number, number]>>
}

/**
 * The prompt's ids without the prefix, when the prompt's text already starts with it (a chat
 * template writes the BOS into the text): the prefix is then added back exactly once.
 */
export const promptBody = (prompt: ReadonlyArray<number>, prefix: ReadonlyArray<number>): ReadonlyArray<number> =>
  prefix.length > 0 && prefix.every((id, i) => prompt[i] === id) ? prompt.slice(prefix.length) : prompt

/**
 * Packs completions after the prompt, left-truncated as `encodeExample` truncates the longest
 * of them (completions of one length m ⇒ exactly encodeExample's truncation for each): the
 * tokenizer's `prefix` (a BOS) first, once, then the surviving end of the prompt. null when
 * neither a prefix nor anything of the prompt survives (the first completion token would have
 * no position to be read from).
 */
export const packCompletions = (
  prompt: ReadonlyArray<number>,
  completions: ReadonlyArray<ReadonlyArray<number>>,
  blockSize: number,
  prefix: ReadonlyArray<number> = [],
): PackedRow | null => {
  const longest = Math.max(0, ...completions.map((c) => c.length))
  if (completions.length === 0 || completions.some((c) => c.length === 0)) throw new Error("packCompletions: every completion needs at least one token")
  if (longest + Math.max(prefix.length, 1) > blockSize + 1)
    throw new Error(`completion of ${longest} tokens does not fit blockSize ${blockSize}${prefix.length > 0 ? ` after the ${prefix.length}-token prefix` : ""}`)
  const body = promptBody(prompt, prefix)
  const kept = Math.min(body.length, blockSize + 1 - prefix.length - longest)
  const n = prefix.length + kept
  if (n < 1) return null
  const ids = [...prefix, ...body.slice(body.length - kept)]
  const positions = ids.map((_, i) => i)
  const branch: number[] = ids.map(() => 0)
  const reads = completions.map((c, k) => {
    const r: Array<readonly [number, number]> = [[n - 1, c[0] ?? 0]] // the prompt's last token predicts c[0]
    for (let j = 0; j + 1 < c.length; j++) {
      r.push([ids.length, c[j + 1] ?? 0]) // c[j] at position n + j predicts c[j + 1]
      ids.push(c[j] ?? 0)
      positions.push(n + j)
      branch.push(k + 1)
    }
    return r
  })
  return { ids: Int32Array.from(ids), positions: Int32Array.from(positions), branch: Int32Array.from(branch), reads }
}

/** Packed rows as tensors: ids and positions (B, T), the attention mask (B, T, T), and the reads. */
export interface PackedBatch {
  readonly idx: tf.Tensor2D // (B, T) int32
  readonly positions: tf.Tensor2D // (B, T) int32
  readonly allowed: tf.Tensor3D // (B, T, T) float32: 1 where query t may attend to key s
  /** Flat rows (b·T + t) of the (B·T, C) hidden states that are read, one per (row, completion, token). */
  readonly at: tf.Tensor1D // (K,) int32
  /** The token each read scores. */
  readonly tokens: tf.Tensor1D // (K,) int32
  /** Which (row, completion) each read belongs to: b·L + k for L completions per row. */
  readonly segments: tf.Tensor1D // (K,) int32
  readonly B: number
  readonly L: number
}

/** Right-pads rows to the longest; a pad attends to nothing but itself and is never read. */
export const collatePacked = (rows: ReadonlyArray<PackedRow>): PackedBatch => {
  const B = rows.length
  const L = rows[0]?.reads.length ?? 0
  if (rows.some((r) => r.reads.length !== L)) throw new Error("collatePacked: every row needs the same number of completions")
  const T = Math.max(...rows.map((r) => r.ids.length))
  const ids = new Int32Array(B * T)
  const pos = new Int32Array(B * T)
  const allowed = new Float32Array(B * T * T)
  const at: number[] = []
  const tokens: number[] = []
  const segments: number[] = []
  rows.forEach((r, b) => {
    ids.set(r.ids, b * T)
    pos.set(r.positions, b * T)
    for (let q = 0; q < T; q++) {
      const bq = q < r.ids.length ? (r.branch[q] ?? 0) : -1 // padding: its own branch
      for (let k = 0; k <= q; k++) {
        const bk = k < r.ids.length ? (r.branch[k] ?? 0) : -1
        if (bk === 0 || bk === bq) allowed[(b * T + q) * T + k] = 1
      }
    }
    r.reads.forEach((reads, k) => {
      for (const [row, tok] of reads) (at.push(b * T + row), tokens.push(tok), segments.push(b * L + k))
    })
  })
  return {
    idx: tf.tensor2d(ids, [B, T], "int32"),
    positions: tf.tensor2d(pos, [B, T], "int32"),
    allowed: tf.tensor3d(allowed, [B, T, T]),
    at: tf.tensor1d(at, "int32"),
    tokens: tf.tensor1d(tokens, "int32"),
    segments: tf.tensor1d(segments, "int32"),
    B,
    L,
  }
}

export const disposePacked = (p: PackedBatch): void => tf.dispose([p.idx, p.positions, p.allowed, p.at, p.tokens, p.segments])
