import { describe, expect, it } from "vitest"
import { bar, clock, compact, etaMs, fit, sparkline } from "../../src/ui/format.ts"

describe("format", () => {
  it("draws bars of exactly the given width", () => {
    expect(bar(0.5, 10)).toBe("█████░░░░░")
    expect(bar(0, 4)).toBe("░░░░")
    expect(bar(2, 4)).toBe("████")
    expect(bar(Number.NaN, 3)).toBe("░░░")
  })

  it("scales sparklines between the shown min and max", () => {
    expect(sparkline([4, 3, 2, 1], 10)).toBe("█▆▃▁")
    expect(sparkline([1, 2, 3, 4, 5], 2)).toBe("▁█")
    expect(sparkline([2, 2], 5)).toBe("▁▁")
    expect(sparkline([], 5)).toBe("")
  })

  it("formats clocks, rates and cuts", () => {
    expect(clock(7_900)).toBe("0:07")
    expect(clock(754_000)).toBe("12:34")
    expect(clock(3_723_000)).toBe("1:02:03")
    expect(compact(850)).toBe("850")
    expect(compact(5_234)).toBe("5.2k")
    expect(compact(1_250_000)).toBe("1.3M")
    expect(fit("abcdef", 4)).toBe("abc…")
    expect(fit("abc", 4)).toBe("abc")
  })

  it("estimates the remaining time from the average rate since the first report", () => {
    // 20 steps in 2 s → 10 steps/s; 70 steps left → 7 s.
    expect(etaMs({ step: 30, total: 100, firstStep: 10, firstAt: 0, at: 2000 })).toBe(7000)
    expect(etaMs({ step: 10, total: 100, firstStep: 10, firstAt: 0, at: 0 })).toBeUndefined()
    expect(etaMs({ step: 100, total: 100, firstStep: 10, firstAt: 0, at: 5 })).toBe(0)
  })
})
