/**
 * Per-fingerprint coordination between concurrent runs on one runs directory. A run that wants
 * to execute an instance takes the lock row for its fingerprint; a lock whose holder process is
 * dead is taken over. A run that finds a live holder waits for the row to go and then looks in
 * the cache again (the holder's commit deletes the lock in the same transaction).
 */
import type { Database as Db } from "better-sqlite3"
import { isAlive } from "./db.ts"

export type LockResult = { readonly acquired: true } | { readonly acquired: false; readonly holderPid: number }

export const tryLock = (db: Db, fingerprint: string, runId: number): LockResult =>
  db.transaction((): LockResult => {
    const row = db.prepare(`SELECT pid, run_id AS runId FROM locks WHERE fingerprint = ?`).get(fingerprint) as { pid: number; runId: number } | undefined
    if (row !== undefined && row.pid !== process.pid && isAlive(row.pid)) return { acquired: false, holderPid: row.pid }
    db.prepare(`INSERT OR REPLACE INTO locks (fingerprint, run_id, pid, acquired_at) VALUES (?, ?, ?, ?)`).run(fingerprint, runId, process.pid, new Date().toISOString())
    return { acquired: true }
  }).immediate()

export const unlock = (db: Db, fingerprint: string): void => {
  db.prepare(`DELETE FROM locks WHERE fingerprint = ? AND pid = ?`).run(fingerprint, process.pid)
}
