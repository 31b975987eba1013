/**
 * OLoRA (Büyükakyüz, arXiv 2406.01775): LoRA whose factors start at an orthonormal basis of W,
 * from its QR decomposition. PEFT's `olora_init` on its (out, in) weight Wᵀ = Q·R:
 * lora_B = Q[:, :r] (out, r), lora_A = R[:r] (r, in), base ← W − s·B·A (no 1/s in the
 * factors, unlike PiSSA). In our layout (transposes of PEFT's; qr is Householder in float64):
 *   A₀ = R[:r]ᵀ (d_in, r),   B₀ = Q[:, :r]ᵀ (r, d_out),   Wᵀ = Q·R.
 * The rewrite W_res = W − s·A₀·B₀ is implicit (offset-lora.ts): the artifact holds A₀, B₀.
 * Defaults r = 8, α = 8 (s = 1), lr 1e-3.
 */
import { qr, transposeMat, type Mat } from "./linalg.ts"
import type { Method } from "./method.ts"
import { offsetLoRA } from "./offset-lora.ts"
import { oloraSpec } from "./specs/olora.ts"

export const oloraFactors = (W: Mat, r: number): { A: Mat; B: Mat } => {
  const { Q, R } = qr(transposeMat(W)) // Wᵀ (d_out, d_in) = Q (d_out, n)·R (n, d_in)
  const A = new Float64Array(W.rows * r) // R[:r]ᵀ
  const B = new Float64Array(r * W.cols) // Q[:, :r]ᵀ
  for (let j = 0; j < r; j++) {
    for (let i = 0; i < W.rows; i++) A[i * r + j] = R.data[j * R.cols + i] ?? 0
    for (let o = 0; o < W.cols; o++) B[j * W.cols + o] = Q.data[o * Q.cols + j] ?? 0
  }
  return { A: { rows: W.rows, cols: r, data: A }, B: { rows: r, cols: W.cols, data: B } }
}

export const olora: Method = {
  ...oloraSpec,
  ...offsetLoRA("OLoRA", (W, s) => oloraFactors(W, s.rank)),
}
