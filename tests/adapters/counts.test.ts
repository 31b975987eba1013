/** Oracle 8: the parameter-count formulas, cross-checked on Llama-3.2-3B's shapes (no model built). */
import { describe, expect, it } from "vitest"
import { getMethod } from "../../src/adapters/index.ts"
import { resolveSettings } from "../../src/adapters/settings.ts"

// q_proj 3072→3072 and v_proj 3072→1024 in each of 28 layers.
const llama = Array.from({ length: 28 }, () => [{ proj: "q" as const, dIn: 3072, dOut: 3072 }, { proj: "v" as const, dIn: 3072, dOut: 1024 }]).flat()
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
  it("DoRA adds a magnitude per output unit; rsLoRA, PiSSA and OLoRA train what LoRA trains; (IA)³ one scale per output", () => {
    expect(trainable("dora", 32)).toBe(9_175_040 + 28 * (3072 + 1024))
    expect(trainable("rslora", 32)).toBe(9_175_040)
    expect(trainable("pissa", 32)).toBe(9_175_040)
    expect(trainable("olora", 32)).toBe(9_175_040)
    expect(trainable("ia3", 1)).toBe(28 * (3072 + 1024))
    // (IA)³ on the MLP's down projection scales its input: d_in entries (Llama-3.2-3B: 8192 → 3072).
    const ia3 = getMethod("ia3")
    expect(ia3.counts([{ proj: "mlp_down", dIn: 8192, dOut: 3072 }], resolveSettings(ia3, {})).trainable).toBe(8192)
  })
  it("frozen adapter parameters: PiSSA's and OLoRA's initial factors, as many as the trained ones", () => {
    for (const name of ["pissa", "olora"]) {
      const m = getMethod(name)
      expect(m.counts(llama, resolveSettings(m, { rank: 32 })).frozenAdapter).toBe(9_175_040)
    }
  })
  it("frozen adapter parameters: LoRA-FA's A per matrix, VeRA's shared pair once", () => {
    const m = getMethod("lora-fa")
    expect(m.counts(llama, resolveSettings(m, { rank: 32 })).frozenAdapter).toBe(56 * 32 * 3072)
    const v = getMethod("vera")
    expect(v.counts(llama, resolveSettings(v, { rank: 256 })).frozenAdapter).toBe(256 * (3072 + 3072))
  })
})
