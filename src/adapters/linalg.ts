/**
 * Small dense linear algebra in float64 JavaScript (tfjs has no inverse, SVD or QR).
 * The r×r inverse serves LoRA-FA's gradient projection (r ≤ a few hundred); the SVD and QR
 * initialise PiSSA and OLoRA from a layer's weight (d_in, d_out ≤ a few thousand) and turn
 * Delta-LoRA's trained ΔW into LoRA factors on export. The one piece a library does better, the
 * symmetric eigendecomposition behind the SVD of a large layer, is ml-matrix's (tred2 + tql2, the
 * EISPACK algorithms JAMA ports).
 */
import { EigenvalueDecomposition, Matrix } from "ml-matrix"

/** Inverse of a square row-major n×n matrix by Gauss-Jordan elimination with partial pivoting. */
export const invert = (m: ArrayLike<number>, n: number): Float64Array => {
  if (m.length !== n * n) throw new Error(`invert: expected ${n * n} entries, got ${m.length}`)
  const w = 2 * n // augmented [M | I], row-major
  const a = new Float64Array(n * w)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * w + j] = m[i * n + j] ?? 0
    a[i * w + n + i] = 1
  }
  for (let col = 0; col < n; col++) {
    const piv = pivotRow(a, n, col)
    if (piv !== col) swapRows(a, w, piv, col)
    const p = a[col * w + col] ?? 0
    if (p === 0) throw new Error("invert: matrix is singular")
    for (let j = 0; j < w; j++) a[col * w + j] = (a[col * w + j] ?? 0) / p
    for (let i = 0; i < n; i++) {
      const f = a[i * w + col] ?? 0
      if (i === col || f === 0) continue
      for (let j = 0; j < w; j++) a[i * w + j] = (a[i * w + j] ?? 0) - f * (a[col * w + j] ?? 0)
    }
  }
  const out = new Float64Array(n * n)
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = a[i * w + n + j] ?? 0
  return out
}

const pivotRow = (a: Float64Array, n: number, col: number): number => {
  const w = 2 * n
  let best = col
  for (let i = col + 1; i < n; i++) if (Math.abs(a[i * w + col] ?? 0) > Math.abs(a[best * w + col] ?? 0)) best = i
  return best
}

const swapRows = (a: Float64Array, w: number, i: number, j: number): void => {
  for (let k = 0; k < w; k++) {
    const t = a[i * w + k] ?? 0
    a[i * w + k] = a[j * w + k] ?? 0
    a[j * w + k] = t
  }
}

/** A dense row-major matrix in float64. */
export interface Mat {
  readonly rows: number
  readonly cols: number
  readonly data: Float64Array
}

export const mat = (rows: number, cols: number, data: ArrayLike<number>): Mat => {
  if (data.length !== rows * cols) throw new Error(`mat: expected ${rows * cols} entries, got ${data.length}`)
  return { rows, cols, data: Float64Array.from(data) }
}

export const transposeMat = (m: Mat): Mat => {
  const out = new Float64Array(m.rows * m.cols)
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j] ?? 0
  return { rows: m.cols, cols: m.rows, data: out }
}

/** The thin SVD's leading k terms: M ≈ U·diag(S)·Vᵀ, U (rows, k), S descending (k), V (cols, k). */
export interface Svd {
  readonly U: Mat
  readonly S: Float64Array
  readonly V: Mat
}

const checkK = (m: Mat, k: number): void => {
  const n = Math.min(m.rows, m.cols)
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`topSvd: k = ${k} must be in 1..${n} (the smaller dimension of ${m.rows}×${m.cols})`)
}

/**
 * Up to this smaller side, or when k is more than a quarter of it, topSvd is one-sided Jacobi
 * (exact to ~1e-15, but O(side³) per sweep in JavaScript: 0.3 s at 128, 54 s at 576). Above it,
 * Rayleigh–Ritz on the Gram matrix's eigenvectors (topSvd's comment): measured on the 2-core
 * machine (random matrices, k = 8), 576 × 576 in 1.8 s (Jacobi: 54 s) and 576 × 1,536 in 2.2 s.
 */
export const JACOBI_MAX_SIDE = 192

/**
 * The top-k singular triplets of M: `jacobiSvd` for small matrices, and for large ones with k
 * small beside the smaller side n (PiSSA's r = 8 on a 576-wide layer; Delta-LoRA's 2r on export):
 *   1. G = MᵀM (n × n, float64) and its eigenvectors (ml-matrix, symmetric): the right singular
 *      vectors, σ² the eigenvalues;
 *   2. the p = min(n, k + 8) leading ones, Y = M·V_p, Q = qr(Y).Q: an orthonormal basis of the
 *      top-p left singular subspace (8 extra columns keep the k-th clear of its neighbours);
 *   3. Rayleigh–Ritz: the exact SVD (Jacobi) of the small Qᵀ·M (p × n) = Ũ·S·Vᵀ, then U = Q·Ũ.
 * Squaring M costs the small singular values their accuracy (relative error ~ ε·σ₁²/σ²), not the
 * leading k this is called for; step 3 makes U and V orthonormal to float64 rounding and their
 * triplets consistent (M·v = σ·u) whatever the eigensolver's rounding. Deterministic: the same M
 * gives the same bits. Tested against jacobiSvd (tests/adapters/linalg.test.ts).
 */
