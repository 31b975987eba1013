/**
 * Opening the runs database: WAL, busy_timeout, foreign keys, migrations applied under an
 * IMMEDIATE transaction (two processes starting at once migrate once).
 */
import { existsSync, mkdirSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import type { Database as Db } from "better-sqlite3"
import { migrations } from "./migrations.ts"

export const DB_FILE = "peftlab.db"

/** Long enough to ride out another run's commit; every write transaction is short. */
const BUSY_TIMEOUT_MS = 30_000

const migrate = (db: Db): void => {
  const current = () => db.pragma("user_version", { simple: true }) as number
  if (current() >= migrations.length) return
  db.transaction(() => {
    for (let i = current(); i < migrations.length; i++) {
      db.exec(migrations[i]!)
      db.pragma(`user_version = ${i + 1}`)
    }
  }).immediate()
}

/**
 * Opens (creating the runs directory and database when `create`) or returns undefined if absent.
 * `PEFTLAB_DB` (or `run --db`) puts the database elsewhere than the runs directory: on a
 * cluster, a local disk of the coordinator's machine, as SQLite's locking is unsafe on NFS.
 */
export const openDb = (runsDir: string, options: { readonly create: boolean }): Db | undefined => {
  const file = process.env["PEFTLAB_DB"] ?? path.join(runsDir, DB_FILE)
  if (!options.create && !existsSync(file)) return undefined
  if (options.create) mkdirSync(runsDir, { recursive: true })
  if (options.create) mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  migrate(db)
  return db
}

export const isAlive = (pid: number): boolean => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e instanceof Error && "code" in e && e.code === "EPERM"
  }
}
