/** Oracle 8: the parameter-count formulas, cross-checked on Llama-3.2-3B's shapes (no model built). */
import { describe, expect, it } from "vitest"
import { getMethod } from "../../src/adapters/index.ts"
import { resolveSettings } from "../../src/adapters/settings.ts"

// q_proj 3072→3072 and v_proj 3072→1024 in each of 28 layers.
const llama = Array.from({ length: 28 }, () => [{ dIn: 3072, dOut: 3072 }, { dIn: 3072, dOut: 1024 }]).flat()
const trainable = (name: string, rank: number) => {
  const m = getMethod(name)
  return m.counts(llama, resolveSettings(m, { rank })).trainable
}

describe("parameter counts", () => {
  it("match the published Llama-3.2-3B cross-check", () => {
    expect(trainable("lora", 32)).toBe(9_175_040)
    expect(trainable("lora-fa", 32)).toBe(3_670_016)
    expect(trainable("vera", 256)).toBe(129_024)
  })
  it("LoRA+ and Delta-LoRA train what LoRA trains", () => {
    expect(trainable("lora-plus", 32)).toBe(9_175_040)
    expect(trainable("delta-lora", 32)).toBe(9_175_040)
  })
  it("frozen adapter parameters: LoRA-FA's A per matrix, VeRA's shared pair once", () => {
    const m = getMethod("lora-fa")
    expect(m.counts(llama, resolveSettings(m, { rank: 32 })).frozenAdapter).toBe(56 * 32 * 3072)
    const v = getMethod("vera")
    expect(v.counts(llama, resolveSettings(v, { rank: 256 })).frozenAdapter).toBe(256 * (3072 + 3072))
  })
})
