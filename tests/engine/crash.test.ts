/**
 * Crash safety with the real CLI process: SIGKILL mid-stage leaves only complete entries (the
 * rerun hits what finished and reruns the killed stage; no orphans; integrity_check ok), and
 * SIGINT exits 130 with the stage recorded interrupted, then resumes.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { spawnCli, tempDir, waitForOutput, writePipeline } from "../cli/helpers.ts"

/*
 *   a ──▶ b          slow (runs until the test removes its hold file)
 */
const setup = () => {
  const dir = tempDir()
  const hold = path.join(dir, "hold")
  writeFileSync(hold, "")
  const file = writePipeline(dir, "crash.yaml", `name: crash
stages:
  a: { kind: fake-source, params: { value: 1 } }
  b: { kind: fake-step, needs: { source: a } }
  slow: { kind: fake-source, params: { holdWhileExists: "${hold}" } }
`)
  return { dir, hold, file, runs: path.join(dir, "runs") }
}

const storeIsClean = (runs: string) => {
  const db = new Database(path.join(runs, "peftlab.db"))
  expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
  const digests = new Set((db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest))
  const folders = readdirSync(path.join(runs, "store")).flatMap((p) => readdirSync(path.join(runs, "store", p)))
  expect(new Set(folders)).toEqual(digests)
  expect(db.prepare(`SELECT count(*) AS n FROM cache WHERE artifact_digest NOT IN (SELECT digest FROM artifacts)`).get()).toEqual({ n: 0 })
  expect(db.prepare(`SELECT count(*) AS n FROM locks`).get()).toEqual({ n: 0 })
  expect(existsSync(path.join(runs, "tmp")) ? readdirSync(path.join(runs, "tmp")) : []).toEqual([])
  const statuses = db.prepare(`SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status`).all()
  db.close()
  return statuses
}

const finish = async (s: ReturnType<typeof setup>) => {
  rmSync(s.hold)
  const rerun = spawnCli(["run", s.file, "--runs-dir", s.runs, "--plain", "--jobs", "2"])
  expect(await rerun.exited).toBe(0)
  return rerun.output()
}

describe("crash safety", () => {
  it("SIGKILL mid-stage: finished stages are hits, the killed one reruns, nothing partial remains", async () => {
    const s = setup()
    const run = spawnCli(["run", s.file, "--runs-dir", s.runs, "--plain", "--jobs", "2"])
    await waitForOutput(run, "finished  b")
    await waitForOutput(run, "started   slow")
    run.kill("SIGKILL")
    await run.exited
    const out = await finish(s)
    expect(out).toMatch(/cached\s+a\n/)
    expect(out).toMatch(/cached\s+b\n/)
    expect(out).toMatch(/finished\s+slow/)
    expect(storeIsClean(s.runs)).toEqual([{ status: "interrupted", n: 1 }, { status: "succeeded", n: 1 }])
    const db = new Database(path.join(s.runs, "peftlab.db"), { readonly: true })
    expect(db.prepare(`SELECT instance_id, status FROM executions WHERE run_id = 1 ORDER BY instance_id`).all()).toEqual([
      { instance_id: "a", status: "succeeded" },
      { instance_id: "b", status: "succeeded" },
      { instance_id: "slow", status: "interrupted" },
    ])
    db.close()
  })

  it("SIGINT: exit 130, the running stage recorded interrupted without output, then resume", async () => {
    const s = setup()
    const run = spawnCli(["run", s.file, "--runs-dir", s.runs, "--plain", "--jobs", "2"])
    await waitForOutput(run, "finished  b")
    await waitForOutput(run, "started   slow")
    run.kill("SIGINT")
    expect(await run.exited).toBe(130)
    expect(run.output()).toMatch(/interrupted slow/)
    expect(run.output()).toMatch(/run 1 interrupted/)
    expect(storeIsClean(s.runs)).toEqual([{ status: "interrupted", n: 1 }])
    const out = await finish(s)
    expect(out).toMatch(/cached\s+a\n/)
    expect(out).toMatch(/finished\s+slow/)
  })
})