export const topSvd = (m: Mat, k: number): Svd => {
  checkK(m, k)
  const n = Math.min(m.rows, m.cols)
  if (n <= JACOBI_MAX_SIDE || 4 * k > n) return jacobiSvd(m, k)
  if (m.rows < m.cols) {
    const t = topSvd(transposeMat(m), k)
    return { U: t.V, S: t.S, V: t.U }
  }
  const { rows, cols } = m
  // 1. G = MᵀM, accumulated row by row (upper triangle, then mirrored).
  const G = new Float64Array(cols * cols)
  for (let i = 0; i < rows; i++) {
    const row = m.data.subarray(i * cols, (i + 1) * cols)
    for (let a = 0; a < cols; a++) {
      const x = row[a] ?? 0
      if (x === 0) continue
      const base = a * cols
      for (let b = a; b < cols; b++) G[base + b] = (G[base + b] ?? 0) + x * (row[b] ?? 0)
    }
  }
  for (let a = 0; a < cols; a++) for (let b = 0; b < a; b++) G[a * cols + b] = G[b * cols + a] ?? 0
  const evd = new EigenvalueDecomposition(Matrix.from1DArray(cols, cols, G), { assumeSymmetric: true })
  const values = evd.realEigenvalues
  const vectors = evd.eigenvectorMatrix
  const p = Math.min(cols, k + 8)
  const lead = values.map((_, j) => j).sort((a, b) => (values[b] ?? 0) - (values[a] ?? 0) || a - b).slice(0, p)
  // 2. Y = M·V_p (rows × p), Q its orthonormal basis.
  const Vp = new Float64Array(cols * p)
  lead.forEach((j, c) => {
    for (let i = 0; i < cols; i++) Vp[i * p + c] = vectors.get(i, j)
  })
  const Y = new Float64Array(rows * p)
  for (let i = 0; i < rows; i++)
    for (let a = 0; a < cols; a++) {
      const x = m.data[i * cols + a] ?? 0
      if (x === 0) continue
      for (let c = 0; c < p; c++) Y[i * p + c] = (Y[i * p + c] ?? 0) + x * (Vp[a * p + c] ?? 0)
    }
  const { Q } = qr({ rows, cols: p, data: Y })
  // 3. Rayleigh–Ritz: Qᵀ·M (p × cols), its exact SVD, U = Q·Ũ.
  const QtM = new Float64Array(p * cols)
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < p; c++) {
      const q = Q.data[i * p + c] ?? 0
      if (q === 0) continue
      for (let a = 0; a < cols; a++) QtM[c * cols + a] = (QtM[c * cols + a] ?? 0) + q * (m.data[i * cols + a] ?? 0)
    }
  const small = jacobiSvd({ rows: p, cols, data: QtM }, k)
  const U = new Float64Array(rows * k)
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < p; c++) {
      const q = Q.data[i * p + c] ?? 0
      if (q === 0) continue
      for (let j = 0; j < k; j++) U[i * k + j] = (U[i * k + j] ?? 0) + q * (small.U.data[c * k + j] ?? 0)
    }
  return { U: { rows, cols: k, data: U }, S: small.S, V: small.V }
}

/**
 * The top-k singular triplets of M (rows × cols), by one-sided Jacobi (Hestenes 1958; Demmel &
 * Veselić 1992): plane rotations orthogonalize the columns of a working copy G = M·V until every
 * pair is orthogonal to `tol` relative; then σ_j = ‖G_j‖, U_j = G_j/σ_j. Works on the side with
 * fewer columns (Mᵀ otherwise), O(rows·cols²) per sweep, float64 throughout: accurate to ~1e-15
 * relative to σ_1, far below the float32 the factors are stored in. Sweeps until no rotation is
 * needed (≤ 60; a few for matrices of a model's size). A zero column gets σ = 0 and U_j = 0.
 */
