/** The report stage's work (params.ts holds its params, index.ts its contract): artifacts in, tables and plots out. */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { StageError } from "../../src/contracts/stage.ts"
import type { InputArtifact, StageContext, StageOutput } from "../../src/contracts/stage.ts"
import type { ReportParams } from "./params.ts"
import { chosenKey } from "../../src/pipeline/refs.ts"
import { judgeClaims, type LossCurve } from "../../src/report/claims.ts"
import { claimsMarkdown, claimsText } from "../../src/report/claims-format.ts"
import { compareRows, type Comparison, type Selection } from "../../src/report/compare.ts"
import { formatComparison, type ComparisonFormat } from "../../src/report/format.ts"
import { aggregateCurves, renderSvg, toPng } from "../../src/report/plot.ts"
import type { PlotData } from "../../src/report/plot-spec.ts"
import type { ResultRow } from "../../src/report/results.ts"

const LOSS_CURVE = "loss.json" // written by the train stage (stages/train/run.ts)

/**
 * Measurements of one execution (wall time, throughput, memory) differ between two runs of the
 * same inputs; the report is a cached artifact, so it holds only what its inputs determine
 * (`peftlab compare` shows the measured costs from SQLite).
 */
export const MEASURED = new Set(["train_time_s", "tokens_per_s", "peak_rss_bytes", "resumed_from_step"])

const numbers = (summary: InputArtifact["summary"]): Record<string, number> =>
  Object.fromEntries(Object.entries(summary).flatMap(([k, v]) => (typeof v === "number" && !MEASURED.has(k) ? [[k, v]] : [])))

/** Result rows as SQLite would give them: evals, trains, and the adapter counts trains repeat. */
export const rowsOf = (evals: ReadonlyArray<InputArtifact>, trains: ReadonlyArray<InputArtifact>): ReadonlyArray<ResultRow> => {
  const row = (a: InputArtifact, i: number, kind: string, params: Record<string, unknown>, metrics: Record<string, number>): ResultRow => ({
    executionId: i, sourceId: i, instanceId: a.id, stage: a.id.split("[")[0] ?? a.id, kind, factors: a.factors, params, metrics,
  })
  return [
    ...evals.map((a, i) => row(a, i + 1, "eval", { split: a.summary.split ?? "test" }, numbers(a.summary))),
    ...trains.map((a, i) => row(a, evals.length + i + 1, "train", {}, numbers(a.summary))),
    // train's summary repeats attach-adapter's counts (trainable_params, frozen_params); compare reads them from that kind.
    ...trains.map((a, i) => row(a, evals.length + trains.length + i + 1, "attach-adapter", {}, numbers(a.summary))),
  ]
}

export const selectionsOf = (selects: ReadonlyArray<InputArtifact>): ReadonlyArray<Selection> =>
  selects.map((a) => ({
    id: a.id,
    factors: a.factors,
    chosen: Object.fromEntries(Object.entries(a.summary).flatMap(([k, v]) => (k.startsWith(chosenKey("")) ? [[k.slice(chosenKey("").length), v]] : []))),
    reason: String(a.summary.reason ?? ""),
  }))

const FORMATS: ReadonlyArray<readonly [ComparisonFormat, string]> = [["table", "txt"], ["md", "md"], ["csv", "csv"], ["json", "json"], ["latex", "tex"]]

export const report = (ctx: StageContext<ReportParams>): Effect.Effect<StageOutput, StageError> =>
  Effect.tryPromise({
    try: async () => {
      const evals = ctx.collected.evals ?? []
      const trains = ctx.collected.trains ?? []
      const rows = rowsOf(evals, trains)
      const c: Comparison = compareRows(rows, { pipeline: ctx.params.title, runId: 0, baseline: ctx.params.baseline, selections: selectionsOf(ctx.collected.selections ?? []) })
      if (c.groups.length === 0) throw new StageError({ reason: "MissingInput", message: `nothing to compare: none of the ${evals.length} collected evals is on the test split` })
      const curves: ReadonlyArray<LossCurve> = trains.flatMap((t) => {
        const file = path.join(t.dir, LOSS_CURVE)
        return existsSync(file) ? [{ factors: t.factors, losses: JSON.parse(readFileSync(file, "utf8")) as ReadonlyArray<number> }] : []
      })
      // Each paper's headline judged on these results (src/report/claims.ts): after the table in .md and .txt, and as JSON.
      const claims = judgeClaims({ rows, curves })
      const section: Partial<Record<ComparisonFormat, string>> = { md: claimsMarkdown(claims), table: claimsText(claims) }
      for (const [format, ext] of FORMATS) writeFileSync(path.join(ctx.outDir, `comparison.${ext}`), formatComparison(c, format) + (section[format] ?? ""))
      writeFileSync(path.join(ctx.outDir, "claims.json"), JSON.stringify(claims, null, 2) + "\n")
      const compared = new Set(c.groups.map((g) => g.label))
      const series = curves.map((t) => ({ factors: t.factors, points: t.losses.map((value, step) => ({ step, value })) }))
      const data: PlotData = {
        title: ctx.params.title,
        curves: aggregateCurves(series).filter((p) => compared.has(p.method)),
        accuracy: c.groups.flatMap((g) => {
          const a = g.metrics.accuracy
          return a === undefined ? [] : [{ method: g.label, mean: a.mean, low: a.mean - (a.half ?? 0), high: a.mean + (a.half ?? 0), n: a.n }]
        }),
        references: c.reference.map((r) => ({ label: r.label, value: r.accuracy.mean })),
      }
      const svg = await renderSvg(data)
      writeFileSync(path.join(ctx.outDir, "curves.svg"), svg)
      if (ctx.params.png) writeFileSync(path.join(ctx.outDir, "curves.png"), await toPng(svg))
      const best = [...c.groups].sort((a, b) => (b.metrics.accuracy?.mean ?? -1) - (a.metrics.accuracy?.mean ?? -1))[0]
      ctx.log(`${c.groups.length} groups; best ${best?.label ?? "—"}`)
      return {
        summary: {
          groups: c.groups.length,
          evals: evals.length,
          best: best?.label ?? "",
          best_accuracy: best?.metrics.accuracy?.mean ?? Number.NaN,
        },
      }
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ reason: "Failed", message: e instanceof Error ? e.message : String(e), cause: e })),
  })
