/**
 * A small runs database built with the real migrations and hand-inserted rows, shaped like
 * what the engine writes: shared stages without factors, attach-adapter per method,
 * train/eval per method × seed, cached executions pointing at their producers.
 */
import Database from "better-sqlite3"
import type { Database as Db } from "better-sqlite3"
import type { FactorValue } from "../../src/contracts/events.ts"
import { migrations } from "../../src/store/migrations.ts"

export const openFixtureDb = (): Db => {
  const db = new Database(":memory:")
  for (const m of migrations) db.exec(m)
  return db
}

export const addRun = (db: Db, pipeline: string): number =>
  Number(
    db
      .prepare(`INSERT INTO runs (pipeline, pipeline_path, started_at, status, backend, jobs, environment, pid) VALUES (?, ?, '2025-01-01T00:00:00Z', 'succeeded', 'wasm', 2, '{}', 1)`)
      .run(pipeline, `pipelines/${pipeline}.yaml`).lastInsertRowid,
  )

export interface ExecutionSpec {
  readonly runId: number
  readonly kind: string
  readonly factors?: Readonly<Record<string, FactorValue>>
  readonly status?: "succeeded" | "cached" | "failed"
  readonly source?: number
  /** Final metrics (step NULL). */
  readonly final?: Readonly<Record<string, number>>
  /** Per-step curves: name → values at steps 1, 2, … */
  readonly curves?: Readonly<Record<string, ReadonlyArray<number>>>
  readonly peakRss?: number
  /** Decoded params, stored as the execution's `params.<key>` fingerprint fields (eval's split). */
  readonly params?: Readonly<Record<string, unknown>>
}

export const addExecution = (db: Db, e: ExecutionSpec): number => {
  const factors = e.factors ?? {}
  const suffix = Object.entries(factors).map(([k, v]) => `${k}=${v}`).join(",")
  const instance = suffix === "" ? e.kind : `${e.kind}[${suffix}]`
  const id = Number(
    db
      .prepare(`INSERT INTO executions (run_id, instance_id, stage, kind, fingerprint, fields, status, source_execution_id, peak_rss_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(e.runId, instance, e.kind, e.kind, `fp-${instance}`, JSON.stringify(Object.entries(e.params ?? {}).map(([k, v]) => [`params.${k}`, v])), e.status ?? "succeeded", e.source ?? null, e.peakRss ?? null).lastInsertRowid,
  )
  for (const [name, value] of Object.entries(factors)) {
    db.prepare(`INSERT INTO factors (execution_id, name, value) VALUES (?, ?, ?)`).run(id, name, JSON.stringify(value))
  }
  const metric = db.prepare(`INSERT INTO metrics (execution_id, step, name, value) VALUES (?, ?, ?, ?)`)
  for (const [name, value] of Object.entries(e.final ?? {})) metric.run(id, null, name, value)
  for (const [name, values] of Object.entries(e.curves ?? {})) values.forEach((v, n) => metric.run(id, n + 1, name, v))
  return id
}

/** Accuracy per seed 1, 2, 3 (and macro-F1 = accuracy − 0.05). */
export const LORA_ACC = [0.78, 0.8, 0.82] as const
export const VERA_ACC = [0.8, 0.84, 0.83] as const

/**
 * Run 1 (pipeline "quick"): lora × seeds 1–3. Run 2 ("quick", the latest): the lora cells
 * cached from run 1, vera × seeds 1–3 new, delta-lora with a single seed and no macro-F1.
 * An older run of another pipeline must be ignored.
 */
export const ablationDb = (): Db => {
  const db = openFixtureDb()
  const other = addRun(db, "other")
  addExecution(db, { runId: other, kind: "eval", factors: { method: "lora", seed: 1 }, final: { accuracy: 0.1 } })
  const first = addRun(db, "quick")
  const shared = addExecution(db, { runId: first, kind: "build-model", final: { params: 1e6 } })
  const produced = cellsFor(db, first, "lora", LORA_ACC, 4096)
  const latest = addRun(db, "quick")
  addExecution(db, { runId: latest, kind: "build-model", status: "cached", source: shared })
  for (const [kind, id] of produced) addExecution(db, { ...specOf(db, id), runId: latest, kind, status: "cached", source: id, final: {}, curves: {} })
  cellsFor(db, latest, "vera", VERA_ACC, 1040)
  addExecution(db, { runId: latest, kind: "eval", factors: { method: "delta-lora", seed: 1 }, final: { accuracy: 0.81, eval_loss: 0.5, base_accuracy: 0.5, majority_accuracy: 0.66 } })
  return db
}

const specOf = (db: Db, id: number): { factors: Record<string, FactorValue> } => {
  const rows = db.prepare(`SELECT name, value FROM factors WHERE execution_id = ?`).all(id) as Array<{ name: string; value: string }>
  return { factors: Object.fromEntries(rows.map((r) => [r.name, JSON.parse(r.value) as FactorValue])) }
}

const cellsFor = (db: Db, runId: number, method: string, acc: ReadonlyArray<number>, params: number): Array<[string, number]> => {
  const out: Array<[string, number]> = []
  out.push(["attach-adapter", addExecution(db, { runId, kind: "attach-adapter", factors: { method }, final: { trainable_params: params } })])
  acc.forEach((a, n) => {
    const seed = n + 1
    out.push(["train", addExecution(db, {
      runId, kind: "train", factors: { method, seed }, peakRss: (100 + seed) * 1024 * 1024,
      final: { train_time_s: 10 + seed, final_loss: 1, peak_tensor_bytes: (20 + seed) * 1024 * 1024 }, curves: { loss: [3 - seed / 10, 2, 1.5 + seed / 10] },
    })])
    out.push(["eval", addExecution(db, {
      runId, kind: "eval", factors: { method, seed },
      final: { accuracy: a, macro_f1: a - 0.05, eval_loss: 1 - a, base_accuracy: 0.5 + seed / 100, majority_accuracy: 0.66 },
    })])
  })
  return out
}
