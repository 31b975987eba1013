/**
 * Held-out evaluation of a prompt → label task: completion loss and perplexity on the true
 * completions, and classification by the argmax over labels of the completion's summed
 * log-probability (accuracy, macro-F1, confusion counts).
 *
 * Scoring L labels naively costs L forward passes over the same prompt. Labels of equal token
 * length are instead packed into one sequence — prompt, then each label's tokens, each label
 * continuing the prompt's positions and attending only to the prompt and to itself (a tree
 * of sequences, as in speculative decoding's tree attention) — and the output head runs only
 * on the positions that are read. Same numbers as separate sequences, up to float rounding;
 * for two-token labels " spam"/" ham" it halves the evaluation's work.
 */
import * as tf from "@tensorflow/tfjs"
import { forward, type GPT, type ProjectionHook } from "../model/arch/model.ts"
import { packedLogProbs } from "../model/losses.ts"
import { collate, encodeExample, type Encoded, type Encoder, type Example } from "../model/data/completion-batches.ts"
import { collatePacked, disposePacked, packCompletions, type PackedRow } from "../model/data/packing.ts"

export interface EvalResult {
  readonly n: number
  /** Mean NLL per completion token of the true completions. */
  readonly evalLoss: number
  readonly perplexity: number
  /** Mean −log p(truth | x) of the classifier p(y | x) = softmax over the labels' summed
   * log-probabilities (what the label-restricted loss trains; the argmax gives `accuracy`).
   * NaN when some truth is not a label. */
  readonly labelLoss: number
  readonly accuracy: number
  readonly macroF1: number
  readonly labels: ReadonlyArray<string>
  /** confusion[true][pred] counts, in `labels` order. */
  readonly confusion: ReadonlyArray<ReadonlyArray<number>>
}

interface Scored {
  readonly logp: number // Σ log p over completion tokens
  readonly tokens: number
}

/** Summed completion log-probabilities of each encoded sequence, in batches. */
export const scoreSequences = (model: GPT, hook: ProjectionHook | undefined, seqs: ReadonlyArray<Encoded>, batchSize: number): Scored[] => {
  const out: Scored[] = []
  for (let i = 0; i < seqs.length; i += batchSize) {
    const b = collate(seqs.slice(i, i + batchSize))
    const [lp, nt] = tf.tidy(() => {
      const logits = forward(model, b.idx, hook) // (B, T, V)
      const [B, T, V] = logits.shape
      const logp = tf.logSoftmax(tf.reshape(logits, [B * T, V])) // (N, V)
      const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(b.targets, [B * T]), V)), -1) // (N,)
      const m = tf.reshape(b.mask, [B * T])
      return [tf.sum(tf.reshape(tf.mul(picked, m), [B, T]), -1), tf.sum(b.mask, -1)] // (B,), (B,)
    })
    const [lps, nts] = [lp.dataSync(), nt.dataSync()]
    for (let j = 0; j < lps.length; j++) out.push({ logp: lps[j] ?? NaN, tokens: nts[j] ?? 0 })
    tf.dispose([lp, nt, b.idx, b.targets, b.mask])
  }
  return out
}

/** Σ log p of each packed row's completions, in batches: [row][completion]. */
export const scorePacked = (model: GPT, hook: ProjectionHook | undefined, rows: ReadonlyArray<PackedRow>, batchSize: number): number[][] => {
  const out: number[][] = []
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rows.slice(i, i + batchSize)
    const p = collatePacked(batch)
    const picked = tf.tidy(() => packedLogProbs(model, hook, p))
    const v = picked.dataSync()
    picked.dispose()
    disposePacked(p)
    let k = 0
    for (const r of batch) out.push(r.reads.map((reads) => reads.reduce((s) => s + (v[k++] ?? NaN), 0)))
  }
  return out
}

export interface EvalOptions {
  readonly blockSize: number
  readonly batchSize: number
}

