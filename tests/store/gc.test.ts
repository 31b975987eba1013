/**
 * gc removes superseded artifacts (results of fingerprints that are no longer the latest of
 * their stage instance), store folders without a row, orphaned scratch folders and dead runs'
 * tmp folders; `--dry-run` reports the same bytes and removes nothing; the scratch of the
 * latest (failed) attempt is kept for its resume; while a run is live, gc removes nothing.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { GcReport } from "../../src/store/gc.ts"
import { runCli, spawnCli, tempDir, waitForOutput, writePipeline } from "../cli/helpers.ts"

const storeFolders = (runs: string) => readdirSync(path.join(runs, "store")).flatMap((p) => readdirSync(path.join(runs, "store", p)).map((d) => `store/${p}/${d}`)).sort()

const pipeline = (value: number, flag: string) => `name: gc
stages:
  a: { kind: fake-source, params: { value: ${value}, writeBytes: 10000 } }
  b: { kind: fake-step, needs: { source: a } }
  resumable: { kind: fake-source, params: { steps: 2, checkpointBytes: 64, failIfExists: "${flag}" } }
`

const gc = async (runs: string, ...flags: Array<string>): Promise<GcReport> => {
  const r = await runCli(["gc", "--json", "--runs-dir", runs, ...flags])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as GcReport
}

describe("gc", () => {
  it("frees superseded artifacts, orphan store/scratch/tmp folders, with --dry-run and exact bytes; keeps what a resume needs", async () => {
    const dir = tempDir()
    const flag = path.join(dir, "fail")
    writeFileSync(flag, "")
    const runs = path.join(dir, "runs")
    const v1 = writePipeline(dir, "v1.yaml", pipeline(1, flag))
    expect((await runCli(["run", v1, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])).code).toBe(1) // resumable fails, keeps its checkpoint
    const oldFolders = storeFolders(runs)
    const v2 = writePipeline(dir, "v2.yaml", pipeline(2, flag))
    expect((await runCli(["run", v2, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])).code).toBe(1)
    const superseded = oldFolders // a=1 and b (whose content names a=1); resumable committed nothing
    expect(superseded).toHaveLength(2)
    // Litter: a store folder no row names, a scratch folder of no attempt, a dead process's tmp folder.
    mkdirSync(path.join(runs, "store", "ee", "e".repeat(64)), { recursive: true })
    writeFileSync(path.join(runs, "store", "ee", "e".repeat(64), "x.bin"), Buffer.alloc(300))
    mkdirSync(path.join(runs, "scratch", "f".repeat(64)), { recursive: true })
    writeFileSync(path.join(runs, "scratch", "f".repeat(64), "ckpt.bin"), Buffer.alloc(200))
    mkdirSync(path.join(runs, "tmp", "999999999-1-dead"), { recursive: true })
    writeFileSync(path.join(runs, "tmp", "999999999-1-dead", "partial"), Buffer.alloc(100))
    const kept = readdirSync(path.join(runs, "scratch")).filter((f) => f !== "f".repeat(64))
    expect(kept).toHaveLength(1) // the failed resumable's checkpoint (its latest attempt)

    const dry = await gc(runs, "--dry-run")
    const expected = [
      ...superseded.map((p) => ({ what: "artifact", path: p })),
      { what: "orphan", path: `store/ee/${"e".repeat(64)}`, bytes: 300 },
      { what: "scratch", path: `scratch/${"f".repeat(64)}`, bytes: 200 },
      { what: "tmp", path: "tmp/999999999-1-dead", bytes: 100 },
    ]
    expect(dry.items.map((i) => ({ what: i.what, path: i.path, ...(i.what === "artifact" ? {} : { bytes: i.bytes }) }))).toEqual(expected)
    // a=1: "a=1" (3 bytes) + blob.bin (10000); b: "b=0\na=1" (7 bytes).
    expect(dry.items.filter((i) => i.what === "artifact").map((i) => i.bytes).sort((x, y) => x - y)).toEqual([7, 10003])
    expect(dry.bytes).toBe(10003 + 7 + 300 + 200 + 100)
    expect(dry.dryRun).toBe(true)
    expect(storeFolders(runs)).toContain(superseded[0])
    expect(existsSync(path.join(runs, "scratch", "f".repeat(64)))).toBe(true)

    const text = await runCli(["gc", "--dry-run", "--runs-dir", runs])
    expect(text.stdout).toMatch(/gc: would free 0\.0 MiB \(10610 bytes\): 2 superseded artifacts, 1 orphan store folders, 1 orphan scratch folders, 1 temporary folders \(dry run: nothing removed\)/)

    const real = await gc(runs)
    expect(real.bytes).toBe(dry.bytes)
    for (const p of superseded) expect(storeFolders(runs)).not.toContain(p)
    expect(readdirSync(path.join(runs, "scratch"))).toEqual(kept)
    expect(readdirSync(path.join(runs, "tmp"))).toEqual([])
    const status = await runCli(["status", v2, "--json", "--runs-dir", runs])
    expect(status.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { plan: string }).plan)).toEqual(["cached", "cached", "pending"])
    expect((await gc(runs)).items).toEqual([])

    // The kept checkpoint resumes.
    rmSync(flag)
    const resumed = await runCli(["run", v2, "--runs-dir", runs, "--plain", "--jobs", "1"])
    expect(resumed.stdout).toMatch(/resumable: resumed from the checkpoint at step 2/)
  }, 90_000)

  it("removes nothing while another run is live, and says which", async () => {
    const dir = tempDir()
    const hold = path.join(dir, "hold")
    writeFileSync(hold, "")
    const runs = path.join(dir, "runs")
    const file = writePipeline(dir, "live.yaml", `name: live\nstages:\n  slow: { kind: fake-source, params: { holdWhileExists: "${hold}" } }\n`)
    mkdirSync(path.join(runs, "scratch", "f".repeat(64)), { recursive: true })
    const run = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1"])
    await waitForOutput(run, "started   slow")
    const r = await runCli(["gc", "--runs-dir", runs])
    expect(r.stdout).toMatch(new RegExp(`gc: run 1 \\(pid ${run.pid}\\) is live; gc removes nothing while a run is live`))
    expect(existsSync(path.join(runs, "scratch", "f".repeat(64)))).toBe(true)
    rmSync(hold)
    expect(await run.exited).toBe(0)
  }, 60_000)
})
