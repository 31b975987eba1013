/** The plan-time memory estimator on exact configs: its op counts, written out by hand. */
import { describe, expect, it } from "vitest"
import type { GPTConfig, LlamaConfig } from "../../../src/model/arch/config.ts"
import { estimateTrainMemory, layerFloats } from "../../../src/model/arch/memory.ts"
import { trainMemoryInput } from "../../../src/adapters/specs/footprint.ts"

const gpt2: GPTConfig = { vocabSize: 10, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }
const llama: LlamaConfig = {
  arch: "llama", family: "llama", vocabSize: 10, blockSize: 4, maxPositionEmbeddings: 4, nLayer: 1, nHead: 2, nKvHead: 1, headDim: 2, nEmbd: 4, intermediateSize: 6, tieWeights: true,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: "default" }, qkvBias: false, oBias: false, mlpBias: false, slidingWindow: null,
}

describe("layerFloats (B 2, T 3: N 6, S = B·nh·T² = 36)", () => {
  it("GPT-2: norms 2(6NC + 4N) + projections and bias sums 2N(4C + H + C) + attention 5NC + 4S + GELU 9NH + residuals 2NC", () => {
    // 336 + 432 + 264 + 864 + 48
    expect(layerFloats(gpt2, 2, 3)).toBe(1944)
  })
  it("Llama (GQA 2:1): norms 180 + projections 168 + RoPE 180 + repeated k, v 48 + attention 264 + SwiGLU 108 + residuals 48", () => {
    expect(layerFloats(llama, 2, 3)).toBe(996)
  })
})

describe("estimateTrainMemory", () => {
  it("LoRA r 2 on q, v of the tiny GPT-2, every position a completion token", () => {
    const e = estimateTrainMemory(trainMemoryInput({ config: gpt2, batch: 2, seq: 3, headRows: 6, method: "lora", rank: 2, targets: ["q", "v"] }))
    // weights 308; trainables 2·(2·4 + 2·4) = 32 (×3: value, m, v); activations: embedding 3NC 72 + block 1944 + LoRA 2·N(2r + 3·d_out) 192
    // + final norm 6NC 144 = 2352; head K·C + 7·K·V = 444; backward 2·(2352 + 444) + 32 = 5624 (> the step's 32 + 10·32).
    expect(e.tensorBytes).toBe(4 * (308 + 3 * 32 + 5624))
    expect(e.parts).toEqual({ weights: 4 * 308, optimizer: 4 * 96, activations: 4 * 2 * 2352, head: 4 * 2 * 444 })
  })
  it("full fine-tuning trains every weight, with the dense gradients of a tied embedding", () => {
    const e = estimateTrainMemory(trainMemoryInput({ config: gpt2, batch: 2, seq: 3, headRows: 6, method: "full" }))
    // 3·308 for weights and moments; backward 2·(2160 + 444) + 308 + 2·V·C 80
    expect(e.tensorBytes).toBe(4 * (3 * 308 + 2 * (2160 + 444) + 308 + 80))
  })
})
