/** Full fine-tuning's spec (the maths: ../full.ts). No adapter, no options; lr 3e-4 (a common full fine-tuning rate for small transformers; tune it with `select`). */
import type { MethodSpec } from "../method-spec.ts"

export const fullSpec: MethodSpec = {
  name: "full",
  peftType: "FULL",
  description: "Full fine-tuning: every weight of the model trained, no adapter",
  defaults: { rank: 1, alpha: 1, dropout: 0, lr: 3e-4 },
  options: {},
  module: new URL("../full.ts", import.meta.url).href,
  specModule: import.meta.url,
  footprint: { form: "full", counts: () => ({ trainable: 0, frozen: 0 }), writesBase: "all" },
}
