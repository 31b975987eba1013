import { describe, expect, it } from "vitest"
import { lrAt } from "../../src/model/schedule.ts"

describe("lrAt", () => {
  const s = { lr: 1e-3, minLr: 1e-4, warmup: 10, total: 110 }
  it("warms up linearly from lr/warmup to lr", () => {
    expect(lrAt(0, s)).toBeCloseTo(1e-4, 12)
    expect(lrAt(4, s)).toBeCloseTo(5e-4, 12)
    expect(lrAt(9, s)).toBeCloseTo(1e-3, 12)
  })
  it("decays by a cosine to minLr", () => {
    expect(lrAt(10, s)).toBeCloseTo(1e-3, 12)
    expect(lrAt(60, s)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 12) // half way: cos(π/2) = 0
    expect(lrAt(110, s)).toBeCloseTo(1e-4, 12)
    expect(lrAt(500, s)).toBeCloseTo(1e-4, 12)
  })
  it("no warmup starts at lr", () => {
    expect(lrAt(0, { ...s, warmup: 0 })).toBe(1e-3)
  })
})
