/**
 * `peftlab plot`: reads SQLite, aggregates the per-step `loss` of `train` executions per
 * method and the eval accuracy per method, and renders one figure through Vega-Lite →
 * Vega (SVG) → resvg (PNG when `out` ends in .png).
 *
 * resvg draws text only with a font it can load. DejaVu Sans comes with `npm install` (the
 * dejavu-fonts-ttf package), so plots have text on a bare machine; system copies and
 * `PEFTLAB_FONT` (a .ttf file) are tried too.
 */
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { mkdir, writeFile } from "node:fs/promises"
import * as path from "node:path"
import type { Database } from "better-sqlite3"
import { groupLabel, loadComparison, SEED } from "./compare.ts"
import { FONT, plotSpec, type CurvePoint, type PlotData } from "./plot-spec.ts"
import { loadCurve, loadResults, pickRun, ReportError, type RunChoice } from "./results.ts"
import { mean } from "./stats.ts"

export interface PlotOptions extends RunChoice {
  /** `.svg` or `.png`. */
  readonly out: string
  /** Pairs with compare's default; only used to load the accuracy estimates. */
  readonly baseline?: string
}

const packagedFont = (): string | undefined => {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve("dejavu-fonts-ttf/package.json")), "ttf", "DejaVuSans.ttf")
  } catch {
    return undefined
  }
}

const FONT_FILES = [
  packagedFont(),
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
]

export const writePlot = async (db: Database, opts: PlotOptions): Promise<void> => {
  const ext = path.extname(opts.out).toLowerCase()
  if (ext !== ".svg" && ext !== ".png") throw new ReportError(`plot: --out must end in .svg or .png, got "${opts.out}"`)
  const data = plotData(db, opts)
  if (data.curves.length === 0 && data.accuracy.length === 0) {
    throw new ReportError(`plot: ${data.title} has no training loss curves and no eval accuracy to plot`)
  }
  const svg = await renderSvg(data)
  await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true })
  await writeFile(opts.out, ext === ".svg" ? svg : await toPng(svg))
}

export const plotData = (db: Database, opts: RunChoice & { readonly baseline?: string }): PlotData => {
  const run = pickRun(db, opts)
  const comparison = loadComparison(db, { pipeline: run.pipeline, runId: run.runId, baseline: opts.baseline ?? "lora" })
  // Curves of the compared groups only (a tuning run's train[method=lora,lr=…] is not one).
  const compared = new Set(comparison.groups.map((g) => g.label))
  return {
    title: `${run.pipeline} · run #${run.runId}`,
    curves: lossCurves(db, run.runId).filter((c) => comparison.groups.length === 0 || compared.has(c.method)),
    accuracy: comparison.groups.flatMap((g) => {
      const a = g.metrics.accuracy
      return a === undefined ? [] : [{ method: g.label, mean: a.mean, low: a.mean - (a.half ?? 0), high: a.mean + (a.half ?? 0), n: a.n }]
    }),
    references: comparison.reference.map((r) => ({ label: r.label, value: r.accuracy.mean })),
  }
}

/** Mean, min and max of `loss` across the seeds of each method, step by step. */
export const lossCurves = (db: Database, runId: number): ReadonlyArray<CurvePoint> =>
  aggregateCurves(loadResults(db, runId).filter((r) => r.kind === "train").map((row) => ({ factors: row.factors, points: loadCurve(db, row.sourceId, "loss") })))

/** Per-train loss curves → mean, min and max across seeds per group (factors but the seed). */
export const aggregateCurves = (series: ReadonlyArray<{ readonly factors: Readonly<Record<string, string | number | boolean>>; readonly points: ReadonlyArray<{ step: number; value: number }> }>): ReadonlyArray<CurvePoint> => {
  const byMethod = new Map<string, Map<number, Array<number>>>()
  for (const row of series) {
    const label = groupLabel(Object.fromEntries(Object.entries(row.factors).filter(([n]) => n !== SEED)))
    const steps = byMethod.get(label) ?? new Map<number, Array<number>>()
    byMethod.set(label, steps)
    for (const { step, value } of row.points) steps.set(step, [...(steps.get(step) ?? []), value])
  }
  return [...byMethod].flatMap(([method, steps]) =>
    [...steps]
      .sort(([a], [b]) => a - b)
      .map(([step, values]) => ({ method, step, mean: mean(values), min: Math.min(...values), max: Math.max(...values), seeds: values.length })),
  )
}

export const renderSvg = async (data: PlotData): Promise<string> => {
  // Loaded here: vega is large and only `plot` needs it.
  const [{ compile }, vega] = await Promise.all([import("vega-lite"), import("vega")])
  const view = new vega.View(vega.parse(compile(plotSpec(data)).spec), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

export const toPng = async (svg: string): Promise<Buffer> => {
  const { Resvg } = await import("@resvg/resvg-js")
  const fontFiles = [process.env["PEFTLAB_FONT"], ...FONT_FILES].filter((f): f is string => f !== undefined && existsSync(f))
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: true, fontFiles, defaultFontFamily: FONT, sansSerifFamily: FONT },
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
  })
  return resvg.render().asPng()
}
