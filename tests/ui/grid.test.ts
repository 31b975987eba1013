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

describe("layoutGrid with fan-in (the quick pipeline: tune → select → seeds → report)", () => {
  it("gives tuning cells and seed cells their own rows, the select stage to its method's rows, the report to the shared row", async () => {
    const { readFileSync } = await import("node:fs")
    const { compileText } = await import("../../src/pipeline/compile.ts")
    const { stages } = await import("../../stages/index.ts")
    const p = compileText("quick.yaml", readFileSync(new URL("../../pipelines/quick.yaml", import.meta.url), "utf8"), new Map(stages.map((s) => [s.kind, s])))
    if (!("instances" in p)) throw new Error(p.message)
    const infos = p.instances.map((i) => ({ id: i.id, stage: i.stage, kind: i.kind, factors: i.factors, plan: "pending" as const }))
    const grid = layoutGrid(p.axes, infos)
    expect(grid.axes).toEqual(["method", "lr_scale", "seed"])
    expect(grid.rows.map((r) => r.key)).toEqual([
      "shared",
      ...["lora", "vera", "full"].flatMap((m) => [
        `method="${m}",lr_scale=0.3,seed=null`, `method="${m}",lr_scale=3,seed=null`,
        `method="${m}",lr_scale=null,seed=1`, `method="${m}",lr_scale=null,seed=2`,
      ]),
    ])
    expect(grid.rows[0]?.cells).toEqual({ tokenize: ["tokens"], "build-model": ["base"], report: ["report"] })
    const vera2 = grid.rows.find((r) => r.key === 'method="vera",lr_scale=null,seed=2')
    expect(vera2?.cells).toEqual({
      "attach-adapter": ["tune-adapter[method=vera]", "adapter[method=vera,seed=2]"],
      train: ["train[method=vera,seed=2]"],
      select: ["pick[method=vera]"],
      eval: ["eval[method=vera,seed=2]"],
      merge: ["merge[method=vera,seed=2]"],
    })
  })
})
