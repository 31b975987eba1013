/**
 * `peftlab compare`: the latest finished run of a pipeline (or `--run N`), grouped by the factors that vary (method,
 * rank …) and aggregated over seeds — mean ± 95% Student-t interval — with a paired test of
 * each method against the baseline on the seeds both have.
 *
 * A matrix cell is the factor combination of an `eval` execution on the test split (or `train`
 * when there is no eval); evals on the validation split (tuning) never reach the table. Each
 * metric comes from the stage kind that reports it; a stage joins a cell when its factors are a
 * subset of the cell's (attach-adapter[method=vera] feeds every vera seed).
 *
 * Share of full fine-tuning's gain over zero-shot, per group, when the run has a `full` method:
 * for each seed s both have, r_s = (acc_s − zero-shot_s) / (acc_full,s − zero-shot_s) — paired
 * on the seed, which fixes full fine-tuning's data order to the method's — then the mean of r_s
 * with a Student-t 95% interval over those seeds (a seed where full fine-tuning gained nothing
 * is left out). 1 = as good as full fine-tuning, 0 = no better than the base model.
 *
 * `select` choices of the run (made on validation results) are listed with their reasons.
 */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import type { Database } from "better-sqlite3"
import type { FactorValue } from "../contracts/events.ts"
import { artifactPathOf, loadResults, pickRun, type Factors, type ResultRow, type RunChoice } from "./results.ts"
import { estimate, pairedTest, type Estimate, type PairedTest } from "./stats.ts"

/** Metric → the stage kind that reports it (the contract with the stage authors). */
export const COMPARED = {
  accuracy: "eval",
  macro_f1: "eval",
  base_accuracy: "eval",
  eval_loss: "eval",
  label_loss: "eval",
  trainable_params: "attach-adapter",
  train_time_s: "train",
  peak_tensor_bytes: "train",
} as const
export type ComparedMetric = keyof typeof COMPARED
export const PAIRED = ["accuracy", "macro_f1"] as const
export type PairedMetric = (typeof PAIRED)[number]
/** Eval's reference accuracies: the same for every method of a seed. */
export const REFERENCES = { base_accuracy: "base model (zero-shot)", majority_accuracy: "majority class" } as const

export const SEED = "seed"
export const METHOD = "method"
/** The method whose gain over zero-shot the others are measured against. */
export const FULL = "full"

/** A `select` instance's choice, as recorded in its artifact. */
export interface Selection {
  readonly id: string
  readonly factors: Factors
  readonly chosen: Factors
  readonly reason: string
}

export interface GroupResult {
  readonly label: string
  readonly factors: Factors
  readonly seeds: ReadonlyArray<FactorValue>
  readonly metrics: Readonly<Partial<Record<ComparedMetric, Estimate>>>
  /** This group minus its baseline partner, on shared seeds (absent for the baseline itself). */
  readonly paired: Readonly<Partial<Record<PairedMetric, PairedTest>>>
  readonly isBaseline: boolean
  /** Share of full fine-tuning's accuracy gain over zero-shot (absent without a `full` group, and for it). */
  readonly shareOfFull?: Estimate
}

export interface ReferenceRow {
  readonly metric: keyof typeof REFERENCES
  readonly label: string
  readonly accuracy: Estimate
}

export interface Comparison {
  readonly pipeline: string
  readonly runId: number
  readonly baseline: string
  readonly groupBy: ReadonlyArray<string>
  readonly groups: ReadonlyArray<GroupResult>
  readonly reference: ReadonlyArray<ReferenceRow>
  readonly selections: ReadonlyArray<Selection>
}

/** One matrix cell (one seed of a group): its factors and the compared metrics that feed it. */
export interface Cell {
  readonly factors: Factors
  readonly values: Readonly<Partial<Record<ComparedMetric, number>>>
}

/** The reported cells grouped as the table groups them (groupKey → cells in result order). */
export interface SeedTable {
  readonly groupBy: ReadonlyArray<string>
  readonly groups: ReadonlyMap<string, ReadonlyArray<Cell>>
}

export const loadComparison = (db: Database, opts: RunChoice & { readonly baseline: string }): Comparison => {
  const run = pickRun(db, opts)
  const rows = loadResults(db, run.runId)
  return compareRows(rows, { pipeline: run.pipeline, runId: run.runId, baseline: opts.baseline, selections: loadSelections(db, rows) })
}

/** Validation-split evals are for tuning (select); only test results are compared. */
export const isReported = (r: ResultRow): boolean => !(r.kind === "eval" && r.params["split"] === "validation")

