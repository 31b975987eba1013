/**
 * `--executor slurm` against a real local Slurm cluster (scripts/slurm-up.sh; vitest's global
 * setup starts it when it can). The CLI runs as its own process, like a user's coordinator.
 * Without Slurm these tests are skipped, saying how to start it (tests/setup/facilities.ts);
 * under PEFTLAB_REQUIRE_ALL=1 (CI) they fail instead.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { runsDirTag } from "../../../src/engine/executors/slurm.ts"
import { ROOT, spawnCli, tempDir, waitForOutput, writePipeline } from "../../cli/helpers.ts"
import { needs, needsHere } from "../../setup/facilities.ts"

needs("slurm")

type Cli = ReturnType<typeof spawnCli>

const run = async (argv: ReadonlyArray<string>): Promise<{ code: number | null; out: string }> => {
  const c = spawnCli(argv)
  const code = await c.exited
  return { code, out: c.output() }
}

/** instance id → artifact digest of the latest run (cached instances included). */
const digests = (runs: string): Record<string, string> => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  const rows = db.prepare(`SELECT e.instance_id AS id, c.artifact_digest AS d FROM executions e JOIN cache c ON c.fingerprint = e.fingerprint WHERE e.run_id = (SELECT max(id) FROM runs)`).all() as Array<{ id: string; d: string }>
  db.close()
  return Object.fromEntries(rows.map((r) => [r.id, r.d]))
}

/** Jobs of this runs directory still pending or running. */
const liveJobs = (runs: string): Array<string> =>
  execFileSync("squeue", ["-h", "-o", "%i|%j|%T"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes(`peftlab.${runsDirTag(runs)}.`))

const jobOf = (c: Cli, id: string, state: string): string => {
  const m = new RegExp(`slurm     ${id.replace(/[[\]]/g, "\\$&")}: job (\\d+) ${state}`).exec(c.output())
  if (m === null) throw new Error(`no ${state} job for ${id} in:\n${c.output()}`)
  return m[1]!
}

const TRAIN = "train[method=lora]"

/** Resolves with the train's Slurm job id once it reported step ≥ `step` (a `--json` run). */
const trainJobAt = (c: Cli, step: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const check = () => {
      let jobId: string | undefined
      const text = c.output()
      for (const line of text.slice(0, text.lastIndexOf("\n") + 1).split("\n")) {
        if (!line.startsWith("{")) continue
        const e = JSON.parse(line) as { type: string; id?: string; jobId?: string; step?: number }
        if (e.type === "stage-slurm" && e.id === TRAIN) jobId = e.jobId
        if (e.type === "stage-progress" && e.id === TRAIN && (e.step ?? 0) >= step && jobId !== undefined) {
          c.stdout?.off("data", check)
          return resolve(jobId)
        }
      }
    }
    c.stdout?.on("data", check)
    c.once("exit", () => reject(new Error(`exited before train step ${step}:\n${c.output()}`)))
  })

/** The step of the checkpoint the train said it resumed from, once it finished (NaN when it did not). */
const resumedAt = (out: string): number => Number(/resumed from the checkpoint at step (\d+)/.exec(out)?.[1] ?? NaN)

/** The step a `--json` run's train started from (its first progress reports that step + 1). */
const startedAt = (out: string): number => {
  const first = out.split("\n").find((l) => l.startsWith(`{"type":"stage-progress"`) && l.includes(`"id":"${TRAIN}"`))
  return first === undefined ? NaN : (JSON.parse(first) as { step: number }).step - 1
}

/** The processes of a running job on this (single) node. */
const jobPids = (job: string): Array<number> =>
  execFileSync("scontrol", ["listpids", job], { encoding: "utf8" }).split("\n").slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => Number.isInteger(n) && n > 0)

/**
 * Returns a node set DOWN to service and waits until it takes jobs. With ReturnToService=2
 * (scripts/slurm-up.sh) a responding slurmd brings it back by itself within milliseconds; then
 * RESUME is refused ("Invalid node state specified"), which is fine.
 */
