/**
 * The comparison as text: `table` (three narrow tables that fit 80 columns: quality, paired
 * differences, cost), `md` and `latex` (one wide table), `csv` (one row per group, numbers
 * unrounded: mean and interval bounds), `json` (the Comparison object).
 */
import type { Comparison, ComparedMetric, GroupResult } from "./compare.ts"
import type { Estimate, PairedTest } from "./stats.ts"
import { csvTable, latexEscape, latexTable, markdownTable, textTable, type TextTable } from "./table.ts"

export type ComparisonFormat = "table" | "md" | "csv" | "json" | "latex"

const NONE = "—"
const MIB = 1024 * 1024

interface Column {
  readonly metric: ComparedMetric
  readonly header: string
  readonly show: (x: number) => string
}

const ACCURACY: ReadonlyArray<Column> = [
  { metric: "accuracy", header: "accuracy", show: (x) => x.toFixed(3) },
  { metric: "macro_f1", header: "macro-F1", show: (x) => x.toFixed(3) },
]
/**
 * One loss column: the classifier's −log p(truth | x) over the label set when the evals report
 * it (what a label-restricted loss trains), else the completion's per-token NLL over the whole
 * vocabulary. Both are in the JSON and CSV.
 */
const LABEL_LOSS: Column = { metric: "label_loss", header: "label loss", show: (x) => x.toFixed(3) }
const EVAL_LOSS: Column = { metric: "eval_loss", header: "eval loss", show: (x) => x.toFixed(3) }
const has = (c: Comparison, m: ComparedMetric): boolean => c.groups.some((g) => g.metrics[m] !== undefined)
const qualityColumns = (c: Comparison): ReadonlyArray<Column> => [...ACCURACY, has(c, "label_loss") ? LABEL_LOSS : EVAL_LOSS]
const QUALITY_COUNT = ACCURACY.length + 1
const COST: ReadonlyArray<Column> = [
  { metric: "trainable_params", header: "trainable params", show: (x) => Math.round(x).toLocaleString("en-US") },
  { metric: "train_time_s", header: "train time (s)", show: (x) => x.toFixed(1) },
  { metric: "peak_tensor_bytes", header: "peak tensors (MiB)", show: (x) => (x / MIB).toFixed(1) },
]

/** Cost columns some group has a value for (the report stage records no timings: see stages/report/). */
const costColumns = (c: Comparison): ReadonlyArray<Column> => COST.filter((col) => c.groups.some((g) => g.metrics[col.metric] !== undefined))

/** `0.912 ± 0.010`; `0.912 ± —` for a single seed; the interval is dropped for exact counts. */
export const showEstimate = (e: Estimate | undefined, show: (x: number) => string): string => {
  if (e === undefined) return NONE
  if (e.half === undefined) return `${show(e.mean)} ± ${NONE}`
  if (e.half === 0 && Number.isInteger(e.mean)) return show(e.mean)
  return `${show(e.mean)} ± ${show(e.half)}`
}

export const showP = (p: number | undefined): string =>
  p === undefined ? NONE : p < 0.001 ? "<0.001" : p.toFixed(3)

const signed = (x: number): string => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(3)

export const showDiff = (t: PairedTest | undefined): string =>
  t === undefined ? NONE : t.half === undefined ? `${signed(t.meanDiff)} ± ${NONE}` : `${signed(t.meanDiff)} ± ${t.half.toFixed(3)}`

const nOf = (g: GroupResult): string => String(g.metrics.accuracy?.n ?? g.seeds.length)

const groupRows = (c: Comparison, columns: ReadonlyArray<Column>): Array<Array<string>> =>
  c.groups.map((g) => [g.label, nOf(g), ...columns.map((col) => showEstimate(g.metrics[col.metric], col.show))])

/** The share column is shown when the run has a full fine-tuning group to measure against. */
const hasFull = (c: Comparison): boolean => c.groups.some((g) => g.factors["method"] === "full")
export const SHARE_HEADER = "share of full FT gain"
const shareCell = (g: GroupResult): string =>
  g.factors["method"] === "full" ? "1 (reference)" : showEstimate(g.shareOfFull, (x) => x.toFixed(3))

/** Quality columns, plus the share of full fine-tuning's gain when there is a full group. */
const qualityRows = (c: Comparison, columns: ReadonlyArray<Column>): Array<Array<string>> => {
  const rows = groupRows(c, columns)
  return hasFull(c) ? rows.map((r, i) => [...r.slice(0, 2 + QUALITY_COUNT), shareCell(c.groups[i]!), ...r.slice(2 + QUALITY_COUNT)]) : rows
}

const referenceRows = (c: Comparison, width: number): Array<Array<string>> =>
  c.reference.map((r) => [r.label, String(r.accuracy.n), showEstimate(r.accuracy, (x) => x.toFixed(3)), ...Array<string>(width).fill("")])

const selectionLines = (c: Comparison): Array<string> =>
  c.selections.map((s) => `${s.id}: ${Object.entries(s.chosen).map(([k, v]) => `${k}=${String(v)}`).join(", ")} — ${s.reason}`)

const pairedRows = (c: Comparison): Array<Array<string>> =>
  c.groups
    .filter((g) => !g.isBaseline)
    .map((g) => [g.label, String(g.paired.accuracy?.n ?? 0), showDiff(g.paired.accuracy), showP(g.paired.accuracy?.p), showDiff(g.paired.macro_f1), showP(g.paired.macro_f1?.p)])

