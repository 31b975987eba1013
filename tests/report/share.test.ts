/** The comparison with tuning and a full fine-tuning reference: validation evals stay out, the share of full FT's gain per seed. */
import { describe, expect, it } from "vitest"
import { loadComparison } from "../../src/report/compare.ts"
import { formatComparison } from "../../src/report/format.ts"
import { addExecution, addRun, openFixtureDb } from "./fixture-db.ts"

const T2 = 4.302652729749462 // t_{0.975, 2}

const db = openFixtureDb()
const run = addRun(db, "ablation")
// Tuning: validation evals per (method, lr) with absurd accuracies that must not show up anywhere.
for (const method of ["lora", "full"])
  for (const lr of [0.1, 0.01]) addExecution(db, { runId: run, kind: "eval", factors: { method, lr }, params: { split: "validation" }, final: { accuracy: 0.01, base_accuracy: 0.9 } })
// Test: zero-shot 0.5 for every seed; full 0.9, 0.95, 1.0; lora 0.7, 0.8, 0.8.
const FULL = [0.9, 0.95, 1.0]
const LORA = [0.7, 0.8, 0.8]
FULL.forEach((acc, i) => addExecution(db, { runId: run, kind: "eval", factors: { method: "full", seed: i + 1 }, params: { split: "test" }, final: { accuracy: acc, base_accuracy: 0.5, majority_accuracy: 0.6 } }))
LORA.forEach((acc, i) => addExecution(db, { runId: run, kind: "eval", factors: { method: "lora", seed: i + 1 }, params: { split: "test" }, final: { accuracy: acc, base_accuracy: 0.5, majority_accuracy: 0.6 } }))

describe("comparison with tuning and a full fine-tuning reference", () => {
  const c = loadComparison(db, { baseline: "lora" })

  it("compares test-split results only", () => {
    expect(c.groups.map((g) => [g.label, g.seeds])).toEqual([["full", [1, 2, 3]], ["lora", [1, 2, 3]]])
    expect(c.groupBy).toEqual(["method"])
    expect(c.reference.map((r) => r.accuracy.mean)).toEqual([0.5, 0.6])
  })

  it("share of full FT's gain: per seed (acc − 0.5)/(acc_full − 0.5), mean ± t interval", () => {
    const ratios = LORA.map((a, i) => (a - 0.5) / (FULL[i]! - 0.5)) // 0.5, 0.6667, 0.6
    const mean = ratios.reduce((a, b) => a + b, 0) / 3
    const sd = Math.sqrt(ratios.reduce((a, r) => a + (r - mean) ** 2, 0) / 2)
    const lora = c.groups.find((g) => g.label === "lora")!
    expect(lora.shareOfFull?.n).toBe(3)
    expect(lora.shareOfFull?.mean).toBeCloseTo(mean, 12)
    expect(lora.shareOfFull?.half).toBeCloseTo((T2 * sd) / Math.sqrt(3), 12)
    expect(c.groups.find((g) => g.label === "full")!.shareOfFull).toBeUndefined()
    const table = formatComparison(c, "table")
    expect(table).toContain("share of full FT gain")
    expect(table).toMatch(new RegExp(`lora\\s+3\\s+0\\.767 ± 0\\.\\d{3}.*${mean.toFixed(3)} ± ${((T2 * sd) / Math.sqrt(3)).toFixed(3)}`))
    expect(table).toMatch(/full\s+3\s+0\.950 ± .*1 \(reference\)/)
    expect(formatComparison(c, "csv").split("\n")[0]).toContain("share_of_full_gain,share_of_full_gain_ci_low,share_of_full_gain_ci_high")
  })

  it("has no share column without a full group", () => {
    const other = openFixtureDb()
    const r = addRun(other, "x")
    addExecution(other, { runId: r, kind: "eval", factors: { method: "lora", seed: 1 }, final: { accuracy: 0.7, base_accuracy: 0.5 } })
    expect(formatComparison(loadComparison(other, { baseline: "lora" }), "table")).not.toContain("share of full FT gain")
  })
})
