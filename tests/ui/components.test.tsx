import { render } from "ink-testing-library"
import { afterEach, describe, expect, it } from "vitest"
import { cleanup } from "ink-testing-library"
import type { RunEvent } from "../../src/contracts/events.ts"
import { Dashboard } from "../../src/ui/components/Dashboard.tsx"
import { Grid, gridWidths, visibleRows } from "../../src/ui/components/Grid.tsx"
import { barLine, progressText } from "../../src/ui/components/Running.tsx"
import { initialState, reduce, type DashboardState } from "../../src/ui/state.ts"
import { runStarted, T0 } from "./events.ts"
import { waitFor } from "./wait.ts"

const TRAIN = "train[method=lora,seed=1]"
const fold = (events: ReadonlyArray<RunEvent>, from: DashboardState = initialState) => events.reduce(reduce, from)
const lines = (frame: string | undefined) => (frame ?? "").split("\n")
const widest = (frame: string | undefined) => Math.max(...lines(frame).map((l) => [...l].length))

const midRun = fold([
  runStarted,
  { type: "stage-started", at: T0 + 1000, id: "attach-adapter[method=lora]", worker: 1 },
  { type: "stage-finished", at: T0 + 1500, id: "attach-adapter[method=lora]", durationMs: 500, summary: {} },
  { type: "stage-started", at: T0 + 1600, id: TRAIN, worker: 1 },
  { type: "stage-progress", at: T0 + 2000, id: TRAIN, step: 10, total: 100, tokensPerSec: 5234 },
  { type: "stage-metric", at: T0 + 2000, id: TRAIN, step: 10, name: "loss", value: 4 },
  { type: "stage-metric", at: T0 + 3000, id: TRAIN, step: 20, name: "loss", value: 3 },
  { type: "stage-metric", at: T0 + 4000, id: TRAIN, step: 30, name: "loss", value: 2 },
  { type: "stage-progress", at: T0 + 4000, id: TRAIN, step: 30, total: 100 },
])

afterEach(cleanup)

