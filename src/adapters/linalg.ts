/**
 * Tiny dense linear algebra in float64 JavaScript, for r×r matrices (tfjs has no inverse).
 * Used by LoRA-FA's gradient projection, where r ≤ a few hundred.
 */

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
