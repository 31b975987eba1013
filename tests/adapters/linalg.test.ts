import { describe, expect, it } from "vitest"
import { invert } from "../../src/adapters/linalg.ts"

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