/** The comparison of result rows (from SQLite, or from the artifacts a report stage collects). */
export const compareRows = (
  all: ReadonlyArray<ResultRow>,
  meta: { readonly pipeline: string; readonly runId: number; readonly baseline: string; readonly selections: ReadonlyArray<Selection> },
): Comparison => {
  const rows = all.filter(isReported)
  const table = seedTable(rows)
  const groupBy = table.groupBy
  const groups = [...table.groups.values()].map((members) => summarize(members, groupBy, meta.baseline))
  return {
    pipeline: meta.pipeline,
    runId: meta.runId,
    baseline: meta.baseline,
    groupBy,
    groups: groups.map((g) => {
      const share = shareOfFull(g, table)
      return { ...g, paired: pairAgainst(g, table, meta.baseline), ...(share === undefined ? {} : { shareOfFull: share }) }
    }),
    reference: references(rows),
    selections: meta.selections,
  }
}

/** A choosing stage's summary holds `chosen.<axis>` (stages/select/); numeric ones are final metrics. */
const chooses = (r: ResultRow): boolean => r.kind === "select" || Object.keys(r.metrics).some((k) => k.startsWith("chosen."))

/** The choices of the run's `select` executions, read from their artifacts' select.json. */
export const loadSelections = (db: Database, rows: ReadonlyArray<ResultRow>): ReadonlyArray<Selection> =>
  rows.filter(chooses).flatMap((r) => {
    const rel = artifactPathOf(db, r.sourceId)
    const file = rel === undefined ? undefined : path.join(path.dirname(db.name), rel, "select.json")
    if (file === undefined || !existsSync(file)) return []
    const s = JSON.parse(readFileSync(file, "utf8")) as { chosen_values: Factors; reason: string }
    return [{ id: r.instanceId, factors: r.factors, chosen: s.chosen_values, reason: s.reason }]
  }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) // by id, not by completion order

/** The per-seed cells of the reported results, grouped: what the paired tests (and claims.ts) pair. */
export const seedTable = (all: ReadonlyArray<ResultRow>): SeedTable => {
  const cells = collectCells(all.filter(isReported))
  const groupBy = groupingFactors(cells)
  return { groupBy, groups: groupCells(cells, groupBy) }
}

/** Whether a cell's factors include every factor of `part` (a producer that feeds the cell). */
export const covers = (cell: Factors, part: Factors): boolean =>
  Object.entries(part).every(([name, value]) => cell[name] === value)

const collectCells = (rows: ReadonlyArray<ResultRow>): ReadonlyArray<Cell> => {
  const evals = rows.filter((r) => r.kind === "eval")
  const anchors = evals.length > 0 ? evals : rows.filter((r) => r.kind === "train")
  return anchors.map((anchor) => {
    const values: Partial<Record<ComparedMetric, number>> = {}
    for (const metric of Object.keys(COMPARED) as Array<ComparedMetric>) {
      const value = metricFor(rows, anchor, metric)
      if (value !== undefined) values[metric] = value
    }
    return { factors: anchor.factors, values }
  })
}

/** The metric from the most specific execution of its kind that feeds this cell. */
const metricFor = (rows: ReadonlyArray<ResultRow>, anchor: ResultRow, metric: ComparedMetric): number | undefined =>
  valueFor(rows, anchor.factors, COMPARED[metric], metric)

/** A final value `name` of the most specific `kind` execution whose factors the cell's cover (e.g. attach-adapter's `rank`). */
export const valueFor = (rows: ReadonlyArray<ResultRow>, cell: Factors, kind: string, name: string): number | undefined => {
  const feeding = rows
    .filter((r) => r.kind === kind && r.metrics[name] !== undefined && covers(cell, r.factors))
    .sort((a, b) => Object.keys(b.factors).length - Object.keys(a.factors).length)
  return feeding[0]?.metrics[name]
}

/** Factors other than the seed that take more than one value; `method` always groups. */
const groupingFactors = (cells: ReadonlyArray<Cell>): ReadonlyArray<string> => {
  const names = [...new Set(cells.flatMap((c) => Object.keys(c.factors)))].filter((n) => n !== SEED)
  const varies = (n: string) => new Set(cells.map((c) => JSON.stringify(c.factors[n] ?? null))).size > 1
  return names.filter((n) => n === METHOD || varies(n))
}

export const groupKey = (factors: Factors, groupBy: ReadonlyArray<string>): string =>
  JSON.stringify(groupBy.map((n) => factors[n] ?? null))

const groupCells = (cells: ReadonlyArray<Cell>, groupBy: ReadonlyArray<string>): Map<string, ReadonlyArray<Cell>> => {
  const groups = new Map<string, Array<Cell>>()
  for (const cell of cells) {
    const key = groupKey(cell.factors, groupBy)
    groups.set(key, [...(groups.get(key) ?? []), cell])
  }
  return groups
}