describe("Grid", () => {
  it("draws a row per cell with a glyph per instance at 80 columns", async () => {
    const { lastFrame } = render(<Grid grid={midRun.grid} instances={midRun.instances} columns={80} />)
    await waitFor(() => expect(lastFrame()).toContain("shared"))
    expect(lines(lastFrame())).toEqual([
      "method seed tokenize build-model attach-adapter train eval",
      "shared      ≡        ≡",
      "lora   1                         ✓              ▶ 30% ·",
      "lora   2                         ✓              ·     ·",
      "vera   1                         ·              ·     ·",
      "vera   2                         ·              ·     ·",
    ])
  })

  it("shrinks headers, never glyphs, when the terminal is narrow", () => {
    const widths = gridWidths(midRun.grid, 40)
    // label 11 + 5 gaps + columns ≤ 40 while every column keeps room for its glyph.
    expect(widths.label + 5 + widths.kinds.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(40)
    expect(Math.min(...widths.kinds)).toBeGreaterThanOrEqual(1)
    const { lastFrame } = render(<Grid grid={midRun.grid} instances={midRun.instances} columns={40} />)
    expect(widest(lastFrame())).toBeLessThanOrEqual(40)
    expect(lastFrame()).toContain("✓")
    expect(lastFrame()).toContain("▶")
  })
})

describe("visibleRows", () => {
  it("hides finished cells before waiting ones and keeps the order", () => {
    const finish = (id: string, at: number): RunEvent => ({ type: "stage-finished", at, id, durationMs: 1, summary: {} })
    const s = fold([
      runStarted,
      finish("attach-adapter[method=lora]", T0 + 1),
      ...[1, 2].flatMap((seed) => [finish(`train[method=lora,seed=${seed}]`, T0 + 2), finish(`eval[method=lora,seed=${seed}]`, T0 + 3)]),
      { type: "stage-started", at: T0 + 4, id: "train[method=vera,seed=2]", worker: 0 },
    ])
    const { rows, hidden } = visibleRows(s.grid.rows, s.instances, 4)
    expect(rows.map((r) => r.key)).toEqual(["shared", 'method="vera",seed=1', 'method="vera",seed=2'])
    expect(hidden).toEqual({ complete: 2, pending: 0 })
    expect(visibleRows(s.grid.rows, s.instances, 5).rows).toHaveLength(5)
  })
})

describe("Running", () => {
  const view = midRun.instances[TRAIN]!

  it("shows step/total, tokens/s and the ETA from the average rate", () => {
    // 20 steps in 2 s → 10 steps/s; 70 steps left → 0:07.
    expect(progressText(view, T0 + 4000)).toBe("30/100  5.2k tok/s  ETA 0:07")
  })

  it("splits the second line between the bar and the loss sparkline", () => {
    // width 78: bar 39 cells at 30% → 12 filled; sparkline of 4, 3, 2 (3 sits at
    // (3 − 2)/(4 − 2)·7 = 3.5 → level 4 of 0..7, "▅"), then the last loss.
    expect(barLine(view, 80)).toBe(`${"█".repeat(12)}${"░".repeat(27)}  █▅▁ loss 2.000`)
  })
})

describe("Dashboard", () => {
  it("fits 80 columns: header, counts, grid and the running stage", async () => {
    const { lastFrame } = render(<Dashboard state={midRun} now={T0 + 65_000} columns={80} />)
    await waitFor(() => expect(lastFrame()).toContain("ETA"))
    const frame = lastFrame()
    expect(widest(frame)).toBeLessThanOrEqual(80)
    expect(frame).toContain("peftlab · quick · run #7 · wasm · 2 jobs · 1:05")
    expect(frame).toContain("≡ 2 cached  ▶ 1 running  ✓ 1 done  ✗ 0 failed  ⊘ 0 skipped  · 8 pending")
    expect(frame).toContain(`▶ ${TRAIN}  30/100  5.2k tok/s  ETA 0:07`)
    expect(frame).toContain(" 0:01 ✓ attach-adapter[method=lora] done in 0.5s")
  })

  it("fills the grid as events arrive", async () => {
    const { lastFrame, rerender } = render(<Dashboard state={midRun} now={T0 + 5000} columns={80} />)
    await waitFor(() => expect(lastFrame()).toContain("▶ 30%"))
    const done = fold([
      { type: "stage-finished", at: T0 + 6000, id: TRAIN, durationMs: 4400, summary: { final_loss: 1.5 } },
      { type: "run-finished", at: T0 + 7000, runId: 7, status: "succeeded", durationMs: 7000, counts: { cached: 2, succeeded: 2, failed: 0, interrupted: 0, skipped: 0 } },
    ], midRun)
    rerender(<Dashboard state={done} now={T0 + 9000} columns={80} />)
    await waitFor(() => expect(lastFrame()).toContain("succeeded"))
    const frame = lastFrame() ?? ""
    expect(frame).toContain("run #7 · wasm · 2 jobs · 0:07 · succeeded")
    expect(frame).toContain("lora   1                         ✓              ✓     ·")
    expect(frame).not.toContain("ETA")
    // Static lines are printed once each, in order.
    expect(frame.match(/done in/g)).toHaveLength(2)
  })

  it("keeps the live area within the terminal's height, dropping finished rows first", () => {
    // 24 rows: 6 lines of chrome, 2 for the running stage, 1 blank → 15 for the grid: fits all 5.
    const tall = render(<Dashboard state={midRun} now={T0 + 5000} columns={80} rows={24} />)
    expect(tall.lastFrame()).not.toContain("not shown")
    // 12 rows leave 3 lines: the shared row, the running row, and the summary line.
    const short = render(<Dashboard state={midRun} now={T0 + 5000} columns={80} rows={12} />)
    const frame = short.lastFrame() ?? ""
    expect(frame).toContain("shared      ≡        ≡")
    expect(frame).toContain("lora   1                         ✓              ▶ 30% ·")
    expect(frame).not.toContain("vera   2")
    expect(frame).toContain("… 0 complete and 3 waiting cells not shown")
  })

  it("stays within 50 columns", () => {
    const { lastFrame } = render(<Dashboard state={midRun} now={T0 + 5000} columns={50} />)
    expect(widest(lastFrame())).toBeLessThanOrEqual(50)
    expect(lastFrame()).toContain("▶")
  })
})
