import { describe, expect, it } from "vitest"
import { loadComparison, type Comparison } from "../../src/report/compare.ts"
import { formatComparison } from "../../src/report/format.ts"
import { addExecution, addRun, ablationDb, openFixtureDb } from "./fixture-db.ts"

const T2 = 4.302652729749462 // t_{0.975, 2}

const group = (c: Comparison, label: string) => {
  const g = c.groups.find((x) => x.label === label)
  if (g === undefined) throw new Error(`no group ${label}`)
  return g
}

describe("loadComparison", () => {
  const c = loadComparison(ablationDb(), { baseline: "lora" })

  it("reads the latest run of the latest run's pipeline", () => {
    expect(c.pipeline).toBe("quick")
    expect(c.runId).toBe(3)
    expect(c.groupBy).toEqual(["method"])
    expect(c.groups.map((g) => g.label)).toEqual(["lora", "vera", "delta-lora"])
  })

  it("follows cached executions to the metrics of their producers", () => {
    const lora = group(c, "lora")
    // Seeds 1..3: accuracy 0.78, 0.80, 0.82 → 0.80 ± t_{0.975,2}·0.02/√3.
    expect(lora.seeds).toEqual([1, 2, 3])
    expect(lora.metrics.accuracy?.mean).toBeCloseTo(0.8, 14)
    expect(lora.metrics.accuracy?.half).toBeCloseTo((T2 * 0.02) / Math.sqrt(3), 14)
    expect(lora.metrics.trainable_params).toEqual({ n: 3, mean: 4096, sd: 0, half: 0 })
    // Train time 11, 12, 13 s; peak tensor bytes 21..23 MiB (the worker's RSS is not a per-method figure and not compared).
    expect(lora.metrics.train_time_s?.mean).toBe(12)
    expect(lora.metrics.train_time_s?.half).toBeCloseTo(T2 / Math.sqrt(3), 14)
    expect(lora.metrics.peak_tensor_bytes?.mean).toBe(22 * 1024 * 1024)
    expect(lora.isBaseline).toBe(true)
    expect(lora.paired).toEqual({})
  })

  it("pairs each method with the baseline on shared seeds", () => {
    // The worked example of stats.test.ts: differences (0.02, 0.04, 0.01), t = √7, p = 1 − √7/3.
    const vera = group(c, "vera").paired
    expect(vera.accuracy?.n).toBe(3)
    expect(vera.accuracy?.meanDiff).toBeCloseTo(7 / 300, 14)
    expect(vera.accuracy?.p).toBeCloseTo(1 - Math.sqrt(7) / 3, 12)
    expect(vera.accuracy?.half).toBeCloseTo((T2 * Math.sqrt(7)) / 300, 14)
    // macro-F1 = accuracy − 0.05 for both, so the same differences.
    expect(vera.macro_f1?.p).toBeCloseTo(1 - Math.sqrt(7) / 3, 12)
  })

  it("keeps a single seed without an interval and leaves missing metrics out", () => {
    const d = group(c, "delta-lora")
    expect(d.metrics.accuracy).toEqual({ n: 1, mean: 0.81 })
    expect(d.metrics.macro_f1).toBeUndefined()
    expect(d.metrics.trainable_params).toBeUndefined()
    expect(d.paired.accuracy?.n).toBe(1)
    expect(d.paired.accuracy?.meanDiff).toBeCloseTo(0.03, 14)
    expect(d.paired.accuracy?.p).toBeUndefined()
  })

  it("reports the base model and the majority class once per seed", () => {
    expect(c.reference.map((r) => r.label)).toEqual(["base model (zero-shot)", "majority class"])
    // 0.51, 0.52, 0.53 (delta-lora's 0.50 for seed 1 is a second report of seed 1).
    expect(c.reference[0]?.accuracy.mean).toBeCloseTo(0.52, 14)
    expect(c.reference[1]?.accuracy).toEqual({ n: 3, mean: 0.66, sd: 0, half: 0 })
  })

  it("groups by every factor that varies except the seed", () => {
    const db = openFixtureDb()
    const run = addRun(db, "ranks")
    for (const [method, rank, seed, accuracy] of [["lora", 8, 1, 0.7], ["lora", 8, 2, 0.72], ["lora", 16, 1, 0.75], ["lora", 16, 2, 0.76], ["vera", 16, 1, 0.8], ["vera", 16, 2, 0.79]] as const) {
      addExecution(db, { runId: run, kind: "eval", factors: { method, rank, seed }, final: { accuracy } })
    }
    const ranks = loadComparison(db, { baseline: "lora", pipeline: "ranks" })
    expect(ranks.groupBy).toEqual(["method", "rank"])
    expect(ranks.groups.map((g) => g.label)).toEqual(["lora rank=8", "lora rank=16", "vera rank=16"])
    // vera rank=16 pairs with lora rank=16: differences 0.05, 0.03.
    expect(group(ranks, "vera rank=16").paired.accuracy?.meanDiff).toBeCloseTo(0.04, 14)
  })

  it("defaults to the latest finished run of the pipeline; --run N picks another; partial runs only when asked", () => {
    const db = ablationDb() // runs 1 (other), 2 and 3 (quick, succeeded)
    const partial = addRun(db, "quick")
    db.prepare(`UPDATE runs SET status = 'interrupted' WHERE id = ?`).run(partial)
    addExecution(db, { runId: partial, kind: "eval", factors: { method: "lora", seed: 1 }, final: { accuracy: 0.01 } })
    expect(loadComparison(db, { baseline: "lora", pipeline: "quick" }).runId).toBe(3)
    expect(loadComparison(db, { baseline: "lora" }).runId).toBe(3) // no pipeline named: still the latest finished
    expect(loadComparison(db, { baseline: "lora", pipeline: "quick", runId: 2 }).runId).toBe(2)
    const chosen = loadComparison(db, { baseline: "lora", runId: partial })
    expect(chosen.groups.map((g) => [g.label, g.metrics.accuracy?.mean])).toEqual([["lora", 0.01]])
    expect(() => loadComparison(db, { baseline: "lora", pipeline: "other", runId: 3 })).toThrow('run #3 is of pipeline "quick", not "other"')
    expect(() => loadComparison(db, { baseline: "lora", runId: 99 })).toThrow("no run #99")
    const onlyPartial = addRun(db, "fresh")
    db.prepare(`UPDATE runs SET status = 'failed' WHERE id = ?`).run(onlyPartial)
    expect(() => loadComparison(db, { baseline: "lora", pipeline: "fresh" })).toThrow(`no finished run of pipeline "fresh" (the latest, #${onlyPartial}, is failed); pick one with --run N`)
  })

  it("fails clearly when there is nothing to compare", () => {
    expect(() => loadComparison(openFixtureDb(), { baseline: "lora" })).toThrow("no runs recorded yet")
    expect(() => loadComparison(ablationDb(), { baseline: "lora", pipeline: "nope" })).toThrow('no runs of pipeline "nope"')
  })
})