export const jacobiSvd = (m: Mat, k: number): Svd => {
  if (m.rows < m.cols) {
    const t = jacobiSvd(transposeMat(m), k)
    return { U: t.V, S: t.S, V: t.U }
  }
  const { rows, cols } = m
  checkK(m, k)
  // Column-major copies: G's column j and V's column j are contiguous.
  const G = new Float64Array(rows * cols)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) G[j * rows + i] = m.data[i * cols + j] ?? 0
  const V = new Float64Array(cols * cols)
  for (let j = 0; j < cols; j++) V[j * cols + j] = 1
  const tol = 1e-15
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false
    for (let p = 0; p < cols - 1; p++)
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0
        let beta = 0
        let gamma = 0
        for (let i = 0; i < rows; i++) {
          const gp = G[p * rows + i] ?? 0
          const gq = G[q * rows + i] ?? 0
          alpha += gp * gp
          beta += gq * gq
          gamma += gp * gq
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue
        rotated = true
        // The rotation that zeroes the (p, q) entry of GᵀG (Golub & Van Loan §8.6.3).
        const zeta = (beta - alpha) / (2 * gamma)
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = c * t
        rotate(G, rows, p, q, c, s)
        rotate(V, cols, p, q, c, s)
      }
    if (!rotated) break
  }
  const norms = Array.from({ length: cols }, (_, j) => {
    let acc = 0
    for (let i = 0; i < rows; i++) acc += (G[j * rows + i] ?? 0) ** 2
    return Math.sqrt(acc)
  })
  const order = norms.map((_, j) => j).sort((a, b) => (norms[b] ?? 0) - (norms[a] ?? 0) || a - b).slice(0, k)
  const U = new Float64Array(rows * k)
  const Vk = new Float64Array(cols * k)
  const S = new Float64Array(k)
  order.forEach((j, c) => {
    const sigma = norms[j] ?? 0
    S[c] = sigma
    for (let i = 0; i < rows; i++) U[i * k + c] = sigma === 0 ? 0 : (G[j * rows + i] ?? 0) / sigma
    for (let i = 0; i < cols; i++) Vk[i * k + c] = V[j * cols + i] ?? 0
  })
  return { U: { rows, cols: k, data: U }, S, V: { rows: cols, cols: k, data: Vk } }
}

/** Columns p, q of a column-major matrix with `n` rows ← [c·x − s·y, s·x + c·y]. */
const rotate = (a: Float64Array, n: number, p: number, q: number, c: number, s: number): void => {
  for (let i = 0; i < n; i++) {
    const x = a[p * n + i] ?? 0
    const y = a[q * n + i] ?? 0
    a[p * n + i] = c * x - s * y
    a[q * n + i] = s * x + c * y
  }
}

/**
 * The reduced QR of M (rows × cols) by Householder reflections (Golub & Van Loan §5.2):
 * M = Q·R, Q (rows, n) with orthonormal columns, R (n, cols) upper trapezoidal, n = min(rows, cols).
 * The reflector of column j maps x to −sign(x_j)·‖x‖·e_j, and is the identity when x is zero
 * below its pivot, as LAPACK's geqrf does: R's signs are torch.linalg.qr's.
 */
export const qr = (m: Mat): { Q: Mat; R: Mat } => {
  const { rows, cols } = m
  const n = Math.min(rows, cols)
  const R = Float64Array.from(m.data) // rows × cols, overwritten by R
  const vs: Float64Array[] = []
  for (let j = 0; j < n; j++) {
    let below = 0
    for (let i = j + 1; i < rows; i++) below += (R[i * cols + j] ?? 0) ** 2
    const v = new Float64Array(rows - j)
    const x0 = R[j * cols + j] ?? 0
    // Nothing below the diagonal: H = I (LAPACK's dlarfg, τ = 0), the pivot keeps its sign.
    if (below === 0) {
      vs.push(v)
      continue
    }
    const norm = Math.sqrt(x0 * x0 + below)
    const alpha = x0 >= 0 ? -norm : norm
    for (let i = j; i < rows; i++) v[i - j] = R[i * cols + j] ?? 0
    v[0] = x0 - alpha
    let vv = 0
    for (const x of v) vv += x * x
    vs.push(v)
    if (vv === 0) continue // the column is already zero below the diagonal
    for (let c = j; c < cols; c++) {
      let dot = 0
      for (let i = j; i < rows; i++) dot += (v[i - j] ?? 0) * (R[i * cols + c] ?? 0)
      const f = (2 * dot) / vv
      for (let i = j; i < rows; i++) R[i * cols + c] = (R[i * cols + c] ?? 0) - f * (v[i - j] ?? 0)
    }
  }
  // Q = H_0·H_1·…·H_{n−1} applied to the first n columns of the identity, last reflector first.
  const Q = new Float64Array(rows * n)
  for (let c = 0; c < n; c++) Q[c * n + c] = 1
  for (let j = n - 1; j >= 0; j--) {
    const v = vs[j] as Float64Array
    let vv = 0
    for (const x of v) vv += x * x
    if (vv === 0) continue
    for (let c = 0; c < n; c++) {
      let dot = 0
      for (let i = j; i < rows; i++) dot += (v[i - j] ?? 0) * (Q[i * n + c] ?? 0)
      const f = (2 * dot) / vv
      for (let i = j; i < rows; i++) Q[i * n + c] = (Q[i * n + c] ?? 0) - f * (v[i - j] ?? 0)
    }
  }
  const Rn = new Float64Array(n * cols)
  for (let i = 0; i < n; i++) for (let c = i; c < cols; c++) Rn[i * cols + c] = R[i * cols + c] ?? 0
  return { Q: { rows, cols: n, data: Q }, R: { rows: n, cols, data: Rn } }
}
