/**
 * All SQL of peftlab's runs database, parameterized. The run's parent process is the only writer
 * of its own rows; concurrent runs coordinate through `locks` (see locks.ts).
 */
import type { Database as Db, Statement } from "better-sqlite3"
import type { Field } from "../contracts/fields.ts"
import type { FactorValue, RunEvent } from "../contracts/events.ts"
import * as path from "node:path"
import { verifyArtifact } from "./artifacts.ts"
import type { Manifest, ManifestEntry } from "./artifacts.ts"
import { ownStart } from "./liveness.ts"

export interface CacheHit {
  readonly executionId: number
  readonly artifactDigest: string
  readonly artifactPath: string
  readonly summary: Readonly<Record<string, number | string | boolean>>
}

export interface RunRecord {
  readonly pipeline: string
  readonly pipelinePath: string
  readonly backend: string
  readonly jobs: number
  readonly environment: unknown
}

export interface ExecutionRecord {
  readonly runId: number
  readonly instanceId: string
  readonly stage: string
  readonly kind: string
  readonly fingerprint: string
  readonly fields: ReadonlyArray<Field>
  readonly factors: Readonly<Record<string, FactorValue>>
  readonly status: "running" | "cached" | "skipped"
  readonly cached?: CacheHit
}

export interface CommitRecord {
  readonly executionId: number
  readonly fingerprint: string
  readonly artifact: Manifest & { readonly path: string }
  readonly summary: Readonly<Record<string, number | string | boolean>>
  readonly metrics: ReadonlyArray<{ readonly step: number | null; readonly name: string; readonly value: number }>
  readonly durationMs: number
  readonly peakRssBytes: number | null
}

export type EndStatus = "failed" | "interrupted"

const now = () => new Date().toISOString()

export class Store {
  /**
   * With `runsDir`, every cache hit is checked against its manifest (file sizes); a damaged
   * artifact is a miss, and why is kept in `damaged` (fingerprint → what is wrong).
   */
  constructor(readonly db: Db, readonly runsDir?: string) {}

  readonly damaged = new Map<string, string>()

  private intact(fingerprint: string, artifactPath: string, manifest: string): boolean {
    if (this.runsDir === undefined) return true
    const problem = verifyArtifact(path.join(this.runsDir, artifactPath), JSON.parse(manifest) as ReadonlyArray<ManifestEntry>)
    if (problem === undefined) return true
    this.damaged.set(fingerprint, `stored artifact ${artifactPath} is damaged (${problem}): a miss`)
    return false
  }

  private readonly statements = new Map<string, Statement>()

