/** select's choice as a pure function: exact ties, tolerance ties (the one-standard-error rule), the reason text. */
import { describe, expect, it } from "vitest"
import { choose, describeChoice, oneStandardError, type Candidate } from "../../src/report/select.ts"

const c = (lr: number, score: number | undefined): Candidate => ({ id: `tune[lr=${lr}]`, over: { lr }, score })
// Measured on the default ablation's 100-step tuning phase (validation, 605 e-mails): full fine-tuning.
const full = [c(1, 0.8347), c(3, 0.8959), c(10, 0.8975)]

describe("choose", () => {
  it("takes the best score; an exact tie goes to the smaller value whatever the order", () => {
    expect(choose("acc", "max", ["lr"], full)?.chosen.over).toEqual({ lr: 10 })
    expect(choose("acc", "max", ["lr"], [c(10, 0.5), c(3, 0.5), c(1, 0.4)])?.chosen.over).toEqual({ lr: 3 })
    expect(choose("loss", "min", ["lr"], [c(10, 0.2), c(3, 0.2), c(1, 0.4)])?.chosen.over).toEqual({ lr: 3 })
    expect(choose("acc", "max", ["lr"], [c(1, undefined), c(3, Number.NaN)])).toBeUndefined()
  })

  it("one standard error: the smallest value within 1 SE of the best wins, one outside it does not", () => {
    const se = oneStandardError(0.8975, 605)!
    expect(se).toBeCloseTo(Math.sqrt((0.8975 * 0.1025) / 605), 12)
    expect(se).toBeCloseTo(0.01233, 5)
    const ch = choose("acc", "max", ["lr"], full, se, "1 SE")!
    expect(ch.chosen.over).toEqual({ lr: 3 }) // 0.8959 ≥ 0.8975 − 0.0123; 0.8347 is not
    expect(ch.tied).toBe(2)
    expect(describeChoice(ch)).toBe("acc (max): lr=1 0.8347, lr=3 0.8959 ←, lr=10 0.8975; 2 within 0.0123 (1 SE) of the best → the smaller lr")
    // far apart: the best stands
    expect(choose("acc", "max", ["lr"], [c(1, 0.69), c(3, 0.75), c(10, 0.85)], oneStandardError(0.85, 605)!)?.chosen.over).toEqual({ lr: 10 })
    // goal min: within +tolerance of the lowest
    expect(choose("err", "min", ["lr"], [c(1, 0.11), c(3, 0.1), c(10, 0.3)], 0.02)?.chosen.over).toEqual({ lr: 1 })
  })

  it("a standard error needs a proportion over whole examples", () => {
    expect(oneStandardError(1.5, 100)).toBeUndefined()
    expect(oneStandardError(0.5, 0)).toBeUndefined()
    expect(oneStandardError(0.5, 10.5)).toBeUndefined()
    expect(oneStandardError(1, 100)).toBe(0)
  })
})
