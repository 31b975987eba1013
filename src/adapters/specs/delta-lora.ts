/** Delta-LoRA's spec (the maths: ../delta-lora.ts). */
import { Schema } from "effect"
import type { MethodSpec } from "../method-spec.ts"
import { loraDefaults, loraSpec } from "./lora.ts"

export const deltaLoRASpec: MethodSpec = {
  name: "delta-lora",
  peftType: "DELTA_LORA",
  description: "Delta-LoRA: LoRA without dropout, and W ← W + λ·s·(A'B' − AB) after every step past K",
  defaults: loraDefaults,
  options: {
    delta_lambda: { default: 2, doc: "λ: how much of the change of A·B is also written into W", schema: Schema.Finite },
    delta_k: {
      default: 20,
      doc: "K: W is updated after steps t > K (0-based); −1 updates from the first step",
      schema: Schema.Int.check(Schema.isGreaterThanOrEqualTo(-1)),
    },
  },
  module: new URL("../delta-lora.ts", import.meta.url).href,
  specModule: import.meta.url,
  footprint: { ...loraSpec.footprint, writesBase: "targets" },
}
