import * as tf from "@tensorflow/tfjs"
import { beforeAll, describe, expect, it } from "vitest"
import { batchIndices, collate, CompletionBatches, encodeExample, type Encoder } from "../../../src/model/data/completion-batches.ts"
import { disposeTrainBatch, isLabelBatch } from "../../../src/model/losses.ts"

beforeAll(async () => {
  await tf.setBackend("cpu")
})

/** One token per character: ids are char codes, so expectations can be written by hand. */
const chars: Encoder = { encode: (s) => Array.from(s, (c) => c.charCodeAt(0)) }
const code = (s: string) => Array.from(s, (c) => c.charCodeAt(0))

describe("encodeExample", () => {
  it("keeps prompt and completion when they fit", () => {
    const e = encodeExample(chars, { prompt: "ab:", completion: " s" }, 8)
    expect(Array.from(e.ids)).toEqual(code("ab: s"))
    expect(e.completionStart).toBe(3)
  })
  it("drops the start of a long prompt, never the completion", () => {
    const e = encodeExample(chars, { prompt: "abcdefgh:", completion: " s" }, 4) // 5 tokens kept
    expect(Array.from(e.ids)).toEqual(code("gh: s"))
    expect(e.completionStart).toBe(3)
  })
  it("refuses a completion longer than the block", () => {
    expect(() => encodeExample(chars, { prompt: "a", completion: "toolong" }, 4)).toThrow(/does not fit/)
  })
  it("puts the tokenizer's prefix (a BOS) first, once, and truncates the prompt after it", () => {
    const bos: Encoder = { encode: chars.encode, prefix: [1] }
    const e = encodeExample(bos, { prompt: "abcdefgh:", completion: " s" }, 4) // 5 tokens: BOS + 2 of the prompt + 2
    expect(Array.from(e.ids)).toEqual([1, ...code("h: s")])
    expect(e.completionStart).toBe(3)
    expect(Array.from(encodeExample(bos, { prompt: "\u0001ab:", completion: " s" }, 8).ids)).toEqual([1, ...code("ab: s")]) // already there: not twice
    expect(Array.from(encodeExample(bos, { prompt: "ab:", completion: "xyz" }, 3).ids)).toEqual([1, ...code("xyz")])
    expect(() => encodeExample(bos, { prompt: "ab:", completion: "wxyz" }, 3)).toThrow(/after the 1-token prefix/)
  })
})

describe("collate", () => {
  it("shifts targets by one, masks prompt and padding", () => {
    const b = collate([encodeExample(chars, { prompt: "ab", completion: "c" }, 8), encodeExample(chars, { prompt: "x", completion: "yz" }, 8)])
    expect(b.idx.shape).toEqual([2, 2])
    expect(Array.from(b.idx.dataSync())).toEqual([...code("ab"), ...code("xy")])
    expect(Array.from(b.targets.dataSync())).toEqual([...code("bc"), ...code("yz")])
    expect(Array.from(b.mask.dataSync())).toEqual([0, 1, 1, 1])
    tf.dispose([b.idx, b.targets, b.mask])
  })
})

describe("batchIndices", () => {
  it("each epoch visits every example once", () => {
    const seen = [0, 1, 2].flatMap((t) => batchIndices(6, 2, 5, t))
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5])
    const next = [3, 4, 5].flatMap((t) => batchIndices(6, 2, 5, t))
    expect([...next].sort()).toEqual([0, 1, 2, 3, 4, 5])
    expect(next).not.toEqual(seen) // a new shuffle per epoch
  })
  it("is a pure function of (seed, step) and changes with the seed", () => {
    expect(batchIndices(100, 8, 1, 37)).toEqual(batchIndices(100, 8, 1, 37))
    expect(batchIndices(100, 8, 2, 37)).not.toEqual(batchIndices(100, 8, 1, 37))
  })
})

describe("CompletionBatches", () => {
  it("serves the same batch for the same step, whatever was asked before", () => {
    const ex = Array.from({ length: 10 }, (_, i) => ({ prompt: `p${i}:`, completion: i % 2 ? " s" : " h" }))
    const a = new CompletionBatches(ex, chars, 8, { batchSize: 3, seed: 4 })
    const b = new CompletionBatches(ex, chars, 8, { batchSize: 3, seed: 4 })
    disposeTrainBatch(a.at(0))
    const [x, y] = [a.at(7), b.at(7)]
    if (isLabelBatch(x) || isLabelBatch(y)) throw new Error("the default loss serves completion batches")
    expect(Array.from(x.idx.dataSync())).toEqual(Array.from(y.idx.dataSync()))
    ;[x, y].forEach(disposeTrainBatch)
  })
})
