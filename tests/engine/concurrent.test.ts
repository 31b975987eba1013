/**
 * Two `peftlab run` processes on one runs directory at once: both succeed, each instance is
 * computed exactly once (the other run waits on its fingerprint lock and takes the hit), and
 * nothing is lost or locked.
 */
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { spawnCli, tempDir, waitForOutput, writePipeline } from "../cli/helpers.ts"

/*
 *   src ──▶ cell[s=1..6]      (src 1.5 s, each cell ~450 ms; the second run starts while src runs)
 */
describe("concurrent runs", () => {
  it("share one store without loss, duplication or lock errors", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "c.yaml", `name: concurrent
matrix: { s: [1, 2, 3, 4, 5, 6] }
stages:
  src: { kind: fake-source, params: { value: 1, durationMs: 1500 } }
  cell: { kind: fake-step, foreach: [s], needs: { source: src }, params: { value: "\${s}", durationMs: 150, steps: 3 } }
`)
    const runs = path.join(dir, "runs")
    const one = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
    await waitForOutput(one, "started   src") // the first run holds src's lock while the second starts
    const two = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
    expect([await one.exited, await two.exited]).toEqual([0, 0])
    expect(one.output() + two.output()).not.toMatch(/locked|SQLITE_BUSY/i)
    const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    const rows = db.prepare(`SELECT instance_id AS id, group_concat(status) AS s FROM (SELECT instance_id, status FROM executions ORDER BY status) GROUP BY instance_id ORDER BY instance_id`).all() as Array<{ id: string; s: string }>
    expect(rows.map((r) => r.id)).toEqual(["cell[s=1]", "cell[s=2]", "cell[s=3]", "cell[s=4]", "cell[s=5]", "cell[s=6]", "src"])
    for (const r of rows) expect(r.s).toBe("cached,succeeded")
    expect(db.prepare(`SELECT count(*) AS n FROM cache`).get()).toEqual({ n: 7 })
    expect(db.prepare(`SELECT status FROM runs ORDER BY id`).all()).toEqual([{ status: "succeeded" }, { status: "succeeded" }])
    // They overlapped: each started before the other finished, and the second took src as a hit
    // of the first's execution (it waited on src's lock rather than running it again).
    const [a, b] = db.prepare(`SELECT id, started_at AS s, finished_at AS f FROM runs ORDER BY id`).all() as Array<{ id: number; s: string; f: string }>
    expect(b!.s < a!.f && a!.s < b!.f).toBe(true)
    expect(db.prepare(`SELECT run_id AS run, status FROM executions WHERE instance_id = 'src' ORDER BY run_id`).all()).toEqual([
      { run: a!.id, status: "succeeded" },
      { run: b!.id, status: "cached" },
    ])
    expect(db.prepare(`SELECT count(*) AS n FROM locks`).get()).toEqual({ n: 0 })
    db.close()
  })
})
