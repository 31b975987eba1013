/**
 * The database is never a trap: a damaged, truncated, foreign or future-schema peftlab.db, and a
 * runs directory that cannot be written, are exit 2 with the file named and what to do, and the
 * file is left byte for byte as it was. Exit 70 is only for bugs, with one line and no stack.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { Cause } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { bugReport } from "../../src/cli/run-main.ts"
import { migrations } from "../../src/store/migrations.ts"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"
import { needsHere } from "../setup/facilities.ts"
import { mountTmpfs, unmountAll } from "./helpers.ts"

afterAll(unmountAll)

const PIPELINE = `name: db\nstages:\n  a: { kind: fake-source, params: { value: 1 } }\n`

/** A real store with one finished run (a few pages long, in rollback mode so the file is whole). */
const realStore = async (): Promise<string> => {
  const dir = tempDir()
  const file = writePipeline(dir, "p.yaml", PIPELINE)
  const runs = path.join(dir, "runs")
  expect((await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])).code).toBe(0)
  const db = new Database(path.join(runs, "peftlab.db"))
  db.pragma("journal_mode = DELETE")
  db.close()
  return path.join(runs, "peftlab.db")
}

const DAMAGE: Record<string, (db: string) => void | Promise<void>> = {
  "random bytes": (db) => writeFileSync(db, Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) & 0xff))),
  "truncated": (db) => truncateSync(db, 4096),
  "a foreign SQLite file": (db) => {
    const other = new Database(db + ".other")
    other.exec(`CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);`)
    other.close()
    copyFileSync(db + ".other", db)
  },
  "a newer schema": (db) => {
    const d = new Database(db)
    d.pragma(`user_version = ${migrations.length + 5}`)
    d.close()
  },
}

const EXPECTED: Record<string, RegExp> = {
  "random bytes": /is not an SQLite database/,
  "truncated": /is truncated: 4096 bytes, where its header says \d+ pages/,
  "a foreign SQLite file": /is an SQLite database of another program \(tables: invoices\)/,
  "a newer schema": new RegExp(`was written by a newer peftlab \\(schema version ${migrations.length + 5}; this peftlab knows versions up to ${migrations.length}\\)`),
}

describe("a damaged, foreign or future database", () => {
  for (const [name, damage] of Object.entries(DAMAGE)) {
    it(`${name}: exit 2 naming the file and what to do, for status, run, runs and gc; the file untouched`, async () => {
      const db = await realStore()
      await damage(db)
      const before = readFileSync(db)
      const runs = path.dirname(db)
      const file = writePipeline(path.dirname(runs), "p.yaml", PIPELINE)
      for (const argv of [["status", file], ["run", file, "--plain"], ["runs"], ["gc"], ["compare"]]) {
        const r = await runCli([...argv, "--runs-dir", runs])
        expect(r.code, `${argv[0]}: ${r.stderr}${r.stdout}`).toBe(2)
        expect(r.stderr).toContain(`${db}: `)
        expect(r.stderr).toMatch(EXPECTED[name]!)
        expect(r.stderr).toMatch(/peftlab left it untouched\. Move it aside \(mv .*peftlab\.db .*peftlab\.db\.broken\).*or pass --runs-dir DIR/)
        expect(r.stderr).not.toMatch(/internal error|    at /)
      }
      expect(readFileSync(db).equals(before)).toBe(true)
    }, 60_000)
  }

  it("a runs directory that cannot be created: exit 2 naming it", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "p.yaml", PIPELINE)
    writeFileSync(path.join(dir, "a-file"), "")
    const r = await runCli(["run", file, "--runs-dir", path.join(dir, "a-file", "runs"), "--plain"])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/a-file\/runs: the runs directory cannot be created or written \(ENOTDIR.*\)\.\nPass --runs-dir DIR/)
  })

  it("a runs directory that cannot be written (a read-only mount): exit 2 naming it", async (ctx) => {
    needsHere(ctx, "tmpfs")
    const file = writePipeline(tempDir(), "p.yaml", PIPELINE)
    // Read-only (as root, permissions do not stop us: a read-only mount does).
    const mnt = mountTmpfs(1)
    mkdirSync(path.join(mnt, "runs"))
    execFileSync("mount", ["-o", "remount,ro", mnt])
    const ro = await runCli(["run", file, "--runs-dir", path.join(mnt, "runs"), "--plain"])
    expect(ro.code).toBe(2)
    expect(ro.stderr).toMatch(/runs: the runs directory cannot be created or written \(EROFS/)
  })

  it("exit 70 is a bug: one line of apology and the path of the details, no stack unless PEFTLAB_DEBUG=1", () => {
    const cause = Cause.die(new Error("boom in the scheduler"))
    const quiet = bugReport(cause, ["run", "x.yaml"], {})
    expect(quiet).toMatch(/^peftlab: internal error — this is a bug in peftlab, sorry; please report it\. Details: \S+peftlab-bug-\S+\.log \(PEFTLAB_DEBUG=1 prints them here\)\n$/)
    const file = /Details: (\S+)/.exec(quiet)![1]!
    expect(readFileSync(file, "utf8")).toContain("boom in the scheduler")
    expect(bugReport(cause, ["run"], { PEFTLAB_DEBUG: "1" })).toContain("boom in the scheduler")
  })
})
