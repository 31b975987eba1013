/** PiSSA's spec (the maths: ../pissa.ts). Defaults: r = 8, α = 8 (s = 1: the PiSSA scripts set α = r, so s·A·B is exactly W's top-r part), lr 1e-3 (LoRA's: the paper compares at equal rates). */
import type { MethodSpec } from "../method-spec.ts"

export const pissaSpec: MethodSpec = {
  name: "pissa",
  peftType: "LORA",
  description: "PiSSA: LoRA whose A, B start at W's top-r singular triplets; the frozen part is W − s·A₀·B₀",
  defaults: { rank: 8, alpha: 8, dropout: 0, lr: 1e-3 },
  options: {},
  module: new URL("../pissa.ts", import.meta.url).href,
  specModule: import.meta.url,
  // A, B trained; the initial A₀, B₀ kept frozen (the base stays the original W).
  footprint: { form: "low-rank", counts: (ts, r) => { const n = ts.reduce((k, t) => k + r * (t.dIn + t.dOut), 0); return { trainable: n, frozen: n } }, writesBase: "none" },
}
