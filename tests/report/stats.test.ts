import { describe, expect, it } from "vitest"
import { estimate, pairedTest, tCritical, twoSidedP } from "../../src/report/stats.ts"

describe("Student t from stdlib", () => {
  it("matches tabulated two-sided 95% critical values", () => {
    expect(tCritical(2)).toBeCloseTo(4.302652729749462, 12)
    expect(tCritical(4)).toBeCloseTo(2.776445105197794, 12)
    expect(tCritical(1)).toBeCloseTo(12.706204736174698, 10)
    expect(tCritical(30)).toBeCloseTo(2.042272456301238, 12)
  })

  it("gives p-values that match the closed form for 2 degrees of freedom", () => {
    // With ν = 2 the CDF is F(t) = 1/2 + t / (2√(t² + 2)), so p = 1 − |t|/√(t² + 2).
    for (const t of [0.5, 1, 2.6457513110645907, 10]) {
      expect(twoSidedP(t, 2)).toBeCloseTo(1 - t / Math.sqrt(t * t + 2), 12)
      expect(twoSidedP(-t, 2)).toBeCloseTo(twoSidedP(t, 2), 15)
    }
    expect(twoSidedP(0, 5)).toBe(1)
  })
})

describe("estimate", () => {
  it("is mean ± t·s/√n", () => {
    // 0.78, 0.80, 0.82: mean 0.80, s = 0.02, half = 4.3026527·0.02/√3 = 0.049683…
    const e = estimate([0.78, 0.8, 0.82])
    expect(e?.n).toBe(3)
    expect(e?.mean).toBeCloseTo(0.8, 14)
    expect(e?.sd).toBeCloseTo(0.02, 14)
    expect(e?.half).toBeCloseTo((4.302652729749462 * 0.02) / Math.sqrt(3), 14)
  })

  it("has no interval for one value, a zero one for equal values, nothing for none", () => {
    expect(estimate([0.9])).toEqual({ n: 1, mean: 0.9 })
    expect(estimate([4096, 4096])).toEqual({ n: 2, mean: 4096, sd: 0, half: 0 })
    expect(estimate([])).toBeUndefined()
  })
})

describe("pairedTest", () => {
  it("reproduces a paired t-test worked by hand", () => {
    // method − baseline on seeds 1..3: (0.80 − 0.78, 0.84 − 0.80, 0.83 − 0.82) = (0.02, 0.04, 0.01)
    // mean d̄ = 0.07/3 = 7/300; deviations (−1, 5, −4)/300, squares sum 42/90000,
    // s² = 21/90000 = 7/30000, s.e. = √(s²/3) = √7/300, so t = (7/300)/(√7/300) = √7 ≈ 2.6458,
    // ν = 2: p = 1 − √7/√9 = 1 − √7/3 ≈ 0.11808; 95% CI half-width = t_{0.975,2}·√7/300 ≈ 0.037946.
    const test = pairedTest([0.8 - 0.78, 0.84 - 0.8, 0.83 - 0.82])
    expect(test?.n).toBe(3)
    expect(test?.meanDiff).toBeCloseTo(7 / 300, 14)
    expect(test?.t).toBeCloseTo(Math.sqrt(7), 12)
    expect(test?.p).toBeCloseTo(1 - Math.sqrt(7) / 3, 12)
    expect(test?.half).toBeCloseTo((4.302652729749462 * Math.sqrt(7)) / 300, 14)
  })

  it("handles one pair, no spread and no pairs", () => {
    expect(pairedTest([0.03])).toEqual({ n: 1, meanDiff: 0.03 })
    expect(pairedTest([0, 0, 0])).toEqual({ n: 3, meanDiff: 0, half: 0, p: 1 })
    expect(pairedTest([0.5, 0.5])).toEqual({ n: 2, meanDiff: 0.5, half: 0, t: Infinity, p: 0 })
    expect(pairedTest([])).toBeUndefined()
  })
})
