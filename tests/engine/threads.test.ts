/** BLAS threads per instance: a stage that can overlap no other gets every core. */
import { describe, expect, it } from "vitest"
import { blasThreads } from "../../src/engine/threads.ts"
import type { PlannedInstance } from "../../src/engine/plan.ts"

const node = (id: string, inputs: Record<string, string>, cached = false): PlannedInstance =>
  ({ instance: { id, inputs }, fingerprint: id, fields: [], cached: cached ? ({} as PlannedInstance["cached"]) : undefined, reason: cached ? undefined : "new" }) as unknown as PlannedInstance

// tokens → base → two cells (adapter → train each)
const plan = [
  node("tokens", {}),
  node("base", { tokens: "tokens" }),
  node("a1", { model: "base" }),
  node("t1", { adapter: "a1" }),
  node("a2", { model: "base" }),
  node("t2", { adapter: "a2" }),
]

describe("blasThreads", () => {
  it("gives every core to the stages no other can overlap, cores / jobs to the rest", () => {
    const threads = blasThreads(plan, 2, 2)
    expect(["tokens", "base", "a1", "t1", "a2", "t2"].map(threads)).toEqual([2, 2, 1, 1, 1, 1])
  })
  it("counts only what will run: with one cell cached, the other cell's stages run alone", () => {
    const cached = plan.map((p) => (p.instance.id === "a1" || p.instance.id === "t1" ? node(p.instance.id, p.instance.inputs as Record<string, string>, true) : p))
    const threads = blasThreads(cached, 2, 2)
    expect(["a2", "t2"].map(threads)).toEqual([2, 2])
  })
  it("one job gets every core; more jobs than cores still get one thread", () => {
    expect(blasThreads(plan, 1, 4)("a1")).toBe(4)
    expect(blasThreads(plan, 8, 2)("a1")).toBe(1)
    expect(blasThreads(plan, 8, 2)("base")).toBe(2)
  })
})
