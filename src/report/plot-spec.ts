/**
 * The Vega-Lite spec of `peftlab plot`: training-loss curves (mean across seeds, with the
 * min–max band) beside eval accuracy per method (mean with its 95% interval, and the base
 * model and majority class as dashed reference lines). Pure: data in, spec out.
 */
import type { TopLevelSpec } from "vega-lite"

/** One point of a method's loss curve, aggregated over seeds at one step. */
export interface CurvePoint {
  readonly method: string
  readonly step: number
  readonly mean: number
  readonly min: number
  readonly max: number
  readonly seeds: number
}

export interface AccuracyPoint {
  readonly method: string
  readonly mean: number
  /** The 95% interval; equal to the mean when there is a single seed. */
  readonly low: number
  readonly high: number
  readonly n: number
}

export interface ReferenceLine {
  readonly label: string
  readonly value: number
}

export interface PlotData {
  readonly title: string
  readonly curves: ReadonlyArray<CurvePoint>
  readonly accuracy: ReadonlyArray<AccuracyPoint>
  readonly references: ReadonlyArray<ReferenceLine>
}

export const FONT = "DejaVu Sans"
const WIDTH = 420
const HEIGHT = 280

const color = (methods: ReadonlyArray<string>) => ({
  field: "method",
  type: "nominal" as const,
  title: "method",
  scale: { domain: [...methods], scheme: "tableau10" },
})

export const plotSpec = (data: PlotData): TopLevelSpec => {
  const methods = [...new Set([...data.curves.map((c) => c.method), ...data.accuracy.map((a) => a.method)])]
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: data.title, font: FONT, fontSize: 14 },
    background: "white",
    padding: 12,
    // Legend entries as solid strokes: the faint band would otherwise set the swatch.
    config: { font: FONT, view: { stroke: "#ddd" }, legend: { symbolType: "stroke", symbolStrokeWidth: 3, symbolOpacity: 1 } },
    hconcat: [lossChart(data, methods), accuracyChart(data, methods)],
  }
}

const lossChart = (data: PlotData, methods: ReadonlyArray<string>) => ({
  width: WIDTH,
  height: HEIGHT,
  title: "training loss (mean across seeds, band: min–max)",
  data: { values: data.curves.map((c) => ({ ...c })) },
  encoding: {
    x: { field: "step", type: "quantitative" as const, title: "step" },
    color: color(methods),
  },
  layer: [
    {
      mark: { type: "area" as const, opacity: 0.2 },
      encoding: {
        y: { field: "min", type: "quantitative" as const, title: "loss", scale: { zero: false } },
        y2: { field: "max" },
      },
    },
    {
      mark: { type: "line" as const, strokeWidth: 2 },
      encoding: { y: { field: "mean", type: "quantitative" as const, title: "loss" } },
    },
  ],
})

const accuracyChart = (data: PlotData, methods: ReadonlyArray<string>) => ({
  width: Math.max(160, 70 * methods.length),
  height: HEIGHT,
  title: "eval accuracy (mean, 95% CI over seeds)",
  layer: [
    {
      data: { values: data.accuracy.map((a) => ({ ...a })) },
      encoding: {
        x: { field: "method", type: "nominal" as const, sort: [...methods], axis: { labelAngle: -30 } },
        color: color(methods),
      },
      layer: [
        { mark: { type: "rule" as const, strokeWidth: 2 }, encoding: { y: { field: "low", type: "quantitative" as const }, y2: { field: "high" } } },
        {
          mark: { type: "point" as const, filled: true, size: 80, opacity: 1 },
          encoding: { y: { field: "mean", type: "quantitative" as const, title: "accuracy", scale: { zero: false } } },
        },
      ],
    },
    {
      data: { values: data.references.map((r) => ({ ...r })) },
      layer: [
        { mark: { type: "rule" as const, strokeDash: [4, 4], color: "#888" }, encoding: { y: { field: "value", type: "quantitative" as const } } },
        {
          mark: { type: "text" as const, align: "left" as const, dx: 4, dy: -6, color: "#555", fontSize: 10 },
          encoding: { y: { field: "value", type: "quantitative" as const }, x: { value: 0 }, text: { field: "label" } },
        },
      ],
    },
  ],
})
