/**
 * gc: frees what no current result needs, and says how many bytes.
 *
 * - superseded results: cache entries whose fingerprint is no longer the latest good one of its
 *   (pipeline, stage instance) — the params, code or inputs changed since — and the artifacts
 *   that no remaining cache entry names;
 * - store folders without an artifact row (a crash between rename and commit);
 * - orphaned scratch folders (checkpoints): of a committed fingerprint, or of a fingerprint that
 *   is not the latest attempt of any instance (an interrupted stage whose params changed since).
 *   The scratch of the latest interrupted attempt is kept: it lets that stage resume;
 * - temporary folders of processes that are gone.
 *
 * It never touches what a live run uses: while another run is live (pid + start time, see
 * liveness.ts) it removes nothing; the check and the row deletions are one IMMEDIATE
 * transaction, and a run registers itself before it plans, so no run can plan against rows gc is
 * deleting. `dryRun` reports the same figures and changes nothing.
 */
import { existsSync, readdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import type { Database as Db } from "better-sqlite3"
import { folderBytes, liveRuns, recoverStale, removeOrphans, tmpOwnerAlive } from "./recover.ts"
import type { LiveRun } from "./recover.ts"

export interface GcItem {
  readonly what: "artifact" | "orphan" | "scratch" | "tmp"
  /** Relative to the runs directory. */
  readonly path: string
  readonly bytes: number
}

export interface GcReport {
  /** Non-empty: gc removed nothing because these runs are live. */
  readonly liveRuns: ReadonlyArray<LiveRun>
  readonly items: ReadonlyArray<GcItem>
  readonly bytes: number
  readonly dryRun: boolean
}

const superseded = (db: Db): { readonly fingerprints: ReadonlyArray<string>; readonly artifacts: ReadonlyArray<{ digest: string; path: string }> } => {
  const latestGood = `SELECT e.fingerprint FROM executions e WHERE e.id IN (
      SELECT max(e2.id) FROM executions e2 JOIN runs r ON r.id = e2.run_id
      WHERE e2.status IN ('succeeded','cached') GROUP BY r.pipeline, e2.instance_id)`
  const fingerprints = (db.prepare(`SELECT fingerprint FROM cache WHERE fingerprint NOT IN (${latestGood})`).all() as Array<{ fingerprint: string }>).map((r) => r.fingerprint)
  const artifacts = db
    .prepare(`SELECT digest, path FROM artifacts WHERE digest NOT IN (SELECT artifact_digest FROM cache WHERE fingerprint NOT IN (SELECT value FROM json_each(?)))`)
    .all(JSON.stringify(fingerprints)) as Array<{ digest: string; path: string }>
  return { fingerprints, artifacts }
}

const orphanScratch = (db: Db, runsDir: string, droppedFingerprints: ReadonlySet<string>): ReadonlyArray<string> => {
  const dir = path.join(runsDir, "scratch")
  if (!existsSync(dir)) return []
  const latestAttempt = new Set(
    (db.prepare(`SELECT e.fingerprint FROM executions e WHERE e.id IN (
        SELECT max(e2.id) FROM executions e2 JOIN runs r ON r.id = e2.run_id WHERE e2.status <> 'skipped' GROUP BY r.pipeline, e2.instance_id)`).all() as Array<{ fingerprint: string }>).map((r) => r.fingerprint),
  )
  const committed = new Set((db.prepare(`SELECT fingerprint FROM cache`).all() as Array<{ fingerprint: string }>).map((r) => r.fingerprint))
  return readdirSync(dir).filter((fp) => committed.has(fp) || droppedFingerprints.has(fp) || !latestAttempt.has(fp))
}

export const collectGarbage = (db: Db, runsDir: string, options: { readonly dryRun: boolean }): GcReport => {
  const live = liveRuns(db)
  if (live.length > 0) return { liveRuns: live, items: [], bytes: 0, dryRun: options.dryRun }
  const { fingerprints, artifacts } = superseded(db)
  const items: Array<GcItem> = []
  for (const a of artifacts) items.push({ what: "artifact", path: a.path, bytes: folderBytes(path.join(runsDir, a.path)) })
  const dropping = new Set(artifacts.map((a) => a.digest))
  const orphans = removeOrphans(db, runsDir, true, dropping)
  items.push(...orphans.items)
  for (const fp of orphanScratch(db, runsDir, new Set(fingerprints))) items.push({ what: "scratch", path: `scratch/${fp}`, bytes: folderBytes(path.join(runsDir, "scratch", fp)) })
  const tmp = path.join(runsDir, "tmp")
  if (existsSync(tmp)) for (const name of readdirSync(tmp)) if (!tmpOwnerAlive(name)) items.push({ what: "tmp", path: `tmp/${name}`, bytes: folderBytes(path.join(tmp, name)) })
  const bytes = items.reduce((s, i) => s + i.bytes, 0)
  if (options.dryRun) return { liveRuns: [], items, bytes, dryRun: true }
  const stillFree = db.transaction(() => {
    const nowLive = liveRuns(db)
    if (nowLive.length > 0) return nowLive
    const fps = JSON.stringify(fingerprints)
    db.prepare(`DELETE FROM cache WHERE fingerprint IN (SELECT value FROM json_each(?))`).run(fps)
    for (const a of artifacts) {
      db.prepare(`UPDATE executions SET artifact_digest = NULL WHERE artifact_digest = ?`).run(a.digest)
      db.prepare(`DELETE FROM artifacts WHERE digest = ?`).run(a.digest)
    }
    return []
  }).immediate()
  if (stillFree.length > 0) return { liveRuns: stillFree, items: [], bytes: 0, dryRun: false }
  recoverStale(db, runsDir) // dead runs → interrupted, their locks released
  for (const item of items) rmSync(path.join(runsDir, item.path), { recursive: true, force: true })
  return { liveRuns: [], items, bytes, dryRun: false }
}
