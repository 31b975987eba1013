/**
 * The fine-tuning losses (src/model/losses.ts) against their definitions written the slow way:
 * the completion loss against the masked cross-entropy of every position, the label-restricted
 * loss against each label scored as its own sequence. Values and every gradient, on cpu and
 * on the default test backend.
 */
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CompletionBatches, collate, encodeExample, type Encoder } from "../../src/model/data/completion-batches.ts"
import { disposeGPT, forward, maskedCrossEntropy, type GPT } from "../../src/model/arch/model.ts"
import { completionLoss, disposeTrainBatch, isLabelBatch, labelLoss, type LabelBatch } from "../../src/model/losses.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { getMethod } from "../../src/adapters/index.ts"
import { disposeBatch, makeAdapter, makeBatch, makeModel, setupBackend } from "../adapters/fixtures.ts"

/** Tokens = char codes mod 32 (the tiny model's vocabulary). */
const enc: Encoder = { encode: (s) => Array.from(s, (c) => c.charCodeAt(0) % 32) }
const LABELS = [" no", " yes", " x"] // 3, 4 and 2 tokens: branches of different lengths
const examples = [
  { prompt: "hij:", completion: " yes" },
  { prompt: "qr:", completion: " no" },
  { prompt: "mnop:", completion: " x" },
  { prompt: "z:", completion: " yes" },
]

let model: GPT
beforeAll(async () => {
  await setupBackend()
  model = makeModel(5)
})
afterAll(() => disposeGPT(model))

const vars = () => [...model.params.values()]
const grads = (f: () => tf.Scalar) => {
  const { value, grads } = tf.variableGrads(f, vars())
  const out = { value: value.dataSync()[0] ?? NaN, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])) }
  tf.dispose([value, ...Object.values(grads)])
  return out
}
const expectClose = (a: ReturnType<typeof grads>, b: ReturnType<typeof grads>, tol: number) => {
  expect(Math.abs(a.value - b.value)).toBeLessThan(tol * Math.max(1, Math.abs(b.value)))
  expect(Object.keys(a.grads).sort()).toEqual(Object.keys(b.grads).sort())
  for (const [k, g] of Object.entries(a.grads)) {
    const r = b.grads[k] ?? []
    const scale = Math.max(1e-3, ...r.map(Math.abs))
    g.forEach((x, i) => expect(Math.abs(x - (r[i] ?? NaN)) / scale, `${k}[${i}]`).toBeLessThan(tol))
  }
}

describe("completion loss", () => {
  it("equals the masked cross-entropy over every position, value and gradients", () => {
    const b = makeBatch(7)
    expectClose(
      grads(() => completionLoss(model, undefined, b)),
      grads(() => maskedCrossEntropy(forward(model, b.idx), b.targets, b.mask)),
      1e-5,
    )
    disposeBatch(b)
  })
})

describe("label-restricted loss", () => {
  /** The definition: each label as its own sequence, Σ log p of its tokens, log-softmax over labels. */
  const reference = (): tf.Scalar =>
    tf.tidy(() => {
      const per = examples.map((ex) => {
        const seqs = LABELS.map((l) => encodeExample(enc, { prompt: ex.prompt, completion: l }, model.config.blockSize))
        const scores = seqs.map((s) => {
          const c = collate([s])
          const logp = tf.logSoftmax(tf.reshape(forward(model, c.idx), [-1, model.config.vocabSize]))
          const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(c.targets, [-1]), model.config.vocabSize)), -1)
          return tf.sum(tf.mul(picked, tf.reshape(c.mask, [-1])))
        })
        return tf.neg(tf.gather(tf.logSoftmax(tf.stack(scores)), LABELS.indexOf(ex.completion)))
      })
      return tf.mean(tf.stack(per)) as tf.Scalar
    })

  it("equals each label scored as its own sequence, value and gradients", () => {
    // Every prompt fits (≤ blockSize + 1 − 4 tokens): labels of different lengths truncate a long
    // prompt by the longest label (packing.test.ts), separate sequences each by their own.
    const batches = new CompletionBatches(examples, enc, model.config.blockSize, { batchSize: 4, seed: 0, loss: "labels", labels: LABELS })
    const b = batches.at(0) as LabelBatch
    expect(isLabelBatch(b)).toBe(true)
    // batch 0 is a permutation of the 4 examples: put the reference in the same order.
    const order = Array.from(b.truth.dataSync())
    expect(order.slice().sort()).toEqual(examples.map((e) => LABELS.indexOf(e.completion)).sort())
    const ours = grads(() => labelLoss(model, undefined, b))
    const ref = grads(reference) // the mean over examples does not depend on their order
    expectClose(ours, ref, 1e-4)
    disposeTrainBatch(b)
  })

  it("refuses a task without a label set and a completion outside it", () => {
    expect(() => new CompletionBatches(examples, enc, 8, { batchSize: 2, seed: 0, loss: "labels", labels: [] })).toThrow(/needs a task with a label set/)
    expect(() => new CompletionBatches(examples, enc, 8, { batchSize: 2, seed: 0, loss: "labels", labels: [" no", " yes"] })).toThrow(/example 2: completion " x" is not one of the labels/)
  })

  it("leaves no tensor behind per training step", () => {
    const batches = new CompletionBatches(examples, enc, model.config.blockSize, { batchSize: 2, seed: 1, loss: "labels", labels: LABELS })
    const adapter = makeAdapter(getMethod("lora"), model)
    const tr = new Trainer(model, adapter, { weightDecay: 0.01, gradClip: 1, seed: 0 })
    const step = (t: number) => {
      const b = batches.at(t)
      try {
        return tr.step(b, 1e-2, t).loss
      } finally {
        disposeTrainBatch(b)
      }
    }
    step(0)
    const before = tf.memory().numTensors
    const losses = [1, 2, 3, 4].map(step)
    expect(tf.memory().numTensors).toBe(before)
    expect(losses.every(Number.isFinite)).toBe(true)
    tr.dispose()
    adapter.dispose()
  })
})
