/**
 * Per-fingerprint coordination between concurrent runs on one runs directory. A run that wants
 * to execute an instance takes the lock row for its fingerprint; a lock whose holder is dead
 * (pid gone, or the pid now belongs to another process: see liveness.ts) is taken over. A run
 * that finds a live holder waits for the row to go and then looks in the cache again (the
 * holder's commit deletes the lock in the same transaction).
 */
import type { Database as Db } from "better-sqlite3"
import { isAlive, ownStart } from "./liveness.ts"

export interface LockHolder {
  readonly runId: number
  readonly pid: number
  /** ISO time the holder took the lock. */
  readonly since: string
}

export type LockResult =
  | { readonly acquired: true; readonly tookOverFrom?: LockHolder }
  | { readonly acquired: false; readonly holder: LockHolder }

const isOurs = (row: { pid: number; pidStart: string | null }): boolean => row.pid === process.pid && (row.pidStart === null || row.pidStart === ownStart())

export const tryLock = (db: Db, fingerprint: string, runId: number): LockResult =>
  db.transaction((): LockResult => {
    const row = db.prepare(`SELECT pid, pid_start AS pidStart, run_id AS runId, acquired_at AS since FROM locks WHERE fingerprint = ?`).get(fingerprint) as
      | { pid: number; pidStart: string | null; runId: number; since: string }
      | undefined
    const holder = row === undefined ? undefined : { runId: row.runId, pid: row.pid, since: row.since }
    if (row !== undefined && !isOurs(row) && isAlive(row.pid, row.pidStart)) return { acquired: false, holder: holder! }
    db.prepare(`INSERT OR REPLACE INTO locks (fingerprint, run_id, pid, pid_start, acquired_at) VALUES (?, ?, ?, ?, ?)`).run(fingerprint, runId, process.pid, ownStart(), new Date().toISOString())
    return row === undefined || isOurs(row) ? { acquired: true } : { acquired: true, tookOverFrom: holder! }
  }).immediate()

export const unlock = (db: Db, fingerprint: string): void => {
  db.prepare(`DELETE FROM locks WHERE fingerprint = ? AND pid = ?`).run(fingerprint, process.pid)
}
