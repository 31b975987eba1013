/** LoRA's spec (the maths: ../lora.ts). Defaults: r = 8, α = 16 (the LoRA repo's RoBERTa recipe), dropout 0, lr 1e-3. */
import type { MethodSpec } from "../method-spec.ts"

export const loraDefaults = { rank: 8, alpha: 16, dropout: 0, lr: 1e-3 } as const

export const loraSpec: MethodSpec = {
  name: "lora",
  peftType: "LORA",
  description: "LoRA: W frozen, ΔW = (α/r)·A·B with A, B trained",
  defaults: loraDefaults,
  options: {},
  module: new URL("../lora.ts", import.meta.url).href,
  specModule: import.meta.url,
  footprint: { form: "low-rank", counts: (ts, r) => ({ trainable: ts.reduce((n, t) => n + r * (t.dIn + t.dOut), 0), frozen: 0 }), writesBase: "none" },
}
