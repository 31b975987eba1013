/**
 * Start-up recovery after a crash (kill -9, power loss of the process): runs whose process is
 * gone become `interrupted`, their locks are released, temporary folders of dead processes are
 * removed, and — when no other run is live — store folders that no artifact row names (a crash
 * between rename and commit) are deleted.
 */
import { existsSync, readdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import type { Database as Db } from "better-sqlite3"
import { isAlive } from "./db.ts"

const pidOfTmp = (name: string): number => Number.parseInt(name.split("-")[0] ?? "", 10)

export const recoverStale = (db: Db, runsDir: string): { readonly otherLiveRuns: number } => {
  const running = db.prepare(`SELECT id, pid FROM runs WHERE status = 'running'`).all() as Array<{ id: number; pid: number }>
  const dead = running.filter((r) => r.pid === process.pid || !isAlive(r.pid))
  db.transaction(() => {
    for (const r of dead) {
      db.prepare(`UPDATE executions SET status = 'interrupted' WHERE run_id = ? AND status = 'running'`).run(r.id)
      db.prepare(`UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, ?) WHERE id = ?`).run(new Date().toISOString(), r.id)
    }
    const locks = db.prepare(`SELECT fingerprint, pid FROM locks`).all() as Array<{ fingerprint: string; pid: number }>
    for (const l of locks) if (!isAlive(l.pid)) db.prepare(`DELETE FROM locks WHERE fingerprint = ?`).run(l.fingerprint)
  }).immediate()
  const tmp = path.join(runsDir, "tmp")
  if (existsSync(tmp)) for (const name of readdirSync(tmp)) if (pidOfTmp(name) === process.pid || !isAlive(pidOfTmp(name))) rmSync(path.join(tmp, name), { recursive: true, force: true })
  const otherLiveRuns = running.length - dead.length
  if (otherLiveRuns === 0) removeOrphans(db, runsDir)
  return { otherLiveRuns }
}

/** Store folders with no artifacts row. Only safe while no other run may be between rename and commit. */
export const removeOrphans = (db: Db, runsDir: string): number => {
  const store = path.join(runsDir, "store")
  if (!existsSync(store)) return 0
  const known = new Set((db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest))
  let removed = 0
  for (const prefix of readdirSync(store)) {
    for (const digest of readdirSync(path.join(store, prefix))) {
      if (known.has(digest)) continue
      rmSync(path.join(store, prefix, digest), { recursive: true, force: true })
      removed++
    }
  }
  return removed
}