  /** Prepared once per connection: `status` looks up thousands of fingerprints. */
  private stmt(sql: string): Statement {
    let s = this.statements.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      this.statements.set(sql, s)
    }
    return s
  }

  cacheLookup(fingerprint: string): CacheHit | undefined {
    const row = this
      .stmt(
        `SELECT c.execution_id AS executionId, c.artifact_digest AS artifactDigest, a.path AS artifactPath, a.manifest AS manifest, e.summary AS summary
         FROM cache c JOIN artifacts a ON a.digest = c.artifact_digest JOIN executions e ON e.id = c.execution_id
         WHERE c.fingerprint = ?`,
      )
      .get(fingerprint) as { executionId: number; artifactDigest: string; artifactPath: string; manifest: string; summary: string | null } | undefined
    if (row === undefined || !this.intact(fingerprint, row.artifactPath, row.manifest)) return undefined
    return { executionId: row.executionId, artifactDigest: row.artifactDigest, artifactPath: row.artifactPath, summary: JSON.parse(row.summary ?? "{}") as CacheHit["summary"] }
  }

  /** Many lookups in one query (the plan of a large pipeline); summaries are read when first used. */
  cacheLookupMany(fingerprints: ReadonlyArray<string>): ReadonlyMap<string, CacheHit> {
    const rows = this.stmt(
      `SELECT c.fingerprint AS fingerprint, c.execution_id AS executionId, c.artifact_digest AS artifactDigest, a.path AS artifactPath, a.manifest AS manifest
       FROM cache c JOIN artifacts a ON a.digest = c.artifact_digest
       WHERE c.fingerprint IN (SELECT value FROM json_each(?))`,
    ).raw().all(JSON.stringify(fingerprints)) as Array<[string, number, string, string, string]>
    const summaryOf = (id: number) => {
      const row = this.stmt(`SELECT summary FROM executions WHERE id = ?`).get(id) as { summary: string | null } | undefined
      return JSON.parse(row?.summary ?? "{}") as CacheHit["summary"]
    }
    return new Map(
      rows.filter(([fingerprint, , , artifactPath, manifest]) => this.intact(fingerprint, artifactPath, manifest)).map(([fingerprint, executionId, artifactDigest, artifactPath]) => {
        let summary: CacheHit["summary"] | undefined
        const hit: CacheHit = { executionId, artifactDigest, artifactPath, get summary() { return (summary ??= summaryOf(executionId)) } }
        return [fingerprint, hit]
      }),
    )
  }

  /** Fields of the last execution of this instance that produced or reused a result. */
  lastGoodFields(instanceId: string): ReadonlyArray<Field> | undefined {
    const row = this
      .stmt(`SELECT fields FROM executions WHERE instance_id = ? AND status IN ('succeeded','cached') ORDER BY id DESC LIMIT 1`)
      .get(instanceId) as { fields: string } | undefined
    return row === undefined ? undefined : (JSON.parse(row.fields) as ReadonlyArray<Field>)
  }

  beginRun(run: RunRecord): number {
    const info = this.db
      .prepare(`INSERT INTO runs (pipeline, pipeline_path, started_at, status, backend, jobs, environment, pid, pid_start) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)`)
      .run(run.pipeline, run.pipelinePath, now(), run.backend, run.jobs, JSON.stringify(run.environment), process.pid, ownStart())
    return Number(info.lastInsertRowid)
  }

  finishRun(runId: number, status: "succeeded" | "failed" | "interrupted"): void {
    this.db.transaction(() => {
      this.db.prepare(`UPDATE executions SET status = 'interrupted', finished_at = ? WHERE run_id = ? AND status = 'running'`).run(now(), runId)
      this.db.prepare(`UPDATE runs SET status = ?, finished_at = ? WHERE id = ?`).run(status, now(), runId)
      this.db.prepare(`DELETE FROM locks WHERE run_id = ? AND pid = ?`).run(runId, process.pid)
    }).immediate()
  }

  /** Several executions (cache hits, skips) in one transaction. */
  insertExecutions(rows: ReadonlyArray<ExecutionRecord>): void {
    if (rows.length > 0) this.db.transaction(() => rows.forEach((r) => this.insertExecution(r))).immediate()
  }

  insertExecution(e: ExecutionRecord): number {
    return this.db.transaction(() => {
      const info = this
        .stmt(
          `INSERT INTO executions (run_id, instance_id, stage, kind, fingerprint, fields, status, source_execution_id, artifact_digest, started_at, summary)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(e.runId, e.instanceId, e.stage, e.kind, e.fingerprint, JSON.stringify(e.fields), e.status, e.cached?.executionId ?? null, e.cached?.artifactDigest ?? null, now(), e.cached ? JSON.stringify(e.cached.summary) : null)
      const id = Number(info.lastInsertRowid)
      const factor = this.stmt(`INSERT INTO factors (execution_id, name, value) VALUES (?, ?, ?)`)
      for (const [name, value] of Object.entries(e.factors)) factor.run(id, name, JSON.stringify(value))
      return id
    }).immediate()
  }

  /** The one transaction that makes a result visible: artifact, execution, metrics, cache row, lock release. */
  commit(c: CommitRecord): void {
    this.db.transaction(() => {
      const a = c.artifact
      this.db
        .prepare(`INSERT OR IGNORE INTO artifacts (digest, path, bytes, files, manifest, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
        .run(a.digest, a.path, a.bytes, a.files.length, JSON.stringify(a.files), now())
      this.db
        .prepare(`UPDATE executions SET status = 'succeeded', artifact_digest = ?, finished_at = ?, duration_ms = ?, peak_rss_bytes = ?, summary = ? WHERE id = ?`)
        .run(a.digest, now(), c.durationMs, c.peakRssBytes, JSON.stringify(c.summary), c.executionId)
      this.insertMetrics(c.executionId, c.metrics)
      this.db.prepare(`INSERT OR REPLACE INTO cache (fingerprint, execution_id, artifact_digest, committed_at) VALUES (?, ?, ?, ?)`).run(c.fingerprint, c.executionId, a.digest, now())
      this.db.prepare(`DELETE FROM locks WHERE fingerprint = ? AND pid = ?`).run(c.fingerprint, process.pid)
    }).immediate()
  }

  endExecution(options: { readonly executionId: number; readonly fingerprint: string; readonly status: EndStatus; readonly error: unknown; readonly metrics: CommitRecord["metrics"]; readonly durationMs: number }): void {
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE executions SET status = ?, finished_at = ?, duration_ms = ?, error = ? WHERE id = ?`)
        .run(options.status, now(), options.durationMs, JSON.stringify(options.error), options.executionId)
      this.insertMetrics(options.executionId, options.metrics)
      this.db.prepare(`DELETE FROM locks WHERE fingerprint = ? AND pid = ?`).run(options.fingerprint, process.pid)
    }).immediate()
  }

  private insertMetrics(executionId: number, metrics: CommitRecord["metrics"]): void {
    const stmt = this.db.prepare(`INSERT INTO metrics (execution_id, step, name, value) VALUES (?, ?, ?, ?)`)
    for (const m of metrics) stmt.run(executionId, m.step, m.name, m.value)
  }

  insertEvents(runId: number, firstSeq: number, events: ReadonlyArray<RunEvent>): void {
    if (events.length === 0) return
    this.db.transaction(() => {
      const stmt = this.db.prepare(`INSERT INTO events (run_id, seq, at, instance_id, type, payload) VALUES (?, ?, ?, ?, ?, ?)`)
      events.forEach((e, i) => stmt.run(runId, firstSeq + i, new Date(e.at).toISOString(), "id" in e ? e.id : null, e.type, JSON.stringify(e)))
    }).immediate()
  }
}
