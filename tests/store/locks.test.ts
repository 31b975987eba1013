/**
 * Lock liveness is pid + process start time. A lock (or a run) whose pid is alive but belongs to
 * another process now (pid reuse) is taken over at once; a live holder makes the run wait and
 * say for whom and since when (plain and JSON; the dashboard shows the same stage-log line), and
 * when that holder dies the waiting run takes the lock over and finishes.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { afterEach, describe, expect, it } from "vitest"
import { openDb } from "../../src/store/db.ts"
import { isAlive, processStart } from "../../src/store/liveness.ts"
import { tryLock } from "../../src/store/locks.ts"
import { recoverStale } from "../../src/store/recover.ts"
import { runCli, spawnCli, tempDir, waitForOutput, writePipeline } from "../cli/helpers.ts"

const sleepers: Array<ChildProcess> = []
/** A live process that is not a peftlab run: its pid stands for a recycled one. */
const liveStranger = (): { pid: number; start: string } => {
  const child = spawn("sleep", ["120"], { stdio: "ignore" })
  sleepers.push(child)
  return { pid: child.pid!, start: processStart(child.pid!)! }
}
afterEach(() => sleepers.splice(0).forEach((c) => c.kill("SIGKILL")))

const insertLock = (db: Database.Database, fp: string, pid: number, start: string, since = "2026-12-01T00:00:00.000Z") =>
  db.prepare(`INSERT OR REPLACE INTO locks (fingerprint, run_id, pid, pid_start, acquired_at) VALUES (?, 99, ?, ?, ?)`).run(fp, pid, start, since)

describe("locks: pid + start time", () => {
  it("a live pid with another start time is a recycled pid: its lock is taken over, its run recovered", () => {
    const runs = tempDir()
    const db = openDb(runs, { create: true })!
    const s = liveStranger()
    expect(isAlive(s.pid, s.start)).toBe(true)
    expect(isAlive(s.pid, String(Number(s.start) - 1))).toBe(false)
    insertLock(db, "fp-recycled", s.pid, String(Number(s.start) - 1))
    expect(tryLock(db, "fp-recycled", 1)).toEqual({ acquired: true, tookOverFrom: { runId: 99, pid: s.pid, since: "2026-12-01T00:00:00.000Z" } })
    insertLock(db, "fp-live", s.pid, s.start)
    expect(tryLock(db, "fp-live", 1)).toEqual({ acquired: false, holder: { runId: 99, pid: s.pid, since: "2026-12-01T00:00:00.000Z" } })
    db.prepare(`INSERT INTO runs (pipeline, pipeline_path, started_at, status, backend, jobs, environment, pid, pid_start) VALUES ('p', 'p.yaml', 'now', 'running', 'wasm', 1, '{}', ?, ?)`).run(s.pid, String(Number(s.start) - 1))
    expect(recoverStale(db, runs)).toEqual({ otherLiveRuns: 0 })
    expect(db.prepare(`SELECT status FROM runs`).get()).toEqual({ status: "interrupted" })
    // The live stranger's lock stays; the recycled one is ours now.
    expect(db.prepare(`SELECT fingerprint, pid FROM locks ORDER BY fingerprint`).all()).toEqual([{ fingerprint: "fp-live", pid: s.pid }, { fingerprint: "fp-recycled", pid: process.pid }])
    db.close()
  })

  it("through the CLI: a recycled pid's lock is released at start-up; a live holder is waited for (who, since when) and taken over when it dies", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "l.yaml", `name: locks\nstages:\n  a: { kind: fake-source, params: { value: 1 } }\n  b: { kind: fake-source, params: { value: 2 } }\n`)
    const runs = path.join(dir, "runs")
    const status = await runCli(["status", file, "--json", "--runs-dir", runs])
    const fp = Object.fromEntries(status.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; fingerprint: string }).map((x) => [x.id, x.fingerprint]))
    openDb(runs, { create: true })!.close()
    const db = new Database(path.join(runs, "peftlab.db"))
    const recycled = liveStranger()
    const holder = liveStranger()
    insertLock(db, fp["a"]!, recycled.pid, String(Number(recycled.start) + 7))
    insertLock(db, fp["b"]!, holder.pid, holder.start, "2026-12-01T00:10:00.000Z")
    db.close()
    writeFileSync(path.join(dir, "x"), "")
    const run = spawnCli(["run", file, "--runs-dir", runs, "--json", "--jobs", "2"])
    await waitForOutput(run, `waiting for run 99 (pid ${holder.pid}), which has held it since 2026-12-01T00:10:00.000Z`)
    sleepers.find((c) => c.pid === holder.pid)!.kill("SIGKILL")
    expect(await run.exited).toBe(0)
    const events = run.output().trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { type: string; id?: string; message?: string; level?: string })
    const logs = events.filter((e) => e.type === "stage-log").map((e) => [e.id, e.level, e.message])
    // a's lock (a recycled pid) is released by start-up recovery before anything waits on it.
    expect(logs).toEqual([
      ["b", "warn", `waiting for run 99 (pid ${holder.pid}), which has held it since 2026-12-01T00:10:00.000Z`],
      ["b", "warn", `took over the lock of run 99 (pid ${holder.pid}), which has held it since 2026-12-01T00:10:00.000Z: that process is gone`],
    ])
    expect(events.filter((e) => e.type === "stage-finished").map((e) => e.id).sort()).toEqual(["a", "b"])
  }, 60_000)
})
