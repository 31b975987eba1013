/**
 * The real train stage on a tiny pipeline: its worker is SIGKILLed from outside mid-train while
 * the coordinator lives. The train fails with "worker died (signal SIGKILL)", the run (with
 * --keep-going) still finishes the independent stage on a fresh worker, and the last
 * checkpoint stays in scratch for the rerun to resume from (resume itself: tests/model and
 * tests/e2e/resume-quick.test.ts).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { spawnCli, tempDir, waitForOutput, writePipeline } from "../cli/helpers.ts"

const PIPELINE = `name: tiny-train
matrix: { method: [lora] }
stages:
  tokens: { kind: tokenize, params: { vocab_size: 260, train_chars: 20000 } }
  base:
    kind: build-model
    needs: { tokens: tokens }
    params: { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, steps: 2, batch_size: 2, warmup: 1, eval_every: 2, eval_batches: 1, checkpoint_every: 0 }
  adapter: { kind: attach-adapter, foreach: [method], needs: { model: base }, params: { method: "\${method}", seed: 1 } }
  train:
    kind: train
    foreach: [method]
    needs: { model: base, adapter: adapter }
    params: { steps: 100000, batch_size: 2, warmup: 2, seed: 1, checkpoint_every: 20 }
  other: { kind: fake-source, params: { value: 7 } }
`

/** pid, parent pid and command line of every process: from /proc on Linux (slim images have no `ps`), else `ps`. */
const processes = (): ReadonlyArray<{ pid: number; ppid: number; args: string }> => {
  if (!existsSync("/proc/self/stat"))
    return execFileSync("ps", ["-A", "-o", "pid=,ppid=,args="], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "").map((l) => {
      const [pid, ppid, ...args] = l.trim().split(/\s+/)
      return { pid: Number(pid), ppid: Number(ppid), args: args.join(" ") }
    })
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so fields count from the last ")".
      const stat = readFileSync(`/proc/${d}/stat`, "latin1")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      return [{ pid: Number(d), ppid, args: readFileSync(`/proc/${d}/cmdline`, "latin1").replaceAll("\0", " ") }]
    } catch {
      return [] // exited meanwhile
    }
  })
}

/** Pids of the worker processes (children running worker.ts) of `parent`. */
const workersOf = (parent: number): ReadonlyArray<number> =>
  processes().filter((p) => p.ppid === parent && p.args.includes("worker.ts")).map((p) => p.pid)

describe("a worker killed mid-train", () => {
  it("fails the train with the signal, the pool goes on with a fresh worker, the checkpoint stays for the rerun", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "t.yaml", PIPELINE)
    const runs = path.join(dir, "runs")
    const run = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "1", "--keep-going", "--backend", "wasm"])
    await waitForOutput(run, "started   train[method=lora]")
    // Kill once a checkpoint exists (every 20 steps), so there is something to keep.
    const checkpoint = () => (existsSync(path.join(runs, "scratch")) ? readdirSync(path.join(runs, "scratch"), { recursive: true }).map(String).find((f) => f.endsWith("checkpoint.safetensors")) : undefined)
    for (let i = 0; i < 1200 && checkpoint() === undefined; i++) await new Promise((r) => setTimeout(r, 100))
    const ckpt = checkpoint()
    expect(ckpt).toBeDefined()
    const workers = workersOf(run.pid!)
    expect(workers).toHaveLength(1)
    process.kill(workers[0]!, "SIGKILL")
    expect(await run.exited).toBe(1)
    expect(run.output()).toMatch(/FAILED    train\[method=lora\]: WorkerDied: worker died \(signal SIGKILL\) during the stage/)
    expect(run.output()).toMatch(/finished  other /)
    expect(statSync(path.join(runs, "scratch", ckpt!)).size).toBeGreaterThan(0)
    expect(readdirSync(path.join(runs, "tmp"))).toEqual([])
  }, 240_000)
})
