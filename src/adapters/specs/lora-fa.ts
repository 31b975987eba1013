/** LoRA-FA's spec (the maths: ../lora-fa.ts). */
import { Schema } from "effect"
import type { MethodSpec } from "../method-spec.ts"
import { loraDefaults } from "./lora.ts"

export const loraFASpec: MethodSpec = {
  name: "lora-fa",
  peftType: "LORA",
  description: "LoRA-FA: A frozen at init, B trained with the projected gradient (AᵀA)⁻¹g/s²",
  defaults: loraDefaults,
  options: {
    lorafa_projection: { default: true, doc: "project B's gradient (paper v2); false = plain frozen A (v1)", schema: Schema.Boolean },
  },
  module: new URL("../lora-fa.ts", import.meta.url).href,
  specModule: import.meta.url,
}
