import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { classification, confusionMetrics, evaluate, majorityAccuracy, scorePacked, scoreSequences } from "../../src/adapters/evaluate.ts"
import { packCompletions } from "../../src/model/data/packing.ts"
import { encodeExample, type Encoder } from "../../src/model/data/completion-batches.ts"
import { disposeGPT, forward, type GPT } from "../../src/model/arch/model.ts"
import { makeModel, setupBackend } from "./fixtures.ts"

/** Characters a..z → token ids 1..26, anything else → 0 (fits the tiny model's 32-token vocabulary). */
const enc: Encoder = { encode: (s) => Array.from(s, (c) => Math.max(0, c.charCodeAt(0) - 96)) }
let model: GPT
beforeAll(async () => {
  await setupBackend()
  model = makeModel(2)
})
afterAll(() => disposeGPT(model))

describe("classification", () => {
  it("accuracy and macro-F1 from a hand-computed confusion matrix", () => {
    // true spam: 3 right, 1 as ham; true ham: 2 as spam, 4 right.
    const { accuracy, macroF1 } = classification([[3, 1], [2, 4]])
    expect(accuracy).toBeCloseTo(7 / 10, 12)
    const f1Spam = (2 * 3) / (2 * 3 + 2 + 1)
    const f1Ham = (2 * 4) / (2 * 4 + 1 + 2)
    expect(macroF1).toBeCloseTo((f1Spam + f1Ham) / 2, 12)
  })
  it("majority baseline counts the training labels", () => {
    const tr = [" ham", " ham", " spam"].map((c) => ({ prompt: "x", completion: c }))
    const te = [" ham", " spam", " spam", " spam"].map((c) => ({ prompt: "x", completion: c }))
    expect(majorityAccuracy(tr, te)).toEqual({ label: " ham", accuracy: 0.25 })
  })
})

describe("scoreSequences", () => {
  it("sums log p of the completion tokens, independent of batching and padding", () => {
    const seqs = [
      encodeExample(enc, { prompt: "abc", completion: "de" }, 8),
      encodeExample(enc, { prompt: "x", completion: "y" }, 8),
    ]
    const [one, two] = [scoreSequences(model, undefined, seqs, 1), scoreSequences(model, undefined, seqs, 2)]
    expect(two.map((s) => s.tokens)).toEqual([2, 1])
    two.forEach((s, i) => expect(s.logp).toBeCloseTo(one[i]?.logp ?? NaN, 5))
    // By hand for the second sequence: log softmax of the logits at position 0 picked at "y".
    const lp = tf.tidy(() => tf.logSoftmax(tf.squeeze(forward(model, tf.tensor2d([[24]], [1, 1], "int32")))).dataSync()[25] ?? NaN)
    expect(two[1]?.logp).toBeCloseTo(lp, 5)
  })
})

