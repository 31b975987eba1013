/**
 * Import of checkpoints written by transformers itself (tests/fixtures/hf, made by
 * bench/hf/make_fixtures.py with transformers 5.17): our own tokenizer ids equal the HF
 * tokenizer's and our logits equal transformers' within 1e-4, for a tied single-file model with
 * tokenizer.json and an untied sharded one with vocab.json + merges.txt only.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { disposeGPT, forward, isLlama } from "../../src/model/arch/model.ts"
import { checkHfFolder, configFromGpt2, HfUnsupported } from "../../src/hf/config.ts"
import { importHfFolder } from "../../src/hf/folder.ts"
import { loadModel, readSafetensors } from "../../src/model/safetensors.ts"
import { loadTokenizer } from "../../src/model/data/tokenizer.ts"

const FIX = join(import.meta.dirname, "..", "fixtures", "hf")
let dir = ""
beforeAll(async () => {
  await tf.setBackend("cpu")
  dir = mkdtempSync(join(tmpdir(), "hf-import-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)))
  return m
}

describe.each([
  ["gpt2-tied", true],
  ["gpt2-untied", false],
])("importing %s (written by transformers)", (name, tied) => {
  it("gives transformers' token ids and logits within 1e-4", () => {
    const out = mkdtempSync(join(dir, `${name}-`))
    const r = importHfFolder(join(FIX, name), out)
    expect(r.config).toMatchObject({ vocabSize: 300, blockSize: 48, nLayer: 2, nHead: 3, nEmbd: 48, tieWeights: tied, layerNormEps: 1e-5 })
    expect(isLlama(r.config) ? 0 : r.config.mlpRatio * r.config.nEmbd).toBe(160)
    const model = loadModel(out)
    const tokenizer = loadTokenizer(join(out, "tokenizer.json"))
    const expected = readSafetensors(join(FIX, name, "expected.safetensors"))
    const prompts = JSON.parse(expected.metadata.prompts ?? "[]") as string[]
    expect(prompts.length).toBe(3)
    prompts.forEach((prompt, i) => {
      const ids = expected.tensors.get(`ids.${i}`)?.data as Int32Array
      expect(tokenizer.encode(prompt)).toEqual([...ids])
      const logits = tf.tidy(() => forward(model, tf.tensor2d([...ids], [1, ids.length], "int32")).dataSync())
      const want = expected.tensors.get(`logits.${i}`)?.data as Float32Array
      const d = maxAbsDiff(logits, want)
      expect(d).toBeLessThan(1e-4)
      expect(d).toBeGreaterThanOrEqual(0)
    })
    disposeGPT(model)
  })
})

describe("unsupported checkpoints fail by field, naming what is supported", () => {
  const base = JSON.parse(readFileSync(join(FIX, "gpt2-tied", "config.json"), "utf8")) as Record<string, unknown>
  const refuse = (patch: Record<string, unknown>, field: string, message: RegExp) => {
    let err: unknown
    try {
      configFromGpt2({ ...base, ...patch })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(HfUnsupported)
    expect((err as HfUnsupported).field).toBe(field)
    expect((err as Error).message).toMatch(message)
  }
  it("model_type, architectures, activation, scaling flags, unknown fields, n_inner", () => {
    refuse({ model_type: "llama" }, "model_type", /"llama" is not supported \(supported: "gpt2"/)
    refuse({ architectures: ["GPT2ForSequenceClassification"] }, "architectures", /supported: \["GPT2LMHeadModel"\]/)
    refuse({ activation_function: "relu" }, "activation_function", /tanh GELU: gelu_new/)
    refuse({ scale_attn_by_inverse_layer_idx: true }, "scale_attn_by_inverse_layer_idx", /needs false/)
    refuse({ rope_scaling: { type: "linear" } }, "rope_scaling", /not supported/)
    refuse({ n_head: 5 }, "n_head", /not divisible/)
    refuse({ n_inner: 29, n_embd: 7, n_head: 1 }, "n_inner", /ratio/)
    refuse({ frobnicate: 1 }, "frobnicate", /field frobnicate is not supported/)
  })
  it("a folder without weights or tokenizer is refused at plan time", () => {
    expect(() => checkHfFolder(join(FIX))).toThrow(/no config.json/)
  })
})
