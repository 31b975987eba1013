/** `status`, `why`, `runs`: read-only views of the plan and the store. */
import type { Database as Db } from "better-sqlite3"
import { diffFields } from "../engine/fingerprint.ts"
import type { PlannedInstance } from "../engine/plan.ts"
import type { MemoryCheck } from "../pipeline/memory.ts"

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`

/** "mem ≈ 0.52 GiB of 4.00 GiB wasm heap": a train's estimate and its binding limit. */
export const formatMemory = (c: MemoryCheck): string => `mem ≈ ${gib(c.bytes)} of ${gib(c.limit)} ${c.what === "wasm heap" ? "wasm heap" : "RAM"}`

export const formatStatus = (plan: ReadonlyArray<PlannedInstance>, memory: ReadonlyMap<string, MemoryCheck> = new Map()): string => {
  const width = Math.min(60, Math.max(...plan.map((p) => p.instance.id.length)))
  const lines = plan.map((p) => {
    const m = memory.get(p.instance.id)
    return `${p.cached ? "cached  " : "will run"}  ${p.instance.id.padEnd(width)}${m === undefined ? "" : `  ${formatMemory(m)}`}${p.reason ? `  ${p.reason}` : ""}`
  })
  const pending = plan.filter((p) => !p.cached).length
  lines.push(`${plan.length} stages: ${plan.length - pending} cached, ${pending} to run`)
  return lines.join("\n")
}

export const statusJson = (plan: ReadonlyArray<PlannedInstance>, memory: ReadonlyMap<string, MemoryCheck> = new Map()): string =>
  plan
    .map((p) => {
      const m = memory.get(p.instance.id)
      const mem = m === undefined ? {} : { memory: { bytes: Math.round(m.bytes), limit: m.limit, of: m.what, backend: m.backend, heap_bytes: Math.round(m.backend === "native" ? m.need.nativeHeapBytes : m.need.heapBytes), rss_bytes: Math.round(m.backend === "native" ? m.need.nativeRssBytes : m.backend === "wasm" ? m.need.rssBytes : m.need.cpuRssBytes) } }
      return JSON.stringify({ id: p.instance.id, plan: p.cached ? "cached" : "pending", fingerprint: p.fingerprint, ...(p.reason ? { reason: p.reason } : {}), ...mem })
    })
    .join("\n")

export const formatWhy = (p: PlannedInstance, before: ReadonlyArray<readonly [string, unknown]> | undefined): string => {
  const head = `${p.instance.id}: ${p.cached ? "cached" : "will run"} (fingerprint ${p.fingerprint.slice(0, 12)})`
  if (before === undefined) return `${head}\n  no earlier successful execution`
  const changes = diffFields(before, p.fields)
  if (changes.length === 0) return `${head}\n  no field changed since the last successful execution${p.cached ? "" : " (its result is not in the cache)"}`
  return [`${head}\n  changed since the last successful execution:`, ...changes.map((c) => `  ${c}`)].join("\n")
}

interface RunRow {
  readonly id: number
  readonly pipeline: string
  readonly started_at: string
  readonly finished_at: string | null
  readonly status: string
  readonly backend: string
  readonly counts: string | null
}

export const listRuns = (db: Db): ReadonlyArray<RunRow> =>
  db
    .prepare(
      `SELECT r.id, r.pipeline, r.started_at, r.finished_at, r.status, r.backend,
              (SELECT group_concat(n || ' ' || status, ', ') FROM (SELECT status, count(*) AS n FROM executions WHERE run_id = r.id GROUP BY status)) AS counts
       FROM runs r ORDER BY r.id`,
    )
    .all() as Array<RunRow>

export const formatRuns = (rows: ReadonlyArray<RunRow>): string =>
  rows.length === 0 ? "no runs yet" : rows.map((r) => `${String(r.id).padStart(4)}  ${r.started_at.slice(0, 19)}  ${r.status.padEnd(11)}  ${r.pipeline}  ${r.backend}  ${r.counts ?? ""}`).join("\n")
