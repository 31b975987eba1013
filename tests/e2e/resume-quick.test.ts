/**
 * Resume, proven on the real quick pipeline (real tokenizer, pretraining, a tuning phase, select,
 * fan-in to a report; LoRA, VeRA and full fine-tuning): the CLI
 * is SIGKILLed at five pseudo-random moments, rerun each time, and must end exactly where an
 * uninterrupted run ends — the same artifact digest for every stage instance (weights are
 * hashed byte for byte) and the same eval metrics — with a clean store. Then Ctrl-C (SIGINT):
 * exit 130 and a clean resume.
 */
import { spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { ROOT, tempDir } from "../cli/helpers.ts"

const PIPELINE = path.join(ROOT, "pipelines/quick.yaml")
const BIN = path.join(ROOT, "bin/peftlab.js")

interface Started {
  readonly exited: Promise<number | null>
  readonly output: () => string
  readonly kill: (signal: NodeJS.Signals) => void
}

const start = (runs: string): Started => {
  const env = { ...process.env, PEFTLAB_NO_BUNDLE: "1" }
  const child = spawn(process.execPath, [BIN, "run", PIPELINE, "--runs-dir", runs, "--plain", "--jobs", "2"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  let text = ""
  child.stdout.on("data", (d: Buffer) => (text += d.toString()))
  child.stderr.on("data", (d: Buffer) => (text += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { exited, output: () => text, kill: (s) => child.kill(s) }
}

/** Resolves when the run has printed `count` "finished" lines (progress-based, not time-based). */
const afterFinished = (run: Started, count: number): Promise<boolean> =>
  new Promise((resolve) => {
    const tick = setInterval(() => {
      if ((run.output().match(/^finished /gm) ?? []).length >= count) done(true)
    }, 20)
    const done = (reached: boolean) => (clearInterval(tick), resolve(reached))
    void run.exited.then(() => done(false))
  })

/** fingerprint → artifact digest, and instance → eval metrics, of the latest run. */
const results = (runs: string) => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  const artifacts = Object.fromEntries(
    (db.prepare(`SELECT e.instance_id AS id, c.artifact_digest AS d FROM executions e JOIN cache c ON c.fingerprint = e.fingerprint WHERE e.run_id = (SELECT max(id) FROM runs)`).all() as Array<{ id: string; d: string }>).map((r) => [r.id, r.d]),
  )
  const metrics = db
    .prepare(
      `SELECT e.instance_id AS id, m.name, m.value FROM executions e JOIN cache c ON c.fingerprint = e.fingerprint JOIN metrics m ON m.execution_id = c.execution_id
       WHERE e.run_id = (SELECT max(id) FROM runs) AND e.kind = 'eval' AND m.step IS NULL ORDER BY e.instance_id, m.name`,
    )
    .all()
  db.close()
  return { artifacts, metrics }
}

const expectClean = (runs: string) => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
  const digests = new Set((db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest))
  expect(db.prepare(`SELECT count(*) AS n FROM locks`).get()).toEqual({ n: 0 })
  db.close()
  const store = path.join(runs, "store")
  expect(new Set(readdirSync(store).flatMap((p) => readdirSync(path.join(store, p))))).toEqual(digests)
  expect(existsSync(path.join(runs, "tmp")) ? readdirSync(path.join(runs, "tmp")) : []).toEqual([])
}

// The quick pipeline has 45 instances; kill points spread over its whole length (seeded, fixed).
const KILL_AFTER = [2, 9, 17, 26, 35]

describe("resume on the real quick pipeline", () => {
  it("five SIGKILLs at different moments end bit-identical to an uninterrupted run", async () => {
    const reference = path.join(tempDir("peftlab-ref-"), "runs")
    expect(await start(reference).exited).toBe(0)

    const runs = path.join(tempDir("peftlab-kill-"), "runs")
    let killed = 0
    let kills = 0
    for (const after of KILL_AFTER) {
      const run = start(runs)
      // Each rerun starts with the earlier instances cached: count only what this run finishes.
      if (await afterFinished(run, Math.max(1, after - killed))) {
        run.kill("SIGKILL")
        killed = after
        kills++
      }
      await run.exited
    }
    expect(kills).toBe(KILL_AFTER.length)
    const final = start(runs)
    expect(await final.exited, final.output()).toBe(0)

    expectClean(runs)
    const want = results(reference)
    const got = results(runs)
    expect(Object.keys(got.artifacts)).toHaveLength(45)
    expect(got.artifacts).toEqual(want.artifacts)
    expect(got.metrics).toEqual(want.metrics)
  }, 600_000)

  it("Ctrl-C exits 130 and the next run resumes and completes", async () => {
    const runs = path.join(tempDir("peftlab-int-"), "runs")
    const run = start(runs)
    expect(await afterFinished(run, 4)).toBe(true)
    run.kill("SIGINT")
    expect(await run.exited).toBe(130)
    const again = start(runs)
    expect(await again.exited, again.output()).toBe(0)
    expect(again.output()).toMatch(/^cached\s+tokens/m)
    expectClean(runs)
  }, 300_000)
})
