/**
 * Opening the runs database: WAL, busy_timeout, foreign keys, migrations applied under an
 * IMMEDIATE transaction (two processes starting at once migrate once).
 *
 * The database is never a trap: before anything is written, the file is checked (SQLite's
 * header, its length against the page count the header states, peftlab's own tables, a schema
 * no newer than this code, and `quick_check` where the caller asks for it). A file that fails
 * is left untouched and reported as `StoreUnusable` (exit 2) with what to do.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, statSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import type { Database as Db } from "better-sqlite3"
import { asResourceFault, StoreUnusable } from "./faults.ts"
import { migrations } from "./migrations.ts"

export const DB_FILE = "peftlab.db"

/** Long enough to ride out another run's commit; every write transaction is short. */
const BUSY_TIMEOUT_MS = 30_000

/** Tables every peftlab database has from migration 1 on. */
const OUR_TABLES = ["runs", "artifacts", "executions", "cache", "metrics", "factors", "events", "locks"]

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

const unusable = (file: string, problem: string): StoreUnusable =>
  new StoreUnusable({
    file,
    message: `${file}: ${problem}.\npeftlab left it untouched. Move it aside (mv ${file} ${file}.broken) to start a new store there, or pass --runs-dir DIR (or PEFTLAB_RUNS_DIR) to use another runs directory.`,
  })

/** Problems visible in the file's first 100 bytes (SQLite's header), before SQLite opens it. */
const headerProblem = (file: string): string | undefined => {
  const size = statSync(file).size
  if (size === 0) return undefined // an empty file is an empty database
  const header = Buffer.alloc(100)
  const fd = openSync(file, "r")
  try {
    readSync(fd, header, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (size < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\0") return "is not an SQLite database (its first bytes are not SQLite's header)"
  const rawPageSize = header.readUInt16BE(16)
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize
  const pages = header.readUInt32BE(28)
  // The page count is valid only when the "version-valid-for" number equals the change counter,
  // and only when no WAL holds newer pages (a checkpoint cut short by a full disk may have written
  // page 1 without the rest: the WAL is still authoritative then, and quick_check judges).
  const wal = `${file}-wal`
  const countValid = header.readUInt32BE(92) === header.readUInt32BE(24) && !(existsSync(wal) && statSync(wal).size > 0)
  if (countValid && pages > 0 && size < pageSize * pages) return `is truncated: ${size} bytes, where its header says ${pages} pages of ${pageSize} bytes (${pages * pageSize} bytes)`
  return undefined
}

/** Checks an open connection before anything is written to it. */
const schemaProblem = (db: Db, check: boolean): string | undefined => {
  const version = db.pragma("user_version", { simple: true }) as number
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((r) => r.name)
  if (version > migrations.length) return `was written by a newer peftlab (schema version ${version}; this peftlab knows versions up to ${migrations.length})`
  if (version === 0 && tables.length > 0) return `is an SQLite database of another program (tables: ${tables.slice(0, 5).join(", ")}), not a peftlab store`
  const missing = version > 0 ? OUR_TABLES.filter((t) => !tables.includes(t)) : []
  if (missing.length > 0) return `is not a peftlab store (schema version ${version} but no ${missing.join(", ")} table)`
  if (check) {
    const result = db.pragma("quick_check", { simple: true }) as string
    if (result !== "ok") return `is damaged (SQLite's quick_check: ${result})`
  }
  return undefined
}

const SQLITE_DAMAGE = ["SQLITE_NOTADB", "SQLITE_CORRUPT"]

/** True for SQLite's "not a database" / "malformed" errors (any extended code of them). */
export const isDamage = (e: unknown): boolean => {
  const code = typeof e === "object" && e !== null && "code" in e ? (e as { code: unknown }).code : undefined
  return typeof code === "string" && SQLITE_DAMAGE.some((c) => code === c || code.startsWith(`${c}_`))
}

const ensureRunsDir = (runsDir: string): void => {
  try {
    mkdirSync(runsDir, { recursive: true })
    if (!statSync(runsDir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" })
    accessSync(runsDir, constants.W_OK)
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "error"
    if (code === "ENOSPC" || code === "EDQUOT") throw asResourceFault(e, "creating the runs directory", runsDir)!
    throw new StoreUnusable({
      file: runsDir,
      message: `${runsDir}: the runs directory cannot be created or written (${code}: ${e instanceof Error ? e.message : String(e)}).\nPass --runs-dir DIR (or set PEFTLAB_RUNS_DIR) to a writable folder.`,
    })
  }
}

export interface OpenOptions {
  /** Create the runs directory and database when absent (run, gc); otherwise return undefined. */
  readonly create: boolean
  /** Also run SQLite's quick_check (reads the whole file: for `run` and `gc`, not `status`). */
  readonly check?: boolean
}

/** Opens (creating the runs directory and database when `create`) or returns undefined if absent. */
export const openDb = (runsDir: string, options: OpenOptions): Db | undefined => {
  // PEFTLAB_DB (or `run --db`) puts the database elsewhere than the runs directory: on a
  // cluster, a local disk of the coordinator's machine, as SQLite's locking is unsafe on NFS.
  const file = process.env["PEFTLAB_DB"] ?? path.join(runsDir, DB_FILE)
  if (!options.create && !existsSync(file)) return undefined
  if (options.create) ensureRunsDir(runsDir)
  if (options.create) ensureRunsDir(path.dirname(file))
  if (existsSync(file)) {
    const problem = headerProblem(file)
    if (problem !== undefined) throw unusable(file, problem)
  }
  const db = new Database(file)
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    const problem = schemaProblem(db, options.check === true)
    if (problem !== undefined) throw unusable(file, problem)
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma("foreign_keys = ON")
    migrate(db)
    return db
  } catch (e) {
    db.close()
    if (isDamage(e)) throw unusable(file, `is damaged (${e instanceof Error ? e.message : String(e)})`)
    throw asResourceFault(e, "opening the runs database", file) ?? e
  }
}
