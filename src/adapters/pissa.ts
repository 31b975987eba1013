/**
 * PiSSA (Meng et al., NeurIPS 2024, arXiv 2404.02948): LoRA whose factors start at W's
 * principal singular triplets, so training moves the principal part and freezes the rest.
 * PEFT's `pissa_init` on its (out, in) weight Wᵀ = V·S·Uhᵀ: lora_A = √(S_r/s)·Uh_r,
 * lora_B = V_r·√(S_r/s), base ← W − s·B·A. In our layout, with W (d_in, d_out) = U·S·Vᵀ
 * (topSvd, float64 one-sided Jacobi; exact, not PEFT's `pissa_niter` approximation):
 *   A₀ = U_r·diag(√(S_r/s)) (d_in, r),   B₀ = diag(√(S_r/s))·V_rᵀ (r, d_out),   s·A₀·B₀ = W's top-r part.
 * The rewrite W_res = W − s·A₀·B₀ is implicit (offset-lora.ts): the artifact holds A₀, B₀.
 * Defaults r = 8, α = 8 (s = 1), lr 1e-3.
 */
import { topSvd, type Mat } from "./linalg.ts"
import { loraScaling } from "./lora.ts"
import type { Method } from "./method.ts"
import { offsetLoRA } from "./offset-lora.ts"
import { pissaSpec } from "./specs/pissa.ts"

export const pissaFactors = (W: Mat, r: number, scaling: number): { A: Mat; B: Mat } => {
  const { U, S, V } = topSvd(W, r)
  const root = Array.from(S, (x) => Math.sqrt(x / scaling))
  const A = new Float64Array(W.rows * r)
  const B = new Float64Array(r * W.cols)
  for (let i = 0; i < W.rows; i++) for (let j = 0; j < r; j++) A[i * r + j] = (U.data[i * r + j] ?? 0) * (root[j] ?? 0)
  for (let j = 0; j < r; j++) for (let o = 0; o < W.cols; o++) B[j * W.cols + o] = (root[j] ?? 0) * (V.data[o * r + j] ?? 0)
  return { A: { rows: W.rows, cols: r, data: A }, B: { rows: r, cols: W.cols, data: B } }
}

export const pissa: Method = {
  ...pissaSpec,
  ...offsetLoRA("PiSSA", (W, s) => pissaFactors(W, s.rank, loraScaling(s))),
}