const caption = (c: Comparison): string =>
  `${c.pipeline}${c.runId > 0 ? ` · run #${c.runId}` : ""} · test split · mean ± 95% CI over seeds (Student t) · n = seeds` +
  (hasFull(c) ? ` · share of full FT gain = (acc − zero-shot)/(acc_full − zero-shot), paired by seed` : "")

const pairedHeaders = (c: Comparison): Array<string> =>
  [`vs ${c.baseline}`, "pairs", "Δ accuracy", "p", "Δ macro-F1", "p"]

const table = (c: Comparison): string => {
  const share = hasFull(c) ? [SHARE_HEADER] : []
  const qualityCols = qualityColumns(c)
  const quality: TextTable = {
    headers: ["method", "n", ...qualityCols.map((q) => q.header), ...share],
    rows: [...qualityRows(c, qualityCols), ...referenceRows(c, qualityCols.length - 1 + share.length)],
  }
  const costs = costColumns(c)
  const cost: TextTable = { headers: ["method", "n", ...costs.map((q) => q.header)], rows: groupRows(c, costs) }
  const paired = pairedRows(c)
  return [
    caption(c),
    textTable(quality),
    paired.length === 0 ? `(no paired comparison: no method to pair with baseline "${c.baseline}")` : textTable({ headers: pairedHeaders(c), rows: paired }),
    textTable(cost),
    ...(c.selections.length > 0 ? [["chosen on the validation split:", ...selectionLines(c).map((l) => `  ${l}`)].join("\n")] : []),
  ].join("\n\n") + "\n"
}

/** One wide table: quality, cost, then the paired difference against the baseline. */
const wide = (c: Comparison): TextTable => {
  const costs = costColumns(c)
  const qualityCols = qualityColumns(c)
  const columns = [...qualityCols, ...costs]
  const paired = new Map(pairedRows(c).map((r) => [r[0], r.slice(2)]))
  const share = hasFull(c) ? [SHARE_HEADER] : []
  return {
    headers: ["method", "n", ...qualityCols.map((q) => q.header), ...share, ...costs.map((q) => q.header), `Δ accuracy vs ${c.baseline}`, "p (accuracy)", `Δ macro-F1 vs ${c.baseline}`, "p (macro-F1)"],
    rows: [
      ...qualityRows(c, columns).map((r) => [...r, ...(paired.get(r[0] ?? "") ?? Array<string>(4).fill(NONE))]),
      ...referenceRows(c, columns.length - 1 + share.length + 4),
    ],
  }
}

const boundsOf = (e: Estimate | PairedTest | undefined, center: number | undefined): Array<string> => {
  const half = e?.half
  return [center, half === undefined || center === undefined ? undefined : center - half, half === undefined || center === undefined ? undefined : center + half]
    .map((x) => (x === undefined ? "" : String(x)))
}

const csv = (c: Comparison): string => {
  const metrics = [...ACCURACY, ...(has(c, "label_loss") ? [LABEL_LOSS] : []), EVAL_LOSS, ...costColumns(c)].map((q) => q.metric)
  const headers = ["group", ...c.groupBy, "n", ...metrics.flatMap((m) => [m, `${m}_ci_low`, `${m}_ci_high`]),
    ...(["accuracy", "macro_f1"] as const).flatMap((m) => [`delta_${m}`, `delta_${m}_ci_low`, `delta_${m}_ci_high`, `p_${m}`]),
    "share_of_full_gain", "share_of_full_gain_ci_low", "share_of_full_gain_ci_high"]
  const rows = c.groups.map((g) => [
    g.label,
    ...c.groupBy.map((f) => String(g.factors[f] ?? "")),
    nOf(g),
    ...metrics.flatMap((m) => boundsOf(g.metrics[m], g.metrics[m]?.mean)),
    ...(["accuracy", "macro_f1"] as const).flatMap((m) => [...boundsOf(g.paired[m], g.paired[m]?.meanDiff), g.paired[m]?.p === undefined ? "" : String(g.paired[m]?.p)]),
    ...boundsOf(g.shareOfFull, g.shareOfFull?.mean),
  ])
  const refs = c.reference.map((r) => {
    const row = Array<string>(headers.length).fill("")
    row[0] = r.label
    row[c.groupBy.length + 1] = String(r.accuracy.n)
    boundsOf(r.accuracy, r.accuracy.mean).forEach((v, n) => (row[c.groupBy.length + 2 + n] = v))
    return row
  })
  return csvTable(headers, [...rows, ...refs])
}

export const formatComparison = (c: Comparison, format: ComparisonFormat): string => {
  if (c.groups.length === 0 && (format === "table" || format === "md" || format === "latex")) {
    return `${caption(c)}\n\nnothing to compare: no succeeded or cached eval (or train) results in this run\n`
  }
  switch (format) {
    case "table":
      return table(c)
    case "md":
      return `**${caption(c)}**\n\n${markdownTable(wide(c))}\n` + (c.selections.length > 0 ? `\nChosen on the validation split:\n\n${selectionLines(c).map((l) => `- ${l}`).join("\n")}\n` : "")
    case "latex":
      return `% ${latexEscape(caption(c))}\n${latexTable(wide(c))}\n`
    case "csv":
      return csv(c)
    case "json":
      return JSON.stringify(c, null, 2) + "\n"
  }
}
