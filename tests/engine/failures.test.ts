/**
 * Failure modes through the CLI: fail-fast (the rest is skipped), --keep-going (only dependents
 * are skipped), a worker that dies mid-stage (recorded failed, the pool goes on), and a fixed
 * failure resuming with the finished stages as hits.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

/*
 *   ok ──▶ after-ok
 *   bad ──▶ after-bad ──▶ last
 *   crash
 */
const pipeline = (flag: string) => `name: failures
stages:
  ok: { kind: fake-source, params: { value: 1 } }
  after-ok: { kind: fake-step, needs: { source: ok } }
  bad: { kind: fake-source, params: { failIfExists: "${flag}" } }
  after-bad: { kind: fake-step, needs: { source: bad } }
  last: { kind: fake-step, needs: { source: after-bad } }
`

const grab = (out: string, word: string) => out.split("\n").filter((l) => l.startsWith(word)).map((l) => l.split(/\s+/)[1]).sort()

describe("failures", () => {
  it("keep-going skips only the dependents of the failure; fixing it resumes with hits", async () => {
    const dir = tempDir()
    const flag = path.join(dir, "broken")
    writeFileSync(flag, "")
    const file = writePipeline(dir, "f.yaml", pipeline(flag))
    const runs = path.join(dir, "runs")
    const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])
    expect(r.code).toBe(1)
    expect(grab(r.stdout, "FAILED")).toEqual(["bad:"])
    expect(grab(r.stdout, "skipped")).toEqual(["after-bad", "last"])
    expect(grab(r.stdout, "finished")).toEqual(["after-ok", "ok"])
    expect(readdirSync(path.join(runs, "tmp"))).toEqual([])
    rmSync(flag)
    const again = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])
    expect(again.code).toBe(0)
    expect(grab(again.stdout, "cached")).toEqual(["after-ok", "ok"])
    expect(grab(again.stdout, "finished")).toEqual(["after-bad", "bad", "last"])
  })

  it("fail-fast stops scheduling and records everything that did not run as skipped", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "f.yaml", `name: ff\nstages:\n  bad: { kind: fake-source, params: { fail: true } }\n  a: { kind: fake-source }\n  b: { kind: fake-step, needs: { source: a } }\n`)
    const runs = path.join(dir, "runs")
    const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])
    expect(r.code).toBe(1)
    expect(grab(r.stdout, "skipped")).toEqual(["a", "b"])
    const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
    expect(db.prepare(`SELECT instance_id, status FROM executions ORDER BY instance_id`).all()).toEqual([
      { instance_id: "a", status: "skipped" }, { instance_id: "b", status: "skipped" }, { instance_id: "bad", status: "failed" },
    ])
    expect(db.prepare(`SELECT status FROM runs`).all()).toEqual([{ status: "failed" }])
    db.close()
  })

  it("a worker that dies is replaced; its stage is recorded failed", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "f.yaml", `name: crash\nstages:\n  boom: { kind: fake-source, params: { crash: true, steps: 2 } }\n  fine: { kind: fake-source, params: { value: 3 } }\n`)
    const runs = path.join(dir, "runs")
    const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/FAILED\s+boom: WorkerDied: worker died \(exit code 3\) during the stage/)
    expect(grab(r.stdout, "finished")).toEqual(["fine"])
    expect(existsSync(path.join(runs, "peftlab.db"))).toBe(true)
  })
})