export const evaluate = (model: GPT, hook: ProjectionHook | undefined, enc: Encoder, data: { examples: ReadonlyArray<Example>; labels: ReadonlyArray<string> }, o: EvalOptions): EvalResult => {
  const { examples, labels } = data
  const labelIds = labels.map((l) => enc.encode(l))
  // Labels grouped by token length: one packed row per (example, group).
  const groups = new Map<number, number[]>()
  labelIds.forEach((ids, i) => groups.set(ids.length, [...(groups.get(ids.length) ?? []), i]))
  const packed: PackedRow[] = []
  const plain: Encoded[] = [] // what cannot be packed: an empty surviving prompt, or a truth outside the labels
  const plan = examples.map((ex) => {
    const p = enc.encode(ex.prompt)
    const where: Array<{ packed: number; slot: number } | { plain: number }> = labels.map(() => ({ plain: -1 }))
    for (const members of groups.values()) {
      const row = packCompletions(p, members.map((i) => labelIds[i] ?? []), o.blockSize, enc.prefix) // BOS first, once, as encodeExample puts it
      if (row === null) for (const i of members) where[i] = { plain: plain.push(encodeExample(enc, { prompt: ex.prompt, completion: labels[i] ?? "" }, o.blockSize)) - 1 }
      else members.forEach((i, slot) => (where[i] = { packed: packed.length, slot }))
      if (row !== null) packed.push(row)
    }
    const truth = labels.includes(ex.completion) ? null : plain.push(encodeExample(enc, ex, o.blockSize)) - 1
    return { where, truth }
  })
  const packedScores = scorePacked(model, hook, packed, o.batchSize)
  const plainScores = scoreSequences(model, hook, plain, o.batchSize)
  const scoreOf = (w: { packed: number; slot: number } | { plain: number }, label: number): Scored =>
    "packed" in w ? { logp: packedScores[w.packed]?.[w.slot] ?? NaN, tokens: labelIds[label]?.length ?? 0 } : (plainScores[w.plain] as Scored)
  const confusion = labels.map(() => labels.map(() => 0))
  let [nll, tokens, labelNll] = [0, 0, 0]
  examples.forEach((ex, e) => {
    const { where, truth: truthPlain } = plan[e] as (typeof plan)[number]
    const mine = where.map((w, i) => scoreOf(w, i))
    const truthIdx = labels.indexOf(ex.completion)
    const truth = truthIdx >= 0 ? (mine[truthIdx] as Scored) : (plainScores[truthPlain ?? -1] as Scored)
    nll -= truth.logp
    tokens += truth.tokens
    const pred = mine.reduce((best, s, i) => (s.logp > (mine[best]?.logp ?? -Infinity) ? i : best), 0)
    const top = Math.max(...mine.map((s) => s.logp))
    labelNll += truthIdx < 0 ? NaN : top + Math.log(mine.reduce((a, s) => a + Math.exp(s.logp - top), 0)) - truth.logp
    const row = confusion[truthIdx]
    if (row !== undefined) row[pred] = (row[pred] ?? 0) + 1
  })
  const evalLoss = nll / Math.max(tokens, 1)
  return { n: examples.length, evalLoss, perplexity: Math.exp(evalLoss), labelLoss: labelNll / Math.max(examples.length, 1), ...classification(confusion), labels, confusion }
}

/** Accuracy and macro-F1 (F1 = 2TP / (2TP + FP + FN), 0 for a label never seen nor predicted). */
export const classification = (confusion: ReadonlyArray<ReadonlyArray<number>>): { accuracy: number; macroF1: number } => {
  const L = confusion.length
  const total = confusion.flat().reduce((a, b) => a + b, 0)
  const diag = confusion.reduce((a, row, i) => a + (row[i] ?? 0), 0)
  let f1 = 0
  for (let k = 0; k < L; k++) {
    const tp = confusion[k]?.[k] ?? 0
    const fn = (confusion[k] ?? []).reduce((a, b) => a + b, 0) - tp
    const fp = confusion.reduce((a, row) => a + (row[k] ?? 0), 0) - tp
    f1 += 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn)
  }
  return { accuracy: total === 0 ? 0 : diag / total, macroF1: L === 0 ? 0 : f1 / L }
}

/** Accuracy of always predicting the most frequent label of `train` on `test`. */
export const majorityAccuracy = (train: ReadonlyArray<Example>, test: ReadonlyArray<Example>): { label: string; accuracy: number } => {
  const counts = new Map<string, number>()
  for (const e of train) counts.set(e.completion, (counts.get(e.completion) ?? 0) + 1)
  const label = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? ""
  return { label, accuracy: test.length === 0 ? 0 : test.filter((e) => e.completion === label).length / test.length }
}

/** `confusion_spam_as_ham`-style metric names (labels trimmed, non-alphanumerics → _). */
export const confusionMetrics = (r: EvalResult): Record<string, number> => {
  const clean = (l: string) => l.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_") || "empty"
  const out: Record<string, number> = {}
  r.labels.forEach((t, i) => r.labels.forEach((p, j) => (out[`confusion_${clean(t)}_as_${clean(p)}`] = r.confusion[i]?.[j] ?? 0)))
  return out
}