const nodeBack = async (node: string): Promise<void> => {
  spawnSync("scontrol", ["update", `NodeName=${node}`, "State=RESUME"], { encoding: "utf8" })
  for (let i = 0; i < 300; i++) {
    const state = spawnSync("sinfo", ["-h", "-n", node, "-o", "%t"], { encoding: "utf8" }).stdout.trim()
    if (/^(idle|mix|alloc)/.test(state)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`node ${node} did not come back (sinfo: ${spawnSync("sinfo", ["-h", "-N"], { encoding: "utf8" }).stdout.trim()})`)
}

describe("--executor slurm (real local Slurm)", () => {
  it("fake pipeline: 41 instances in 3 jobs, same artifact digests as --executor local", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "fan.yaml", `name: fan
matrix:
  a: [${Array.from({ length: 40 }, (_, i) => i + 1).join(", ")}]
stages:
  src: { kind: fake-source, params: { value: 1 } }
  cell: { kind: fake-step, foreach: [a], needs: { source: src }, params: { value: "\${a}" } }
`)
    const slurm = await run(["run", file, "--runs-dir", path.join(dir, "slurm"), "--plain", "--jobs", "2", "--executor", "slurm"])
    expect(slurm.code, slurm.out).toBe(0)
    expect(slurm.out).toMatch(/run 1 succeeded in .*: 41 succeeded/)
    expect(slurm.out).toMatch(/slurm     cell\[a=7\]: job \d+ RUNNING on \S+/)
    // src alone, then the 40 cells spread over the 2 jobs allowed in flight.
    expect(readdirSync(path.join(dir, "slurm", "slurm", "1")).length).toBe(3)
    const local = await run(["run", file, "--runs-dir", path.join(dir, "local"), "--plain", "--jobs", "2"])
    expect(local.code).toBe(0)
    expect(digests(path.join(dir, "slurm"))).toEqual(digests(path.join(dir, "local")))
    expect(Object.keys(digests(path.join(dir, "local")))).toHaveLength(41)
  })

  it("a failing stage: exit 1 with the same error as locally; refused resources (CPUs, GPUs the cluster lacks) fail cleanly with Slurm's message", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "fail.yaml", `name: fail
stages:
  src: { kind: fake-source }
  bad: { kind: fake-step, needs: { source: src }, params: { fail: true } }
  huge: { kind: fake-source, params: { value: 2 }, resources: { cpus: 64 } }
  gpu: { kind: fake-source, params: { value: 3 }, resources: { gpus: 1 } }
`)
    const slurm = await run(["run", file, "--runs-dir", path.join(dir, "slurm"), "--plain", "--keep-going", "--executor", "slurm"])
    const local = await run(["run", file, "--runs-dir", path.join(dir, "local"), "--plain", "--keep-going"])
    expect(slurm.code).toBe(1)
    const failed = (out: string, id: string) => out.split("\n").find((l) => l.startsWith(`FAILED    ${id}:`))
    expect(failed(slurm.out, "bad")).toBe("FAILED    bad: Failed: bad failed on demand")
    expect(failed(slurm.out, "bad")).toBe(failed(local.out, "bad"))
    expect(failed(slurm.out, "huge")).toBe("FAILED    huge: Refused: Slurm refused the job: Batch job submission failed: More processors requested than permitted")
    // This cluster has no gres configured: --gres=gpu:1 is refused at sbatch time. The stage would
    // have run on tensorflow had tfjs-node-gpu loaded; here it says so and stays on the run's backend.
    expect(failed(slurm.out, "gpu")).toBe("FAILED    gpu: Refused: Slurm refused the job: Invalid generic resource (gres) specification")
    expect(slurm.out).toMatch(/peftlab: gpu asks for GPUs, but @tensorflow\/tfjs-node-gpu does not load here: it runs on \w+, like the rest of the run/)
    expect(liveJobs(path.join(dir, "slurm"))).toEqual([])
  })

  it("Ctrl-C: every job of the run is cancelled, exit 130, nothing left in squeue", async () => {
    const dir = tempDir()
    const hold = path.join(dir, "hold")
    writeFileSync(hold, "")
    const file = writePipeline(dir, "hold.yaml", `name: hold
matrix: { a: [1, 2, 3] }
stages:
  slow: { kind: fake-source, foreach: [a], params: { value: "\${a}", holdWhileExists: "${hold}" }, resources: { cpus: 1 } }
`)
    const runs = path.join(dir, "runs")
    const c = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "3", "--executor", "slurm"])
    await waitForOutput(c, "RUNNING on")
    expect(liveJobs(runs).length).toBeGreaterThan(0)
    c.kill("SIGINT")
    expect(await c.exited).toBe(130)
    expect(c.output()).toMatch(/interrupted slow\[a=1\]/)
    expect(liveJobs(runs)).toEqual([])
  })

  it("coordinator killed -9 while a job runs: the rerun cancels the orphan first, then runs the stage once", async () => {
    const dir = tempDir()
    const hold = path.join(dir, "hold")
    writeFileSync(hold, "")
    const file = writePipeline(dir, "orphan.yaml", `name: orphan
stages:
  slow: { kind: fake-source, params: { holdWhileExists: "${hold}" } }
`)
    const runs = path.join(dir, "runs")
    const first = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    await waitForOutput(first, "RUNNING on")
    const orphan = jobOf(first, "slow", "RUNNING")
    first.kill("SIGKILL")
    await first.exited
    expect(liveJobs(runs)).toEqual([expect.stringMatching(new RegExp(`^${orphan}\\|peftlab\\.\\w+\\.1\\.\\w+\\|RUNNING$`))])
    const second = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    await waitForOutput(second, "RUNNING on")
    // The orphan was stopped before the new job was submitted: only the new one lives.
    const fresh = jobOf(second, "slow", "RUNNING")
    expect(fresh).not.toBe(orphan)
    expect(liveJobs(runs).map((l) => l.split("|")[0])).toEqual([fresh])
    rmSync(hold)
    expect(await second.exited).toBe(0)
    const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
    expect(db.prepare(`SELECT run_id AS run, status FROM executions ORDER BY id`).all()).toEqual([{ run: 1, status: "interrupted" }, { run: 2, status: "succeeded" }])
    db.close()
  })

  it("real stages: a train scancelled, then timed out; each rerun resumes from its checkpoint; every artifact is bit-identical to --executor local", async (ctx) => {
    needsHere(ctx, "slurm-admin")
    const dir = tempDir()
    // Small own data so the stages take seconds: the README as corpus, 60 labelled lines.
    copyFileSync(path.join(ROOT, "README.md"), path.join(dir, "corpus.txt"))
    writeFileSync(path.join(dir, "data.jsonl"), Array.from({ length: 60 }, (_, i) => JSON.stringify({ prompt: `Subject: note ${i} about the plan\nLabel:`, completion: i % 2 === 0 ? " even" : " odd" })).join("\n") + "\n")
    const file = writePipeline(dir, "tiny.yaml", `name: tiny
matrix: { method: [lora] }
stages:
  tokens: { kind: tokenize, params: { vocab_size: 300, corpus: [corpus.txt] } }
  base:
    kind: build-model
    needs: { tokens: tokens }
    params: { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, steps: 10, batch_size: 4, warmup: 2, eval_every: 10, eval_batches: 1, checkpoint_every: 5 }
  adapter: { kind: attach-adapter, foreach: [method], needs: { model: base }, params: { method: "\${method}", seed: 1 } }
  train:
    kind: train
    foreach: [method]
    needs: { model: base, adapter: adapter }
    params: { data: data.jsonl, steps: 200, batch_size: 4, warmup: 3, seed: 1, checkpoint_every: 5 }
    resources: { time: 10m }
`)
    const runs = path.join(dir, "slurm")
    // 1. scancel once the train has passed a checkpoint (step 5) and reported step 20.
    const first = spawnCli(["run", file, "--runs-dir", runs, "--json", "--executor", "slurm"])
    const cancelled = await trainJobAt(first, 20)
    execFileSync("scancel", [cancelled])
    expect(await first.exited).toBe(1)
    expect(first.output()).toMatch(new RegExp(`"stage-failed".*"train\\[method=lora\\]".*"reason":"CANCELLED","message":"Slurm job ${cancelled} CANCELLED`))
    expect(existsSync(path.join(runs, "store"))).toBe(true)
    // 2. The rerun resumes, then runs past its time limit. slurmctld checks limits every 30 s and
    // the smallest --time is 1 minute: the job (10 minutes, from the YAML) gets its end moved to
    // now + 1 s, and its processes are stopped meanwhile so the train is still mid-run when the
    // check comes (Slurm continues them to deliver its SIGTERM).
    const second = spawnCli(["run", file, "--runs-dir", runs, "--json", "--executor", "slurm"])
    const timed = await trainJobAt(second, 40)
    expect(execFileSync("scontrol", ["-o", "show", "job", timed], { encoding: "utf8" })).toMatch(/ TimeLimit=00:10:00 /)
    for (const pid of jobPids(timed)) process.kill(pid, "SIGSTOP")
    execFileSync("scontrol", ["update", `JobId=${timed}`, "EndTime=now+1"])
    expect(await second.exited).toBe(1)
    expect(second.output()).toMatch(new RegExp(`"stage-failed".*"train\\[method=lora\\]".*"reason":"TIMEOUT","message":"Slurm job ${timed} TIMEOUT \\(TimeLimit\\), exit code \\d+:\\d+ on \\S+`))
    const resumedFirst = startedAt(second.output())
    expect(resumedFirst).toBeGreaterThanOrEqual(5)
    // 3. The next rerun resumes from a checkpoint written before the time limit, and finishes.
    const third = await run(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    expect(third.code, third.out).toBe(0)
    expect(resumedAt(third.out)).toBeGreaterThan(resumedFirst)
    expect(resumedAt(third.out)).toBeLessThan(200)
    const local = await run(["run", file, "--runs-dir", path.join(dir, "local"), "--plain"])
    expect(local.code).toBe(0)
    const want = digests(path.join(dir, "local"))
    expect(Object.keys(want)).toHaveLength(4)
    expect(digests(runs)).toEqual(want)
  }, 240_000)

  it("node lost while a job runs: the stage fails with NODE_FAIL and Slurm's reason, the job is not requeued, and the cluster runs the rerun", async (ctx) => {
    needsHere(ctx, "slurm-admin")
    const dir = tempDir()
    const hold = path.join(dir, "hold")
    writeFileSync(hold, "")
    const file = writePipeline(dir, "node.yaml", `name: node
stages:
  slow: { kind: fake-source, params: { holdWhileExists: "${hold}" } }
`)
    const runs = path.join(dir, "runs")
    const c = spawnCli(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    await waitForOutput(c, "RUNNING on")
    const job = jobOf(c, "slow", "RUNNING")
    const node = /: job \d+ RUNNING on (\S+)/.exec(c.output())![1]!
    try {
      execFileSync("scontrol", ["update", `NodeName=${node}`, "State=DOWN", "Reason=peftlab-test"])
      expect(await c.exited).toBe(1)
    } finally {
      await nodeBack(node)
    }
    expect(c.output()).toMatch(new RegExp(`FAILED    slow: NODE_FAIL: Slurm job ${job} NODE_FAIL \\(NodeDown\\), exit code \\d+:\\d+ on ${node}`))
    // --no-requeue: Slurm's default would requeue it (PENDING, BeginTime) and start the batch again.
    expect(execFileSync("scontrol", ["-o", "show", "job", job], { encoding: "utf8" })).toMatch(/JobState=NODE_FAIL .*Restarts=0 /)
    expect(liveJobs(runs)).toEqual([])
    rmSync(hold)
    const rerun = await run(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    expect(rerun.code, rerun.out).toBe(0)
  })
})
