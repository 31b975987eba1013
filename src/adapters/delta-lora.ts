/**
 * Delta-LoRA (Zi et al., arXiv 2309.02411): LoRA's forward and init with adapter dropout
 * removed, plus an update of the frozen W after each optimizer step t (0-based) with t > K:
 *   W ← W + λ·s·(A'·B' − A·B)   (the difference of products, not (A'−A)·(B'−B)).
 * W gets no gradient and no optimizer state. The updates telescope:
 *   W_T = W_0 + λ·s·(A_T·B_T − A_{K+1}·B_{K+1}),
 * so with K = −1 and B_0 = 0 the model is LoRA with scaling (1+λ)·s.
 * Defaults: λ = 2 (paper); K = 20 — the paper's 500 is for runs of thousands of steps, ours
 * are hundreds, so K keeps the paper's "a few percent of training" (recorded with the run).
 * An adapter file alone cannot reproduce the model: the trained artifact also holds the
 * updated W of the adapted layers (`modifiedBase`).
 */
import * as tf from "@tensorflow/tfjs"
import { param } from "../model/arch/model.ts"
import { assignBase } from "./base-writes.ts"
import { loraFamily, loraScaling } from "./lora.ts"
import type { Method } from "./method.ts"
import { deltaLoRASpec } from "./specs/delta-lora.ts"

export const deltaLoRA: Method = {
  ...deltaLoRASpec,
  normalize: (s) => ({ ...s, dropout: 0 }),
  ...loraFamily("trainable"),
  training: {
    aroundStep: (a, model, step) => {
      if (step <= Number(a.settings.options.delta_k)) return null
      const k = Number(a.settings.options.delta_lambda) * loraScaling(a.settings)
      const before = a.targets.map((t) => tf.tidy(() => tf.matMul(a.view(t).get("lora_A"), a.view(t).get("lora_B")))) // A·B (d_in, d_out)
      return () => {
        a.targets.forEach((t, i) => {
          const name = `${t.prefix}.kernel`
          const W = param(model, name)
          const ab = before[i] as tf.Tensor
          tf.tidy(() => assignBase(model, name, tf.add(W, tf.mul(tf.sub(tf.matMul(a.view(t).get("lora_A"), a.view(t).get("lora_B")), ab), k))))
          ab.dispose()
        })
      }
    },
    modifiedBase: (a) => a.targets.map((t) => `${t.prefix}.kernel`),
  },
}
