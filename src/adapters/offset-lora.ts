/**
 * LoRA started from factors of W itself (PiSSA, OLoRA). Those methods set A₀, B₀ from W and
 * rewrite the frozen base as W_res = W − s·A₀·B₀, so that W_res + s·A·B is W at init. Here the
 * rewrite is kept implicit: the base stays the original W, the initial factors are stored as
 * frozen tensors, and each layer adds
 *   ΔY = s·(dropout(x)·A)·B − s·(x·A₀)·B₀,   ΔW = s·(A·B − A₀·B₀),
 * which is x·W_res + s·(dropout(x)·A)·B − x·W in exact arithmetic (dropout on the trained path
 * only, as PEFT's). Hence: at init (no dropout) ΔY is exactly 0 (the same two products
 * subtracted), the artifact applies to the original base (merge = W + ΔW), and the PEFT export is
 * PEFT's own conversion, a rank-2r LoRA [A | A₀], [B; −B₀] with α → 2α. Training is the same as
 * on W_res: the frozen term has no trainable tensor. Cost: two extra r-wide products per layer.
 * Trainable r·(d_in + d_out) per matrix, as LoRA; frozen A₀, B₀ the same again.
 */
import * as tf from "@tensorflow/tfjs"
import { matmul } from "../model/kernels/ops.ts"
import { mat, type Mat } from "./linalg.ts"
import { adapterInput, loraScaling } from "./lora.ts"
import type { AdapterSettings, InitTensor, LayerView, Method, Target } from "./method.ts"

/** A₀ (d_in, r) and B₀ (r, d_out), row-major float64, from W (d_in, d_out) in our layout and the settings. */
export type InitialFactors = (W: Mat, s: AdapterSettings, t: Target) => { readonly A: Mat; readonly B: Mat }

/** W of a target as a float64 matrix (d_in, d_out). */
const weightOf = (w: tf.Tensor2D): Mat => mat(w.shape[0], w.shape[1], w.dataSync())

const s32 = (m: Mat): tf.Tensor2D => tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols], "float32")

/** The maths of a LoRA that starts at `factors` of W, for a method object to spread (with its spec and name). */
export const offsetLoRA = (name: string, factors: InitialFactors): Pick<Method, "counts" | "init" | "forward" | "delta"> => ({
  counts: (targets, s) => {
    const n = targets.reduce((k, t) => k + s.rank * (t.dIn + t.dOut), 0)
    return { trainable: n, frozenAdapter: n }
  },
  init: (targets, s, base) => {
    if (base === undefined) throw new Error(`${name}'s init reads W (its factors start at W's): pass the model`)
    return targets.flatMap((t): InitTensor[] => {
      if (s.rank > Math.min(t.dIn, t.dOut)) throw new Error(`${name}: rank ${s.rank} exceeds ${t.prefix}'s smaller dimension ${Math.min(t.dIn, t.dOut)}`)
      const { A, B } = factors(weightOf(base(t)), s, t)
      return [
        { name: `${t.prefix}.lora_A`, role: "trainable", value: s32(A) },
        { name: `${t.prefix}.lora_B`, role: "trainable", value: s32(B) },
        { name: `${t.prefix}.lora_A_init`, role: "frozen", value: s32(A) },
        { name: `${t.prefix}.lora_B_init`, role: "frozen", value: s32(B) },
      ]
    })
  },
  forward: (v, x, s, mode) => {
    const k = loraScaling(s)
    const trained = matmul(tf.mul(matmul(adapterInput(v, x, s, mode), v.get("lora_A") as tf.Tensor2D), k) as tf.Tensor2D, v.get("lora_B") as tf.Tensor2D)
    const initial = matmul(tf.mul(matmul(x, v.get("lora_A_init") as tf.Tensor2D), k) as tf.Tensor2D, v.get("lora_B_init") as tf.Tensor2D)
    return tf.sub(trained, initial) as tf.Tensor2D // (N, d_out)
  },
  delta: (v: LayerView, s: AdapterSettings) =>
    tf.tidy(() => {
      const ab = matmul(v.get("lora_A") as tf.Tensor2D, v.get("lora_B") as tf.Tensor2D)
      const ab0 = matmul(v.get("lora_A_init") as tf.Tensor2D, v.get("lora_B_init") as tf.Tensor2D)
      return tf.mul(tf.sub(ab, ab0), loraScaling(s)) as tf.Tensor2D
    }),
})
