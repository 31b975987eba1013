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
  // A (d_in, r) frozen, B (r, d_out) trained.
  footprint: { form: "low-rank", counts: (ts, r) => ({ trainable: ts.reduce((n, t) => n + r * t.dOut, 0), frozen: ts.reduce((n, t) => n + r * t.dIn, 0) }), writesBase: "none" },
}
