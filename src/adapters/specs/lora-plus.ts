/** LoRA+'s spec (the maths: ../lora-plus.ts). Default λ = 16 (the paper's rule of thumb). */
import { Schema } from "effect"
import type { MethodSpec } from "../method-spec.ts"
import { loraDefaults, loraSpec } from "./lora.ts"

export const loraPlusSpec: MethodSpec = {
  name: "lora-plus",
  peftType: "LORA",
  description: "LoRA+: LoRA with B trained at loraplus_ratio × the learning rate",
  defaults: loraDefaults,
  options: {
    loraplus_ratio: { default: 16, doc: "λ: B's learning rate over A's", schema: Schema.Number.check(Schema.isGreaterThan(0)) },
  },
  module: new URL("../lora-plus.ts", import.meta.url).href,
  specModule: import.meta.url,
  footprint: { ...loraSpec.footprint },
}
