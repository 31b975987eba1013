/** rsLoRA's spec (the maths: ../rslora.ts). Defaults: LoRA's (r = 8, α = 16 — s = 16/√8 ≈ 5.66), as PEFT users switch `use_rslora` on without touching α; the paper's claim is about raising r at fixed α. */
import type { MethodSpec } from "../method-spec.ts"
import { loraDefaults } from "./lora.ts"

export const rsLoRASpec: MethodSpec = {
  name: "rslora",
  peftType: "LORA",
  description: "rsLoRA: LoRA with the rank-stabilized scaling s = α/√r",
  defaults: loraDefaults,
  options: {},
  module: new URL("../rslora.ts", import.meta.url).href,
  specModule: import.meta.url,
  footprint: { form: "low-rank", counts: (ts, r) => ({ trainable: ts.reduce((n, t) => n + r * (t.dIn + t.dOut), 0), frozen: 0 }), writesBase: "none" },
}
