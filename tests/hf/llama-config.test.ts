/**
 * Llama-family config.json → LlamaConfig: what each family fixes, both rope spellings, the
 * refusals (exit 2 at plan time, naming the field), block_size, Mistral's sliding window
 * against transformers, and the config written back on export.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkHfFolderProblems } from "../../src/hf/check.ts"
import { checkHfFolder, HfUnsupported } from "../../src/hf/config.ts"
import { importHfFolder } from "../../src/hf/folder.ts"
import { configFromLlama, llamaConfigJson } from "../../src/hf/llama-config.ts"
import { disposeGPT, forward } from "../../src/model/arch/model.ts"
import { inverseFrequencies } from "../../src/model/arch/rope.ts"
import { loadModel, readSafetensors } from "../../src/model/safetensors.ts"

const FIX = join(import.meta.dirname, "..", "fixtures", "hf")
const json = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIX, name, "config.json"), "utf8")) as Record<string, unknown>
const refused = (raw: Record<string, unknown>): HfUnsupported => {
  try {
    configFromLlama(raw)
  } catch (e) {
    if (e instanceof HfUnsupported) return e
    throw e
  }
  throw new Error("accepted")
}

let dir = ""
beforeAll(async () => {
  await tf.setBackend("cpu")
  dir = mkdtempSync(join(tmpdir(), "llama-config-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("config.json of the Llama family", () => {
  it("reads each fixture as transformers built it", () => {
    expect(configFromLlama(json("llama-tiny"))).toMatchObject({ arch: "llama", family: "llama", nLayer: 2, nHead: 4, nKvHead: 2, headDim: 16, nEmbd: 64, intermediateSize: 96, tieWeights: false, qkvBias: true, oBias: true, mlpBias: true, slidingWindow: null, ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 } })
    expect(configFromLlama(json("qwen2-tiny"))).toMatchObject({ family: "qwen2", headDim: 24, tieWeights: true, qkvBias: true, oBias: false, mlpBias: false, ropeTheta: 1e6, ropeScaling: { type: "default" } })
    expect(configFromLlama(json("mistral-tiny"))).toMatchObject({ family: "mistral", nKvHead: 1, qkvBias: false, oBias: false, mlpBias: false, slidingWindow: 4096, ropeScaling: { type: "linear", factor: 2 } })
  })

  it("reads the older spelling: rope_scaling with `type` and a top-level rope_theta", () => {
    const { rope_parameters: _, ...old } = json("llama-tiny")
    const cfg = configFromLlama({ ...old, rope_theta: 500000, rope_scaling: { type: "linear", factor: 4 } })
    expect(cfg.ropeTheta).toBe(500000)
    expect(cfg.ropeScaling).toEqual({ type: "linear", factor: 4 })
    expect(configFromLlama({ ...old, rope_scaling: null }).ropeScaling).toEqual({ type: "default" })
  })

  it("refuses what it cannot reproduce, naming the field", () => {
    const llama = json("llama-tiny")
    expect(refused({ ...llama, rope_parameters: { rope_type: "yarn", rope_theta: 1e4, factor: 4 } })).toMatchObject({ field: "rope_parameters.rope_type", message: expect.stringMatching(/"yarn" is not supported \(supported: default, linear, llama3\)/) })
    expect(refused({ ...llama, rope_parameters: { rope_type: "dynamic", rope_theta: 1e4, factor: 2 } }).message).toMatch(/"dynamic"/)
    expect(refused({ ...llama, hidden_act: "gelu" }).field).toBe("hidden_act")
    expect(refused({ ...llama, attention_dropout: 0.1 }).field).toBe("attention_dropout")
    expect(refused({ ...llama, some_new_field: 1 })).toMatchObject({ field: "some_new_field", message: expect.stringMatching(/field some_new_field is not supported/) })
    expect(refused({ ...llama, num_key_value_heads: 3 }).message).toMatch(/num_attention_heads 4 is not a multiple of num_key_value_heads 3/)
    expect(refused({ ...llama, quantization_config: { quant_method: "bitsandbytes" } }).field).toBe("quantization_config")
    expect(refused({ ...json("qwen2-tiny"), use_sliding_window: true }).field).toBe("use_sliding_window")
    expect(refused({ ...json("qwen2-tiny"), layer_types: ["sliding_attention", "full_attention"] }).field).toBe("layer_types")
    expect(refused({ ...llama, architectures: ["Qwen2ForCausalLM"] }).field).toBe("architectures")
  })

  it("block_size caps the sequences (default min(512, max_position_embeddings)); more than the checkpoint's positions is refused", () => {
    expect(checkHfFolder(join(FIX, "llama-tiny")).blockSize).toBe(64)
    expect(checkHfFolder(join(FIX, "llama-tiny"), 16).blockSize).toBe(16)
    expect(checkHfFolderProblems(join(FIX, "llama-tiny"), 65)).toEqual([{ param: "block_size", message: expect.stringMatching(/block_size 65 exceeds the checkpoint's max_position_embeddings 64/) }])
    expect(checkHfFolderProblems(join(FIX, "gpt2-tied"), 16)).toEqual([{ param: "block_size", message: expect.stringMatching(/learned positions fix it at n_positions = 48/) }])
  })

  it("writes back the config transformers reads, in the family it came from", () => {
    for (const name of ["llama-tiny", "qwen2-tiny", "mistral-tiny"]) {
      const theirs = json(name)
      const ours = llamaConfigJson(configFromLlama(theirs))
      for (const k of ["model_type", "architectures", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_parameters", "tie_word_embeddings", "vocab_size"])
        expect(ours[k], `${name}.${k}`).toEqual(theirs[k])
      expect(configFromLlama(ours)).toEqual(configFromLlama(theirs))
    }
  })
})

describe("rotary frequencies", () => {
  it("llama3: wavelengths above L/low are divided by the factor, below L/high kept, a ramp between", () => {
    const plain = inverseFrequencies(16, 10000, { type: "default" })
    const l3 = inverseFrequencies(16, 10000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 })
    const wavelen = [...plain].map((f) => (2 * Math.PI) / f) // 6.3, 19.9, 62.8, …
    expect(l3[0]).toBe(plain[0]) // 6.3 < 32/4: kept
    expect(wavelen[1]).toBeGreaterThan(8)
    expect(wavelen[1]).toBeLessThan(32)
    const s = (32 / wavelen[1]! - 1) / (4 - 1)
    expect(Math.abs(l3[1]! - ((1 - s) * (plain[1]! / 8) + s * plain[1]!))).toBeLessThan(1e-7 * plain[1]!) // float32 rounding of the ramp
    for (let i = 2; i < 8; i++) expect(l3[i]).toBe(Math.fround(plain[i]! / 8))
    expect([...inverseFrequencies(16, 10000, { type: "linear", factor: 2 })]).toEqual([...plain].map((f) => Math.fround(f / 2)))
  })
})

describe("Mistral's sliding window", () => {
  it("with a window shorter than the sequence, logits match transformers (window 5, 12 tokens) and differ from full attention", () => {
    const src = join(dir, "mistral-w5")
    cpSync(join(FIX, "mistral-tiny"), src, { recursive: true })
    writeFileSync(join(src, "config.json"), JSON.stringify({ ...json("mistral-tiny"), sliding_window: 5 }))
    const art = mkdtempSync(join(dir, "art-"))
    importHfFolder(src, art, 12)
    const model = loadModel(art)
    const exp = readSafetensors(join(FIX, "mistral-tiny", "expected-window5.safetensors")).tensors
    const ids = tf.tensor2d(exp.get("input_ids")?.data as Int32Array, [2, 12], "int32")
    const y = tf.tidy(() => forward(model, ids)).dataSync()
    const want = exp.get("logits")?.data ?? []
    let diff = 0
    for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs((y[i] ?? 0) - (want[i] ?? 0)))
    expect(diff).toBeLessThan(1e-4)
    const full = readSafetensors(join(FIX, "mistral-tiny", "expected.safetensors")).tensors.get("logits")?.data ?? []
    let apart = 0
    for (let i = 0; i < y.length; i++) apart = Math.max(apart, Math.abs((y[i] ?? 0) - (full[i] ?? 0)))
    expect(apart).toBeGreaterThan(1e-3) // the window bit: positions ≥ 5 lost their first keys
    ids.dispose()
    disposeGPT(model)
  })
})