describe("packed scoring", () => {
  it("lays out prompt and branches: positions continue the prompt, each branch reads its own tokens", () => {
    const row = packCompletions([5, 6, 7], [[1, 2], [3, 4]], 8)
    expect(row && [...row.ids]).toEqual([5, 6, 7, 1, 3])
    expect(row && [...row.positions]).toEqual([0, 1, 2, 3, 3])
    expect(row && [...row.branch]).toEqual([0, 0, 0, 1, 2])
    expect(row?.reads).toEqual([[[2, 1], [3, 2]], [[2, 3], [4, 4]]])
    // Truncated as encodeExample truncates: blockSize 3, completion 2 ⇒ 2 prompt tokens survive.
    expect(row && [...(packCompletions([5, 6, 7], [[1, 2]], 3)?.ids ?? [])]).toEqual([6, 7, 1])
    expect(packCompletions([], [[1, 2]], 3)).toBeNull()
    // Completions of different lengths (the label-restricted loss packs every label): the prompt
    // is cut by the longest, a one-token completion adds no column and is read at the prompt's end.
    const mixed = packCompletions([5, 6, 7, 8], [[1], [2, 3, 4]], 4)
    expect(mixed && [...mixed.ids]).toEqual([7, 8, 2, 3])
    expect(mixed && [...mixed.positions]).toEqual([0, 1, 2, 3])
    expect(mixed?.reads).toEqual([[[1, 1]], [[1, 2], [2, 3], [3, 4]]])
  })
  it("gives each completion the log-probability of its own separate sequence", () => {
    const prompts = ["abcdef", "xy", "a long prompt that is truncated"]
    const completions = ["spam", "hams", "eggs"]
    const rows = prompts.map((p) => packCompletions(enc.encode(p), completions.map((c) => enc.encode(c)), 8))
    const packed = scorePacked(model, undefined, rows.map((r) => r!), 2)
    const separate = scoreSequences(model, undefined, prompts.flatMap((p) => completions.map((c) => encodeExample(enc, { prompt: p, completion: c }, 8))), 3)
    packed.flat().forEach((lp, i) => expect(lp).toBeCloseTo(separate[i]?.logp ?? NaN, 4))
  })
  it("evaluate scores labels of different lengths and a truth outside the labels as separate sequences would", () => {
    const labels = [" no", " yes", " maybe"]
    const examples = [{ prompt: "is it", completion: " yes" }, { prompt: "q", completion: " no" }, { prompt: "well", completion: " other" }]
    const r = evaluate(model, undefined, enc, { examples, labels }, { blockSize: 8, batchSize: 2 })
    const seqs = examples.flatMap((e) => [...labels.map((l) => encodeExample(enc, { prompt: e.prompt, completion: l }, 8)), ...(labels.includes(e.completion) ? [] : [encodeExample(enc, e, 8)])])
    const s = scoreSequences(model, undefined, seqs, 4)
    const truth = [s[1], s[3], s[9]].map((x) => x!)
    expect(r.evalLoss).toBeCloseTo(-truth.reduce((a, x) => a + x.logp, 0) / truth.reduce((a, x) => a + x.tokens, 0), 4)
    const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs))
    const preds = [argmax([0, 1, 2].map((i) => s[i]!.logp)), argmax([3, 4, 5].map((i) => s[i]!.logp))]
    expect(r.accuracy).toBeCloseTo([preds[0] === 1, preds[1] === 0].filter(Boolean).length / 2, 12)
    expect(r.labelLoss).toBeNaN() // a truth outside the labels has no classifier probability
  })
})

describe("evaluate", () => {
  it("predicts the label with the larger log-probability and names confusion metrics", () => {
    const labels = [" spam", " ham"]
    const examples = [{ prompt: "buy now", completion: " spam" }, { prompt: "hello bob", completion: " ham" }, { prompt: "meeting", completion: " ham" }]
    const r = evaluate(model, undefined, enc, { examples, labels }, { blockSize: 8, batchSize: 4 })
    const scores = scoreSequences(model, undefined, examples.flatMap((e) => labels.map((l) => encodeExample(enc, { prompt: e.prompt, completion: l }, 8))), 4)
    const preds = examples.map((_, i) => ((scores[2 * i]?.logp ?? 0) >= (scores[2 * i + 1]?.logp ?? 0) ? 0 : 1))
    const truth = [0, 1, 1]
    expect(r.accuracy).toBeCloseTo(preds.filter((p, i) => p === truth[i]).length / 3, 12)
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(3)
    expect(r.perplexity).toBeCloseTo(Math.exp(r.evalLoss), 12)
    // The classifier's NLL: −log softmax over the two labels' summed log-probabilities at the truth.
    const nll = examples.map((_, i) => {
      const [a, b] = [scores[2 * i]!.logp, scores[2 * i + 1]!.logp]
      const m = Math.max(a, b)
      return m + Math.log(Math.exp(a - m) + Math.exp(b - m)) - (truth[i] === 0 ? a : b)
    })
    expect(r.labelLoss).toBeCloseTo(nll.reduce((x, y) => x + y, 0) / 3, 5)
    expect(Object.keys(confusionMetrics(r))).toEqual(["confusion_spam_as_spam", "confusion_spam_as_ham", "confusion_ham_as_spam", "confusion_ham_as_ham"])
  })
})
