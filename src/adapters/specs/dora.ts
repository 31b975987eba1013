/** DoRA's spec (the maths: ../dora.ts). Defaults: LoRA's (r = 8, α = 16, lr 1e-3), so "DoRA above LoRA at equal rank" compares the two at the same settings, as the paper does. */
import type { MethodSpec } from "../method-spec.ts"
import { loraDefaults } from "./lora.ts"

export const doraSpec: MethodSpec = {
  name: "dora",
  peftType: "LORA",
  description: "DoRA: W' = m ⊙ (W + s·A·B)/‖W + s·A·B‖ per output unit; A, B and the magnitude m trained",
  defaults: loraDefaults,
  options: {},
  module: new URL("../dora.ts", import.meta.url).href,
  specModule: import.meta.url,
  // LoRA's A and B plus the magnitude m (d_out) per target.
  footprint: { form: "low-rank", counts: (ts, r) => ({ trainable: ts.reduce((n, t) => n + r * (t.dIn + t.dOut) + t.dOut, 0), frozen: 0 }), writesBase: "none" },
}
