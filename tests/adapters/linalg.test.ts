import { describe, expect, it } from "vitest"
import { invert, JACOBI_MAX_SIDE, jacobiSvd, mat, qr, topSvd, transposeMat, type Mat } from "../../src/adapters/linalg.ts"

describe("invert", () => {
  it("inverts a hand-checked 2×2 and needs pivoting on a zero diagonal", () => {
    const inv = Array.from(invert([4, 7, 2, 6], 2)) // det 10: [6, −7; −2, 4]/10
    ;[0.6, -0.7, -0.2, 0.4].forEach((x, i) => expect(inv[i]).toBeCloseTo(x, 12))
    const p = invert([0, 1, 1, 0], 2)
    expect(Array.from(p)).toEqual([0, 1, 1, 0])
  })
  it("M·M⁻¹ = I for a random 12×12 Gram matrix", () => {
    const n = 12
    let seed = 7
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5
    const X = Array.from({ length: 20 * n }, rand)
    const M = Array.from({ length: n * n }, (_, k) => {
      const [i, j] = [Math.floor(k / n), k % n]
      let acc = 0
      for (let r = 0; r < 20; r++) acc += X[r * n + i]! * X[r * n + j]!
      return acc
    })
    const inv = invert(M, n)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0
        for (let k = 0; k < n; k++) acc += M[i * n + k]! * inv[k * n + j]!
        expect(acc).toBeCloseTo(i === j ? 1 : 0, 9)
      }
  })
  it("refuses a singular matrix", () => {
    expect(() => invert([1, 2, 2, 4], 2)).toThrow(/singular/)
  })
})

const lcg = (seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5
const product = (a: Mat, b: Mat): Mat => {
  const out = new Float64Array(a.rows * b.cols)
  for (let i = 0; i < a.rows; i++) for (let k = 0; k < a.cols; k++) for (let j = 0; j < b.cols; j++) out[i * b.cols + j]! += a.data[i * a.cols + k]! * b.data[k * b.cols + j]!
  return { rows: a.rows, cols: b.cols, data: out }
}
const maxDiff = (a: Mat, b: Mat) => a.data.reduce((m, x, i) => Math.max(m, Math.abs(x - b.data[i]!)), 0)
const gram = (a: Mat) => product(transposeMat(a), a)
const identity = (n: number): Mat => mat(n, n, Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0)))