const summarize = (
  members: ReadonlyArray<Cell>,
  groupBy: ReadonlyArray<string>,
  baseline: string,
): Omit<GroupResult, "paired"> => {
  const factors = Object.fromEntries(groupBy.flatMap((n) => {
    const v = members[0]?.factors[n]
    return v === undefined ? [] : [[n, v]]
  }))
  const metrics: Partial<Record<ComparedMetric, Estimate>> = {}
  for (const metric of Object.keys(COMPARED) as Array<ComparedMetric>) {
    const e = estimate(members.flatMap((m) => (m.values[metric] === undefined ? [] : [m.values[metric]])))
    if (e !== undefined) metrics[metric] = e
  }
  return {
    label: groupLabel(factors),
    factors,
    seeds: members.flatMap((m) => (m.factors[SEED] === undefined ? [] : [m.factors[SEED]])),
    metrics,
    isBaseline: factors[METHOD] === baseline,
  }
}

/** `vera`, `vera rank=16`, or `rank=16` without a method factor. */
export const groupLabel = (factors: Factors): string =>
  Object.entries(factors)
    .map(([n, v]) => (n === METHOD ? String(v) : `${n}=${String(v)}`))
    .join(" ") || "all"

/** The `method` group with the same other factors as `factors`, or the only `method` group there is. */
export const partnerOf = (factors: Factors, table: SeedTable, method: string): ReadonlyArray<Cell> | undefined => {
  const exact = table.groups.get(groupKey({ ...factors, [METHOD]: method }, table.groupBy))
  if (exact !== undefined) return exact
  const all = [...table.groups.values()].filter((cells) => cells[0]?.factors[METHOD] === method)
  return all.length === 1 ? all[0] : undefined
}

/** Each of `own`'s cells with `partner`'s cell of the same seed (cells without a partner are left out). */
export const pairBySeed = (own: ReadonlyArray<Cell>, partner: ReadonlyArray<Cell>): ReadonlyArray<readonly [Cell, Cell]> => {
  const bySeed = new Map(partner.map((c) => [JSON.stringify(c.factors[SEED] ?? null), c]))
  return own.flatMap((c) => {
    const p = bySeed.get(JSON.stringify(c.factors[SEED] ?? null))
    return p === undefined ? [] : [[c, p] as const]
  })
}

const pairAgainst = (
  g: Omit<GroupResult, "paired">,
  table: SeedTable,
  baseline: string,
): Partial<Record<PairedMetric, PairedTest>> => {
  const partner = g.isBaseline ? undefined : partnerOf(g.factors, table, baseline)
  const own = table.groups.get(groupKey(g.factors, table.groupBy)) ?? []
  const out: Partial<Record<PairedMetric, PairedTest>> = {}
  if (partner === undefined) return out
  for (const metric of PAIRED) {
    const diffs = pairBySeed(own, partner).flatMap(([mine, base]) => {
      const [m, b] = [mine.values[metric], base.values[metric]]
      return m === undefined || b === undefined ? [] : [m - b]
    })
    const test = pairedTest(diffs)
    if (test !== undefined) out[metric] = test
  }
  return out
}

/** Per seed paired with `full`: (acc − zero-shot) / (acc_full − zero-shot_full); mean ± t interval. */
const shareOfFull = (g: Omit<GroupResult, "paired">, table: SeedTable): Estimate | undefined => {
  if (g.factors[METHOD] === FULL) return undefined
  const partner = partnerOf(g.factors, table, FULL)
  if (partner === undefined) return undefined
  const own = table.groups.get(groupKey(g.factors, table.groupBy)) ?? []
  const ratios = pairBySeed(own, partner).flatMap(([c, f]) => {
    const [acc, base, accFull, baseFull] = [c.values.accuracy, c.values.base_accuracy, f.values.accuracy, f.values.base_accuracy]
    if (acc === undefined || base === undefined || accFull === undefined || baseFull === undefined || !(accFull - baseFull > 0)) return []
    return [(acc - base) / (accFull - baseFull)]
  })
  return estimate(ratios)
}

/** One value per seed (every method's eval reports the same one), averaged over seeds. */
const references = (rows: ReadonlyArray<ResultRow>): ReadonlyArray<ReferenceRow> =>
  (Object.keys(REFERENCES) as Array<keyof typeof REFERENCES>).flatMap((metric) => {
    const perSeed = new Map<string, number>()
    for (const r of rows) {
      const v = r.kind === "eval" ? r.metrics[metric] : undefined
      const seed = JSON.stringify(r.factors[SEED] ?? null)
      if (v !== undefined && !perSeed.has(seed)) perSeed.set(seed, v)
    }
    const accuracy = estimate([...perSeed.values()])
    return accuracy === undefined ? [] : [{ metric, label: REFERENCES[metric], accuracy }]
  })
