/**
 * (IA)³'s spec (the maths: ../ia3.ts). No rank, α or dropout (recorded as 0). lr 3e-3: the
 * T-Few paper's rate for its (IA)³ vectors. The paper adapts k, v and the MLP's down
 * projection: say `targets: [k, v, mlp_down]` (attach-adapter's default targets are q, v).
 */
import type { MethodSpec } from "../method-spec.ts"

export const ia3Spec: MethodSpec = {
  name: "ia3",
  peftType: "IA3",
  description: "(IA)³: a learned vector scales each target's output (x·W + b), or the MLP down projection's input; init 1",
  defaults: { rank: 1, alpha: 1, dropout: 0, lr: 3e-3 },
  options: {},
  module: new URL("../ia3.ts", import.meta.url).href,
  specModule: import.meta.url,
  // One vector per target: d_out wide, or d_in for the MLP's down projection (its input is scaled).
  footprint: { form: "weight", counts: (ts) => ({ trainable: ts.reduce((n, t) => n + (t.proj === "mlp_down" ? t.dIn : t.dOut), 0), frozen: 0 }), writesBase: "none" },
}