describe("topSvd", () => {
  it("a hand-checked 2×2: [[3, 0], [4, 5]] has σ = 3√5, √5", () => {
    const { S, U, V } = topSvd(mat(2, 2, [3, 0, 4, 5]), 2)
    expect(S[0]).toBeCloseTo(3 * Math.sqrt(5), 13)
    expect(S[1]).toBeCloseTo(Math.sqrt(5), 13)
    // M·v_j = σ_j·u_j
    const MV = product(mat(2, 2, [3, 0, 4, 5]), V)
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(MV.data[i * 2 + j]).toBeCloseTo(S[j]! * U.data[i * 2 + j]!, 13)
  })

  it.each([
    [7, 5],
    [5, 9],
    [16, 64],
  ])("%i×%i: U·diag(S)·Vᵀ = M, orthonormal U and V, S descending, and a leading-k cut is the best rank-k", (rows, cols) => {
    const rand = lcg(rows * 100 + cols)
    const M = mat(rows, cols, Array.from({ length: rows * cols }, rand))
    const n = Math.min(rows, cols)
    const { U, S, V } = topSvd(M, n)
    const US = mat(rows, n, Array.from(U.data, (x, k) => x * S[k % n]!))
    expect(maxDiff(product(US, transposeMat(V)), M)).toBeLessThan(1e-13)
    expect(maxDiff(gram(U), identity(n))).toBeLessThan(1e-13)
    expect(maxDiff(gram(V), identity(n))).toBeLessThan(1e-13)
    for (let j = 1; j < n; j++) expect(S[j]!).toBeLessThanOrEqual(S[j - 1]!)
    // Eckart–Young: ‖M − M_k‖_F² = Σ_{j>k} σ_j².
    const k = 2
    const top = topSvd(M, k)
    const Mk = product(mat(rows, k, Array.from(top.U.data, (x, i) => x * top.S[i % k]!)), transposeMat(top.V))
    const resid = M.data.reduce((a, x, i) => a + (x - Mk.data[i]!) ** 2, 0)
    expect(resid).toBeCloseTo(Array.from(S.slice(k)).reduce((a, s) => a + s * s, 0), 12)
  })

  it("a rank-2 matrix has zero singular values past the second", () => {
    const rand = lcg(3)
    const L = mat(6, 2, Array.from({ length: 12 }, rand))
    const R = mat(2, 5, Array.from({ length: 10 }, rand))
    const { S } = topSvd(product(L, R), 5)
    expect(S[1]!).toBeGreaterThan(1e-3)
    for (let j = 2; j < 5; j++) expect(S[j]!).toBeLessThan(1e-14)
  })

  it("refuses k beyond the smaller dimension", () => {
    expect(() => topSvd(mat(3, 2, [1, 2, 3, 4, 5, 6]), 3)).toThrow(/k = 3 must be in 1..2/)
    expect(() => topSvd(mat(300, 200, new Float64Array(60000)), 201)).toThrow(/k = 201 must be in 1..200/)
  })

  // Above JACOBI_MAX_SIDE topSvd takes the Gram + Rayleigh–Ritz path: the same triplets as Jacobi.
  it.each([
    [260, 200, 8],
    [200, 300, 16],
  ])("%i×%i, k = %i (the large-matrix path) agrees with one-sided Jacobi", (rows, cols, k) => {
    expect(Math.min(rows, cols)).toBeGreaterThan(JACOBI_MAX_SIDE)
    const rand = lcg(rows + cols + k)
    // A decaying spectrum, as trained weights have, plus noise: M = L·diag(d)·R + 0.01·N.
    const r = 24
    const L = mat(rows, r, Array.from({ length: rows * r }, rand))
    const R = mat(r, cols, Array.from({ length: r * cols }, (_, i) => rand() / (1 + Math.floor(i / cols))))
    const LR = product(L, R)
    const M = mat(rows, cols, Array.from(LR.data, (x) => x + 0.01 * rand()))
    const fast = topSvd(M, k)
    const ref = jacobiSvd(M, k)
    for (let j = 0; j < k; j++) {
      expect(Math.abs(fast.S[j]! - ref.S[j]!) / ref.S[0]!).toBeLessThan(1e-12)
      // Columns equal up to a common sign (u and v flip together: M·v = σ·u).
      let du = 0
      let dv = 0
      for (let i = 0; i < rows; i++) du += fast.U.data[i * k + j]! * ref.U.data[i * k + j]!
      for (let i = 0; i < cols; i++) dv += fast.V.data[i * k + j]! * ref.V.data[i * k + j]!
      expect(Math.abs(Math.abs(du) - 1)).toBeLessThan(1e-9)
      expect(du * dv).toBeGreaterThan(0)
    }
    expect(maxDiff(gram(fast.U), identity(k))).toBeLessThan(1e-13)
    expect(maxDiff(gram(fast.V), identity(k))).toBeLessThan(1e-13)
    // M·v_j = σ_j·u_j to float64 rounding.
    const MV = product(M, fast.V)
    for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) expect(Math.abs(MV.data[i * k + j]! - fast.S[j]! * fast.U.data[i * k + j]!)).toBeLessThan(1e-12 * fast.S[0]!)
    // Deterministic: the same matrix, the same bits.
    expect(Array.from(topSvd(M, k).U.data)).toEqual(Array.from(fast.U.data))
  })

  it("the large-matrix path on a rank-3 and a zero matrix: σ past the rank is ~0, factors finite", () => {
    const rand = lcg(11)
    const M = product(mat(240, 3, Array.from({ length: 720 }, rand)), mat(3, 220, Array.from({ length: 660 }, rand)))
    const { S, U } = topSvd(M, 6)
    expect(S[2]!).toBeGreaterThan(1e-3)
    for (let j = 3; j < 6; j++) expect(S[j]!).toBeLessThan(1e-12 * S[0]!)
    expect(U.data.every(Number.isFinite)).toBe(true)
    const Z = topSvd(mat(240, 220, new Float64Array(240 * 220)), 4)
    expect(Array.from(Z.S)).toEqual([0, 0, 0, 0])
    expect(Z.U.data.every(Number.isFinite) && Z.V.data.every(Number.isFinite)).toBe(true) // σ = 0: U·S·Vᵀ = 0 whatever U and V are
  })
})

describe("qr", () => {
  it("a hand-checked 2×2: [[3, 1], [4, 2]] = Q·R with R = [[−5, −2.2], [0, 0.4]] (torch.linalg.qr's signs)", () => {
    const { Q, R } = qr(mat(2, 2, [3, 1, 4, 2]))
    ;[-5, -2.2, 0, 0.4].forEach((x, i) => expect(R.data[i]).toBeCloseTo(x, 14))
    ;[-0.6, -0.8, -0.8, 0.6].forEach((x, i) => expect(Q.data[i]).toBeCloseTo(x, 14))
  })

  it.each([
    [9, 4],
    [4, 9],
    [12, 12],
  ])("%i×%i: Q·R = M, QᵀQ = I, R upper trapezoidal", (rows, cols) => {
    const rand = lcg(rows * 7 + cols)
    const M = mat(rows, cols, Array.from({ length: rows * cols }, rand))
    const { Q, R } = qr(M)
    const n = Math.min(rows, cols)
    expect([Q.rows, Q.cols, R.rows, R.cols]).toEqual([rows, n, n, cols])
    expect(maxDiff(product(Q, R), M)).toBeLessThan(1e-14)
    expect(maxDiff(gram(Q), identity(n))).toBeLessThan(1e-14)
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(R.data[i * cols + j]).toBe(0)
  })
})
