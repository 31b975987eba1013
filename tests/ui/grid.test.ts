import { describe, expect, it } from "vitest"
import { layoutGrid } from "../../src/ui/grid.ts"
import { instances, runStarted } from "./events.ts"

const axes = runStarted.type === "run-started" ? runStarted.axes : []

describe("layoutGrid", () => {
  it("makes a shared row and one row per method × seed, in declaration order", () => {
    const grid = layoutGrid(axes, instances)
    expect(grid.axes).toEqual(["method", "seed"])
    expect(grid.kinds).toEqual(["tokenize", "build-model", "attach-adapter", "train", "eval"])
    expect(grid.rows.map((r) => r.key)).toEqual([
      "shared",
      'method="lora",seed=1',
      'method="lora",seed=2',
      'method="vera",seed=1',
      'method="vera",seed=2',
    ])
  })

  it("puts an instance that varies over fewer axes into every row it feeds", () => {
    const grid = layoutGrid(axes, instances)
    const vera2 = grid.rows.find((r) => r.key === 'method="vera",seed=2')
    expect(vera2?.cells).toEqual({
      "attach-adapter": ["attach-adapter[method=vera]"],
      train: ["train[method=vera,seed=2]"],
      eval: ["eval[method=vera,seed=2]"],
    })
    expect(grid.rows[0]?.cells).toEqual({ tokenize: ["tokenize"], "build-model": ["build-model"] })
  })

  it("sorts rows by the axes' value order, not alphabetically", () => {
    const reversed = [{ name: "seed", values: [3, 1] }]
    const grid = layoutGrid(reversed, [1, 3].map((seed) => ({
      id: `t[seed=${seed}]`, stage: "t", kind: "t", factors: { seed }, plan: "pending" as const,
    })))
    expect(grid.rows.map((r) => r.factors["seed"])).toEqual([3, 1])
  })

  it("has no shared row when every stage varies", () => {
    const grid = layoutGrid(axes, instances.filter((i) => i.kind === "train"))
    expect(grid.rows).toHaveLength(4)
    expect(grid.rows.some((r) => r.shared)).toBe(false)
  })
})
