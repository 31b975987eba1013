/**
 * Start-up recovery after a crash (kill -9, power loss of the process): runs whose process is
 * gone (or whose pid now belongs to another process) become `interrupted`, their locks are
 * released, temporary folders of dead processes are removed, and — when no other run is live —
 * store folders that no artifact row names (a crash between rename and commit) are deleted.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs"
import * as path from "node:path"
import type { Database as Db } from "better-sqlite3"
import { isAlive } from "./liveness.ts"

/** tmp folders are named `<pid>-<start>-<random>` (older ones `<pid>-<random>`). */
export const tmpOwnerAlive = (name: string): boolean => {
  const parts = name.split("-")
  const pid = Number.parseInt(parts[0] ?? "", 10)
  const start = parts.length >= 3 ? parts[1]! : null
  // Our own pid: recovery runs before this process makes any tmp folder, so these are a dead
  // predecessor's that had the same pid.
  return pid !== process.pid && isAlive(pid, start)
}

export interface LiveRun {
  readonly id: number
  readonly pid: number
}

/** Runs marked running whose process is still the one that started them (ours excluded). */
export const liveRuns = (db: Db): ReadonlyArray<LiveRun> => {
  const running = db.prepare(`SELECT id, pid, pid_start AS pidStart FROM runs WHERE status = 'running'`).all() as Array<{ id: number; pid: number; pidStart: string | null }>
  return running.filter((r) => r.pid !== process.pid && isAlive(r.pid, r.pidStart)).map(({ id, pid }) => ({ id, pid }))
}

export const recoverStale = (db: Db, runsDir: string, options: { readonly keepRun?: number } = {}): { readonly otherLiveRuns: number } => {
  const running = db.prepare(`SELECT id, pid, pid_start AS pidStart FROM runs WHERE status = 'running'`).all() as Array<{ id: number; pid: number; pidStart: string | null }>
  const dead = running.filter((r) => r.id !== options.keepRun && (r.pid === process.pid || !isAlive(r.pid, r.pidStart)))
  db.transaction(() => {
    for (const r of dead) {
      db.prepare(`UPDATE executions SET status = 'interrupted' WHERE run_id = ? AND status = 'running'`).run(r.id)
      db.prepare(`UPDATE runs SET status = 'interrupted', finished_at = COALESCE(finished_at, ?) WHERE id = ?`).run(new Date().toISOString(), r.id)
    }
    const locks = db.prepare(`SELECT fingerprint, pid, pid_start AS pidStart FROM locks`).all() as Array<{ fingerprint: string; pid: number; pidStart: string | null }>
    for (const l of locks) if (l.pid !== process.pid && !isAlive(l.pid, l.pidStart)) db.prepare(`DELETE FROM locks WHERE fingerprint = ?`).run(l.fingerprint)
  }).immediate()
  const tmp = path.join(runsDir, "tmp")
  if (existsSync(tmp)) for (const name of readdirSync(tmp)) if (!tmpOwnerAlive(name)) rmSync(path.join(tmp, name), { recursive: true, force: true })
  const otherLiveRuns = running.length - dead.length - (running.some((r) => r.id === options.keepRun) ? 1 : 0)
  if (otherLiveRuns === 0) removeOrphans(db, runsDir)
  return { otherLiveRuns }
}

/**
 * Store folders with no artifacts row (or whose row is in `alsoDropping`). Only safe while no
 * other run may be between rename and commit. `dryRun` lists them without removing.
 */
export const removeOrphans = (db: Db, runsDir: string, dryRun = false, alsoDropping: ReadonlySet<string> = new Set()): { readonly folders: number; readonly bytes: number; readonly items: ReadonlyArray<{ readonly what: "orphan"; readonly path: string; readonly bytes: number }> } => {
  const store = path.join(runsDir, "store")
  if (!existsSync(store)) return { folders: 0, bytes: 0, items: [] }
  const known = new Set((db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest))
  const items: Array<{ readonly what: "orphan"; readonly path: string; readonly bytes: number }> = []
  for (const prefix of readdirSync(store)) {
    for (const digest of readdirSync(path.join(store, prefix))) {
      if (known.has(digest) || alsoDropping.has(digest)) continue
      const dir = path.join(store, prefix, digest)
      items.push({ what: "orphan", path: `store/${prefix}/${digest}`, bytes: folderBytes(dir) })
      if (!dryRun) rmSync(dir, { recursive: true, force: true })
    }
  }
  return { folders: items.length, bytes: items.reduce((s, i) => s + i.bytes, 0), items }
}

/** Bytes of the files under `dir` (0 when it is gone). */
export const folderBytes = (dir: string): number => {
  if (!existsSync(dir)) return 0
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSizeOf(path.join(entry.parentPath, entry.name))
  }
  return total
}

const statSizeOf = (file: string): number => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
