/**
 * Held-out evaluation of a prompt → label task: completion loss and perplexity on the true
 * completions, and classification by the argmax over labels of the completion's summed
 * log-probability (accuracy, macro-F1, confusion counts).
 */
import * as tf from "@tensorflow/tfjs"
import { forward, type GPT, type ProjectionHook } from "../model/gpt.ts"
import { collate, encodeExample, type Encoded, type Encoder, type Example } from "../model/completion-batches.ts"

export interface EvalResult {
  readonly n: number
  /** Mean NLL per completion token of the true completions. */
  readonly evalLoss: number
  readonly perplexity: number
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

export interface EvalOptions {
  readonly blockSize: number
  readonly batchSize: number
}

export const evaluate = (model: GPT, hook: ProjectionHook | undefined, enc: Encoder, data: { examples: ReadonlyArray<Example>; labels: ReadonlyArray<string> }, o: EvalOptions): EvalResult => {
  const { examples, labels } = data
  const L = labels.length
  // Per example: every label, then the true completion when it is not one of them.
  const seqs: Encoded[] = []
  for (const ex of examples) {
    for (const l of labels) seqs.push(encodeExample(enc, { prompt: ex.prompt, completion: l }, o.blockSize))
    if (!labels.includes(ex.completion)) seqs.push(encodeExample(enc, ex, o.blockSize))
  }
  const scores = scoreSequences(model, hook, seqs, o.batchSize)
  const confusion = labels.map(() => labels.map(() => 0))
  let [nll, tokens, at] = [0, 0, 0]
  for (const ex of examples) {
    const mine = scores.slice(at, at + L)
    const truthIdx = labels.indexOf(ex.completion)
    const truth = truthIdx >= 0 ? (mine[truthIdx] as Scored) : (scores[at + L] as Scored)
    at += L + (truthIdx >= 0 ? 0 : 1)
    nll -= truth.logp
    tokens += truth.tokens
    const pred = mine.reduce((best, s, i) => (s.logp > (mine[best]?.logp ?? -Infinity) ? i : best), 0)
    const row = confusion[truthIdx]
    if (row !== undefined) row[pred] = (row[pred] ?? 0) + 1
  }
  const evalLoss = nll / Math.max(tokens, 1)
  return { n: examples.length, evalLoss, perplexity: Math.exp(evalLoss), ...classification(confusion), labels, confusion }
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
