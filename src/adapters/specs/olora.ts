/** OLoRA's spec (the maths: ../olora.ts). Defaults: r = 8, α = 8 (s = 1: W − s·Q_r·R_r removes exactly the rank-r part the factors hold), lr 1e-3 (LoRA's). */
import type { MethodSpec } from "../method-spec.ts"

export const oloraSpec: MethodSpec = {
  name: "olora",
  peftType: "LORA",
  description: "OLoRA: LoRA whose A, B start at W's QR factors (B = Q[:, :r], A = R[:r]); the frozen part is W − s·A₀·B₀",
  defaults: { rank: 8, alpha: 8, dropout: 0, lr: 1e-3 },
  options: {},
  module: new URL("../olora.ts", import.meta.url).href,
  specModule: import.meta.url,
  // A, B trained; the initial A₀, B₀ kept frozen (the base stays the original W).
  footprint: { form: "low-rank", counts: (ts, r) => { const n = ts.reduce((k, t) => k + r * (t.dIn + t.dOut), 0); return { trainable: n, frozen: n } }, writesBase: "none" },
}
