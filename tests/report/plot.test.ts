import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { lossCurves, plotData, toPng, writePlot } from "../../src/report/plot.ts"
import { ablationDb, addRun, openFixtureDb } from "./fixture-db.ts"

const dir = mkdtempSync(path.join(tmpdir(), "peftlab-plot-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

describe("plot data", () => {
  it("aggregates the per-step loss across seeds, through cached executions", () => {
    // lora seeds 1..3 log (3 − s/10, 2, 1.5 + s/10) at steps 1..3, in run 2 (cached from run 1).
    const lora = lossCurves(ablationDb(), 3).filter((p) => p.method === "lora")
    expect(lora.map((p) => p.step)).toEqual([1, 2, 3])
    expect(lora[0]?.mean).toBeCloseTo(2.8, 14)
    expect([lora[0]?.min, lora[0]?.max, lora[0]?.seeds]).toEqual([2.7, 2.9, 3])
    expect(lora[1]).toEqual({ method: "lora", step: 2, mean: 2, min: 2, max: 2, seeds: 3 })
  })

  it("carries accuracy intervals and the reference lines", () => {
    const data = plotData(ablationDb(), {})
    expect(data.title).toBe("quick · run #3")
    expect(data.accuracy.map((a) => a.method)).toEqual(["lora", "vera", "delta-lora"])
    const single = data.accuracy[2]
    expect([single?.low, single?.mean, single?.high]).toEqual([0.81, 0.81, 0.81])
    expect(data.references.map((r) => r.label)).toEqual(["base model (zero-shot)", "majority class"])
  })
})

describe("writePlot", () => {
  it("writes an SVG with both charts", async () => {
    const out = path.join(dir, "curves.svg")
    await writePlot(ablationDb(), { out })
    const svg = readFileSync(out, "utf8")
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg).toContain("training loss")
    expect(svg).toContain("eval accuracy")
    expect(svg).toContain("delta-lora")
  })

  it("writes a PNG at twice the SVG's size", async () => {
    const out = path.join(dir, "nested", "curves.png")
    await writePlot(ablationDb(), { out })
    await writePlot(ablationDb(), { out: path.join(dir, "curves.svg") })
    const png = readFileSync(out)
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE)
    expect(png.subarray(12, 16).toString("ascii")).toBe("IHDR")
    const svg = readFileSync(path.join(dir, "curves.svg"), "utf8")
    const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1])
    const height = Number(/height="(\d+(?:\.\d+)?)"/.exec(svg)?.[1])
    expect(png.readUInt32BE(16)).toBe(Math.round(2 * width))
    expect(png.readUInt32BE(20)).toBe(Math.round(2 * height))
  })

  it("finds a font, so the PNG has its text", async () => {
    const svg = (text: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><text x="4" y="28" font-family="DejaVu Sans" font-size="20">${text}</text></svg>`
    expect((await toPng(svg("loss"))).equals(await toPng(svg("")))).toBe(false)
  })

  it("refuses a run with nothing to plot", async () => {
    const db = openFixtureDb()
    addRun(db, "empty")
    await expect(writePlot(db, { out: path.join(dir, "empty.svg") })).rejects.toThrow("plot: empty · run #1 has no training loss curves and no eval accuracy")
  })

  it("refuses other extensions", async () => {
    await expect(writePlot(ablationDb(), { out: path.join(dir, "x.pdf") })).rejects.toThrow("must end in .svg or .png")
  })
})
