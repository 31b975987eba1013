/** VeRA's spec (the maths: ../vera.ts). Defaults: r = 256 (PEFT's), lr 1e-2 (the paper trains VeRA's few parameters with a much larger rate than LoRA). */
import { Schema } from "effect"
import type { MethodSpec } from "../method-spec.ts"

export const veraSpec: MethodSpec = {
  name: "vera",
  peftType: "VERA",
  description: "VeRA: frozen shared random A_s, B_s; per layer trained scaling vectors d (r) and b (d_out)",
  defaults: { rank: 256, alpha: 256, dropout: 0, lr: 1e-2 },
  options: {
    vera_d_init: { default: 0.1, doc: "initial value of every entry of d", schema: Schema.Finite },
    vera_projection_seed: { default: -1, doc: "seed of the shared A_s, B_s; -1: the adapter's seed (each cell draws its own)", schema: Schema.Int },
  },
  module: new URL("../vera.ts", import.meta.url).href,
  specModule: import.meta.url,
  // d (r) and b (d_out) per target; the shared A_s (max d_in, r) and B_s (r, max d_out) once.
  footprint: {
    form: "weight",
    counts: (ts, r) => ({
      trainable: ts.reduce((n, t) => n + t.dOut + r, 0),
      frozen: ts.length === 0 ? 0 : r * (Math.max(...ts.map((t) => t.dIn)) + Math.max(...ts.map((t) => t.dOut))),
    }),
    writesBase: "none",
  },
}
