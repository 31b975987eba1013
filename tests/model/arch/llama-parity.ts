/**
 * The Llama family against the real transformers 5.17 (fixtures written by
 * bench/hf/make_llama_fixtures.py: llama-tiny — bf16, sharded, llama3 rope, attention and MLP
 * biases, untied; qwen2-tiny — head_dim 24 ≠ 64/4, q/k/v biases, tied; mistral-tiny — one KV
 * head, linear rope, sliding_window 4096): each checkpoint imported by load-model's code, then
 * logits, the loss and every parameter's gradient within 1e-4 of torch's. One test file per
 * backend calls `llamaParity` (llama-parity.<backend>.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { importHfFolder } from "../../../src/hf/folder.ts"
import { toLlamaTensors } from "../../../src/hf/llama.ts"
import { disposeGPT, forward, isLlama, maskedCrossEntropy, type GPT } from "../../../src/model/arch/model.ts"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { loadModel, readSafetensors, type ReadTensor } from "../../../src/model/safetensors.ts"

const FIX = join(import.meta.dirname, "..", "..", "fixtures", "hf")
export const LLAMA_FIXTURES = ["llama-tiny", "qwen2-tiny", "mistral-tiny"] as const

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)))
  return m
}

export const llamaParity = (backend: "cpu" | "wasm" | "native"): void => {
  let dir = ""
  beforeAll(async () => {
    await initBackend(backend)
    dir = mkdtempSync(join(tmpdir(), "llama-parity-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  describe.each(LLAMA_FIXTURES)(`${backend}: %s`, (name) => {
    let model: GPT
    let expected: Map<string, ReadTensor>
    let ids: tf.Tensor2D
    let targets: tf.Tensor2D
    beforeAll(() => {
      const art = mkdtempSync(join(dir, `${name}-`))
      importHfFolder(join(FIX, name), art, 12)
      model = loadModel(art)
      expected = readSafetensors(join(FIX, name, "expected.safetensors")).tensors
      const t = (k: string) => expected.get(k) as ReadTensor
      ids = tf.tensor2d(t("input_ids").data as Int32Array, [2, 12], "int32")
      targets = tf.tensor2d(t("targets").data as Int32Array, [2, 12], "int32")
    })
    afterAll(() => {
      tf.dispose([ids, targets])
      disposeGPT(model)
    })

    it("logits within 1e-4 of transformers", () => {
      const y = tf.tidy(() => forward(model, ids))
      expect(y.shape).toEqual([2, 12, model.config.vocabSize])
      expect(maxAbsDiff(y.dataSync(), expected.get("logits")?.data ?? [])).toBeLessThan(1e-4)
      y.dispose()
    })

    it("one training step's loss and every gradient within 1e-4 of torch", () => {
      const params = [...model.params.values()]
      const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, ids), targets), params)
      expect(Math.abs(value.dataSync()[0]! - (expected.get("loss")?.data[0] ?? NaN))).toBeLessThan(1e-4)
      const byName = new Map([...model.params].map(([n, v]) => [n, { shape: v.shape, data: grads[v.name]!.dataSync() as Float32Array }]))
      if (!isLlama(model.config)) throw new Error("not a Llama-family config")
      const hf = toLlamaTensors(model.config, byName) // our names and layout → transformers'
      const want = [...expected.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice(5)).sort()
      expect(hf.map((t) => t.name).sort()).toEqual(want)
      for (const t of hf) {
        const e = expected.get(`grad.${t.name}`) as ReadTensor
        expect(t.shape, t.name).toEqual([...e.shape])
        expect(maxAbsDiff(t.data, e.data), t.name).toBeLessThan(1e-4)
      }
      tf.dispose([value, ...Object.values(grads)])
    })
  })
}