describe("formatComparison", () => {
  const c = loadComparison(ablationDb(), { baseline: "lora" })

  it("prints narrow tables for the terminal", () => {
    const text = formatComparison(c, "table")
    expect(Math.max(...text.split("\n").map((l) => [...l].length))).toBeLessThanOrEqual(80)
    expect(text).toContain("lora                    3  0.800 ± 0.050  0.750 ± 0.050  0.200 ± 0.050")
    expect(text).toContain("delta-lora              1      0.810 ± —              —      0.500 ± —")
    expect(text).toContain("vera            3  +0.023 ± 0.038  0.118  +0.023 ± 0.038  0.118")
    expect(text).toContain("lora        3             4,096      12.0 ± 2.5          22.0 ± 2.5")
    expect(text).toContain("majority class          3  0.660 ± 0.000")
  })

  it("shows the classifier's label loss instead of the completion loss when the evals report it", () => {
    const withLabels = { ...c, groups: c.groups.map((g) => ({ ...g, metrics: { ...g.metrics, label_loss: { n: 3, mean: 0.125, sd: 0, half: 0 } } })) }
    const text = formatComparison(withLabels, "table")
    expect(text).toContain("label loss")
    expect(text).not.toContain("eval loss")
    expect(text).toContain("0.125 ± 0.000")
    expect(formatComparison(c, "table")).toContain("eval loss")
    expect(formatComparison(withLabels, "csv").split("\n")[0]).toContain("label_loss,label_loss_ci_low,label_loss_ci_high,eval_loss")
  })

  it("says so when a run has nothing to compare", () => {
    const db = openFixtureDb()
    addRun(db, "empty")
    expect(formatComparison(loadComparison(db, { baseline: "lora" }), "table")).toBe(
      "empty · run #1 · test split · mean ± 95% CI over seeds (Student t) · n = seeds\n\nnothing to compare: no succeeded or cached eval (or train) results in this run\n",
    )
  })

  it("writes csv with unrounded bounds and one row per group", () => {
    const lines = formatComparison(c, "csv").trimEnd().split("\n")
    const header = lines[0]?.split(",") ?? []
    const vera = lines.find((l) => l.startsWith("vera,"))?.split(",") ?? []
    const at = (name: string) => Number(vera[header.indexOf(name)])
    expect(lines).toHaveLength(1 + 3 + 2)
    expect(at("accuracy")).toBeCloseTo(0.82333333, 8)
    expect(at("p_accuracy")).toBeCloseTo(1 - Math.sqrt(7) / 3, 12)
    expect(at("delta_accuracy_ci_high") - at("delta_accuracy")).toBeCloseTo((T2 * Math.sqrt(7)) / 300, 12)
  })

  it("writes markdown, LaTeX and JSON", () => {
    expect(formatComparison(c, "md")).toContain("| vera | 3 | 0.823 ± 0.052 | 0.773 ± 0.052 |")
    const latex = formatComparison(c, "latex")
    expect(latex).toContain("\\begin{tabular}{lrrrrrrrrrrr}")
    expect(latex).toContain("vera & 3 & 0.823 $\\pm$ 0.052")
    expect(latex).toContain("$\\Delta$ accuracy vs lora")
    expect(JSON.parse(formatComparison(c, "json"))).toMatchObject({ pipeline: "quick", runId: 3, baseline: "lora" })
  })
})
