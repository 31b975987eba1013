/**
 * LoRA-FA (Zhang et al., arXiv 2308.03303): LoRA with A frozen after its random init; only B
 * trains (r·d_out per matrix; the saved adapter still holds A).
 *
 * Optimizer (paper v2 / PEFT `create_lorafa_optimizer`), in our layout: before the AdamW
 * step, g_B ← (1/s²)·(AᵀA + 1e-8·I_r)⁻¹·g_B, so that s·A·g_B is the projection of the
 * full-weight gradient onto A's column space. A is frozen, so the r×r inverse (Gauss-Jordan,
 * float64) is computed once per target and memoized on the adapter. `lorafa_projection: false` gives the
 * plain frozen-A variant of paper v1. (PEFT also uses AdamW eps 1e-6 and decays after the
 * step; our train stage keeps its own eps and order, recorded with the run.)
 */
import * as tf from "@tensorflow/tfjs"
import { invert } from "./linalg.ts"
import { loraFamily, loraScaling } from "./lora.ts"
import type { Method } from "./method.ts"
import { loraFASpec } from "./specs/lora-fa.ts"

const RIDGE = 1e-8

/** (1/s²)·(AᵀA + 1e-8·I)⁻¹ (r, r) for a frozen A (d_in, r). */
export const lorafaProjector = (A: tf.Tensor2D, scaling: number): tf.Tensor2D => {
  const r = A.shape[1]
  const gram = tf.tidy(() => tf.matMul(A, A, true, false)) // (r, r)
  const g = Array.from(gram.dataSync(), (x, i) => (i % (r + 1) === 0 ? x + RIDGE : x))
  gram.dispose()
  const inv = invert(g, r)
  return tf.tensor2d(Array.from(inv, (x) => x / (scaling * scaling)), [r, r], "float32")
}

export const loraFA: Method = {
  ...loraFASpec,
  ...loraFamily("frozen"),
  training: {
    transformGrads: (a, grads) => {
      if (a.settings.options.lorafa_projection !== true) return grads
      const out = new Map<string, tf.Tensor>()
      for (const [name, g] of grads) out.set(name, g)
      for (const t of a.targets) {
        const B = a.view(t).get("lora_B")
        const g = grads.get(B.name)
        if (g === undefined) continue
        const P = a.memo(`lorafa.${t.prefix}`, () => lorafaProjector(a.view(t).get("lora_A") as tf.Tensor2D, loraScaling(a.settings)))
        out.set(B.name, tf.matMul(P, g as tf.Tensor2D)) // (r, r)·(r, d_out)
        g.dispose()
      }
      return out
    },
  },
}
