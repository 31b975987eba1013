/**
 * A cache hit checks the stored artifact against its manifest (file sizes): a truncated or
 * missing stored file makes the hit a miss that says so (status and the run's plan), the stage
 * reruns, and the store folder is replaced with a whole one — never a wrong hit.
 */
import { readFileSync, rmSync, statSync, truncateSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

const storedFile = (runs: string, id: string, name: string): { file: string; dir: string } => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  const row = db.prepare(`SELECT a.path AS p FROM executions e JOIN artifacts a ON a.digest = e.artifact_digest WHERE e.instance_id = ? AND e.status = 'succeeded'`).get(id) as { p: string }
  db.close()
  return { file: path.join(runs, row.p, name), dir: row.p }
}

describe("durability: damaged artifacts are misses", () => {
  it("a truncated stored file: status says it is damaged, the run recomputes it and restores the store", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "d.yaml", `name: durable\nstages:\n  a: { kind: fake-source, params: { value: 1, writeBytes: 5000 } }\n  b: { kind: fake-step, needs: { source: a } }\n`)
    const runs = path.join(dir, "runs")
    expect((await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])).code).toBe(0)
    const blob = storedFile(runs, "a", "blob.bin")
    const whole = readFileSync(blob.file)
    truncateSync(blob.file, 1000)

    const status = await runCli(["status", file, "--json", "--runs-dir", runs])
    const plan = status.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; plan: string; reason?: string })
    expect(plan.find((p) => p.id === "a")).toMatchObject({ plan: "pending", reason: `stored artifact ${blob.dir} is damaged (blob.bin is 1000 bytes, its manifest says 5000): a miss` })

    const again = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/finished\s+a /)
    expect(statSync(blob.file).size).toBe(5000)
    expect(readFileSync(blob.file).equals(whole)).toBe(true)
    const after = await runCli(["status", file, "--json", "--runs-dir", runs])
    expect(after.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { plan: string }).plan)).toEqual(["cached", "cached"])
  }, 60_000)

  it("a missing stored file is a miss too", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "d.yaml", `name: durable2\nstages:\n  a: { kind: fake-source, params: { value: 1 } }\n`)
    const runs = path.join(dir, "runs")
    expect((await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])).code).toBe(0)
    const out = storedFile(runs, "a", "out.txt")
    rmSync(out.file)
    const status = await runCli(["status", file, "--json", "--runs-dir", runs])
    expect(JSON.parse(status.stdout.trim())).toMatchObject({ id: "a", plan: "pending", reason: `stored artifact ${out.dir} is damaged (out.txt is missing): a miss` })
  }, 60_000)
})
