/**
 * Resource faults and unusable stores, told apart from bugs.
 *
 * - `ResourceFault`: the machine ran out of something or refused a write while a run was going
 *   (disk full, quota, read-only file system, I/O error — from Node's fs or from SQLite). The
 *   stage that met it fails with a message that says what filled up and where; the run ends
 *   with exit 1 and nothing partial is committed.
 * - `StoreUnusable`: the runs directory or its database cannot be used at all (damaged, foreign,
 *   newer schema, not writable). Nothing is touched; exit 2 with what to do.
 *
 * Both are thrown as plain errors from the synchronous store code and recognised at the edges
 * (execute.ts, run-pipeline.ts, the CLI) by `asResourceFault` / `instanceof StoreUnusable`.
 */
import { Data } from "effect"

/** errno codes that mean "the machine refused", not "peftlab is wrong". */
const FS_CODES: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EIO: "input/output error",
  EFBIG: "file too large for the file system",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
}

/** SQLite result codes (better-sqlite3's `code`) of the same kind. */
const SQLITE_CODES: Readonly<Record<string, string>> = {
  SQLITE_FULL: "the database's disk is full",
  SQLITE_IOERR: "I/O error in the database",
  SQLITE_READONLY: "the database is read-only",
  SQLITE_CANTOPEN: "the database file cannot be opened",
}

export class ResourceFault extends Data.TaggedError("ResourceFault")<{
  /** ENOSPC, EDQUOT, SQLITE_FULL … */
  readonly code: string
  /** What peftlab was doing: "writing the artifact of train[…]", "recording events". */
  readonly during: string
  /** The file or folder it was writing, when known. */
  readonly where: string
  readonly message: string
}> {}

export class StoreUnusable extends Data.TaggedError("StoreUnusable")<{ readonly file: string; readonly message: string }> {}

const codeOf = (e: unknown): string | undefined => {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined
  const code = (e as { code: unknown }).code
  return typeof code === "string" ? code : undefined
}

const knownCode = (code: string): string | undefined => {
  if (FS_CODES[code] !== undefined) return FS_CODES[code]
  // SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC … are extended codes of SQLITE_IOERR.
  const base = Object.keys(SQLITE_CODES).find((c) => code === c || code.startsWith(`${c}_`))
  return base === undefined ? undefined : SQLITE_CODES[base]
}

/** The fault in `e` (or its `cause` chain), or undefined when `e` is something else. */
export const asResourceFault = (e: unknown, during: string, where: string): ResourceFault | undefined => {
  if (e instanceof ResourceFault) return e
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const code = codeOf(cur)
    const what = code === undefined ? undefined : knownCode(code)
    if (code !== undefined && what !== undefined) {
      const path = typeof (cur as { path?: unknown }).path === "string" ? (cur as { path: string }).path : where
      return new ResourceFault({ code, during, where: path, message: `${what} (${code}) while ${during}, at ${path}` })
    }
    cur = typeof cur === "object" && "cause" in cur ? (cur as { cause: unknown }).cause : undefined
  }
  return undefined
}

/** Runs `f`; a resource fault becomes a `ResourceFault` naming what and where, anything else is rethrown. */
export const guard = <A>(during: string, where: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw asResourceFault(e, during, where) ?? e
  }
}

/** A fault's message, for events and the terminal: "no space left on the device (ENOSPC) while …". */
export const faultText = (e: unknown): string | undefined => (e instanceof ResourceFault ? e.message : undefined)
