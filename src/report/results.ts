/**
 * What the reports read from SQLite: the executions of one run that produced or reused a
 * result, each resolved to the execution that actually computed it (a `cached` row points
 * at its producer through `source_execution_id`), with its factors and final metrics.
 */
import type { Database } from "better-sqlite3"
import type { FactorValue } from "../contracts/events.ts"

export type Factors = Readonly<Record<string, FactorValue>>

export interface ResultRow {
  /** The execution in the chosen run. */
  readonly executionId: number
  /** The execution whose metrics count (itself, or the producer of a cached result). */
  readonly sourceId: number
  readonly instanceId: string
  readonly stage: string
  readonly kind: string
  readonly factors: Factors
  /** The decoded params the execution ran with (from its fingerprint fields), e.g. eval's `split`. */
  readonly params: Readonly<Record<string, unknown>>
  /** Final values (step NULL), plus `peak_rss_bytes` (the worker process's lifetime maximum) from the execution row. */
  readonly metrics: Readonly<Record<string, number>>
}

export interface RunPick {
  readonly runId: number
  readonly pipeline: string
}

export class ReportError extends Error {
  readonly _tag = "ReportError"
}

export interface RunChoice {
  /** Only runs of this pipeline (its `name:`). */
  readonly pipeline?: string | undefined
  /** This run (`--run N`), whatever its status. */
  readonly runId?: number | undefined
}

/**
 * The run a report reads: `--run N` when given (of that pipeline, when one is named), else the
 * latest run that finished successfully — of the pipeline, or of any pipeline when none is named.
 * Interrupted, failed and still-running runs are never the default: their results are partial.
 */
export const pickRun = (db: Database, choice: RunChoice = {}): RunPick => {
  const { pipeline, runId } = choice
  const of = pipeline === undefined ? "" : ` of pipeline "${pipeline}"`
  if (runId !== undefined) {
    const row = db.prepare(`SELECT id, pipeline FROM runs WHERE id = ?`).get(runId) as { id: number; pipeline: string } | undefined
    if (row === undefined) throw new ReportError(`no run #${runId} (peftlab runs lists them)`)
    if (pipeline !== undefined && row.pipeline !== pipeline) throw new ReportError(`run #${runId} is of pipeline "${row.pipeline}", not "${pipeline}"`)
    return { runId: row.id, pipeline: row.pipeline }
  }
  const where = pipeline === undefined ? "" : "AND pipeline = ?"
  const args = pipeline === undefined ? [] : [pipeline]
  const row = db.prepare(`SELECT id, pipeline FROM runs WHERE status = 'succeeded' ${where} ORDER BY id DESC LIMIT 1`).get(...args) as
    | { id: number; pipeline: string }
    | undefined
  if (row !== undefined) return { runId: row.id, pipeline: row.pipeline }
  const latest = db.prepare(`SELECT id, status FROM runs WHERE 1 = 1 ${where} ORDER BY id DESC LIMIT 1`).get(...args) as { id: number; status: string } | undefined
  if (latest === undefined) throw new ReportError(pipeline === undefined ? "no runs recorded yet" : `no runs of pipeline "${pipeline}"`)
  throw new ReportError(`no finished run${of} (the latest, #${latest.id}, is ${latest.status}); pick one with --run N`)
}

/** Cached rows may in principle point at another cached row; follow the chain, bounded. */
const MAX_HOPS = 16

export const loadResults = (db: Database, runId: number): ReadonlyArray<ResultRow> => {
  const rows = db
    .prepare(
      `SELECT id, instance_id AS instanceId, stage, kind, status, source_execution_id AS sourceId, fields
       FROM executions WHERE run_id = ? AND status IN ('succeeded', 'cached') ORDER BY id`,
    )
    .all(runId) as ReadonlyArray<{ id: number; instanceId: string; stage: string; kind: string; status: string; sourceId: number | null; fields: string }>
  const source = db.prepare(`SELECT status, source_execution_id AS sourceId FROM executions WHERE id = ?`)
  const resolve = (id: number, status: string, next: number | null): number => {
    for (let hop = 0; status === "cached" && next !== null && hop < MAX_HOPS; hop++) {
      id = next
      const row = source.get(id) as { status: string; sourceId: number | null } | undefined
      if (row === undefined) break
      ;({ status, sourceId: next } = row)
    }
    return id
  }
  return rows.map((r) => {
    const sourceId = resolve(r.id, r.status, r.sourceId)
    return {
      executionId: r.id,
      sourceId,
      instanceId: r.instanceId,
      stage: r.stage,
      kind: r.kind,
      factors: loadFactors(db, r.id, sourceId),
      params: paramsOf(r.fields),
      metrics: loadFinalMetrics(db, sourceId),
    }
  })
}

/** `params.<key>` fields of a fingerprint field list → { key: value }. */
export const paramsOf = (fields: string): Record<string, unknown> => {
  try {
    const list = JSON.parse(fields) as ReadonlyArray<readonly [string, unknown]>
    return Object.fromEntries(list.filter(([k]) => k.startsWith("params.")).map(([k, v]) => [k.slice("params.".length), v]))
  } catch {
    return {}
  }
}

/** The artifact folder (relative to the runs directory) of an execution's committed result. */
export const artifactPathOf = (db: Database, executionId: number): string | undefined =>
  (db.prepare(`SELECT a.path FROM executions e JOIN artifacts a ON a.digest = e.artifact_digest WHERE e.id = ?`).get(executionId) as { path: string } | undefined)?.path

const loadFactors = (db: Database, id: number, fallbackId: number): Factors => {
  const query = db.prepare(`SELECT name, value FROM factors WHERE execution_id = ? ORDER BY rowid`)
  let rows = query.all(id) as ReadonlyArray<{ name: string; value: string }>
  if (rows.length === 0 && fallbackId !== id) rows = query.all(fallbackId) as typeof rows
  return Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.value) as FactorValue]))
}

const loadFinalMetrics = (db: Database, id: number): Record<string, number> => {
  const rows = db
    .prepare(`SELECT name, value FROM metrics WHERE execution_id = ? AND step IS NULL ORDER BY rowid`)
    .all(id) as ReadonlyArray<{ name: string; value: number }>
  const metrics: Record<string, number> = Object.fromEntries(rows.map((r) => [r.name, r.value]))
  if (metrics["peak_rss_bytes"] === undefined) {
    const row = db.prepare(`SELECT peak_rss_bytes AS rss FROM executions WHERE id = ?`).get(id) as { rss: number | null } | undefined
    if (row?.rss !== null && row?.rss !== undefined) metrics["peak_rss_bytes"] = row.rss
  }
  return metrics
}

/** Per-step values of one metric for an execution, ordered by step. */
export const loadCurve = (db: Database, executionId: number, name: string): ReadonlyArray<{ step: number; value: number }> =>
  db
    .prepare(`SELECT step, value FROM metrics WHERE execution_id = ? AND name = ? AND step IS NOT NULL ORDER BY step`)
    .all(executionId, name) as ReadonlyArray<{ step: number; value: number }>
