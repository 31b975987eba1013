/**
 * A worker that dies by itself while the coordinator lives — SIGKILL from outside mid-stage, and
 * out of memory (a stage that allocates under a small --max-old-space-size): the stage fails with
 * "worker died (signal …)" and the worker's last lines, the pool replaces the worker, and a
 * --keep-going run goes on with the rest.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

const grab = (out: string, word: string) => out.split("\n").filter((l) => l.startsWith(word)).map((l) => l.split(/\s+/)[1]).sort()

const waitFor = async (file: string): Promise<number> => {
  for (let i = 0; i < 600 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 50))
  return Number(readFileSync(file, "utf8"))
}

describe("a worker that dies by itself", () => {
  it("killed mid-stage: the stage fails naming the signal and the worker's last lines; the pool replaces the worker; --keep-going continues", async () => {
    const dir = tempDir()
    const hold = path.join(dir, "hold")
    const pidFile = path.join(dir, "pid")
    writeFileSync(hold, "")
    const file = writePipeline(dir, "w.yaml", `name: killed
stages:
  victim: { kind: fake-source, params: { holdWhileExists: "${hold}", pidFile: "${pidFile}" } }
  after: { kind: fake-step, needs: { source: victim } }
  other: { kind: fake-source, params: { value: 2 } }
`)
    const runs = path.join(dir, "runs")
    const pending = runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])
    const pid = await waitFor(pidFile)
    process.kill(pid, "SIGKILL")
    const r = await pending
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`FAILED    victim: WorkerDied: worker died (signal SIGKILL) during the stage; its last lines:\n    fake victim: pid ${pid}\n`)
    expect(grab(r.stdout, "skipped")).toEqual(["after"])
    expect(grab(r.stdout, "finished")).toEqual(["other"]) // on the same (only) slot: a new worker
  }, 60_000)

  it("out of memory: the stage fails with the signal, 'out of memory' and V8's last words; the run goes on", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "w.yaml", `name: oom
stages:
  hog: { kind: fake-source, params: { allocate: true } }
  other: { kind: fake-source, params: { value: 2 } }
`)
    const runs = path.join(dir, "runs")
    process.env["PEFTLAB_WORKER_NODE_ARGS"] = "--max-old-space-size=96"
    try {
      const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going"])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/FAILED    hog: WorkerDied: worker died \(signal SIGABRT\) — out of memory during the stage; its last lines:\n(    .*\n)*    fake hog: pid \d+, allocating until out of memory\n(    .*\n)*.*heap out of memory/)
      expect(grab(r.stdout, "finished")).toEqual(["other"])
    } finally {
      delete process.env["PEFTLAB_WORKER_NODE_ARGS"]
    }
  }, 60_000)
})
