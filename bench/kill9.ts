/**
 * Crash safety under kill -9, measured: the quick pipeline killed (SIGKILL to the coordinator)
 * at N random instants, each in a fresh runs directory, then rerun to the end. Each rerun must
 * exit 0 with every artifact digest equal to a clean run's, SQLite's integrity_check ok, no
 * temporary folders, no `*.tmp` files and store folders = artifact rows.
 *
 *   node --import tsx bench/kill9.ts [--trials 20] [--seed 1] [--pipeline pipelines/quick.yaml]
 *
 * The instants are uniform over the clean run's wall time, from a seeded generator (mulberry32)
 * so a failing trial can be replayed. Prints one line per trial and a summary; exits 1 if any
 * trial failed.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import Database from "better-sqlite3"

const { values } = parseArgs({ options: { trials: { type: "string" }, seed: { type: "string" }, pipeline: { type: "string" }, jobs: { type: "string" } } })
const TRIALS = Number(values.trials ?? 20)
const PIPELINE = path.resolve(values.pipeline ?? "pipelines/quick.yaml")
const JOBS = values.jobs ?? "2"
const ENTRY = path.resolve("src/cli/peftlab.ts")

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const random = mulberry32(Number(values.seed ?? 1))

/** Runs the CLI; kills it with SIGKILL after `killAfterMs` when given. */
const run = (runs: string, killAfterMs?: number) =>
  new Promise<{ code: number | null; signal: string | null; ms: number; output: string }>((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, ["--import", "tsx", ENTRY, "run", PIPELINE, "--runs-dir", runs, "--plain", "--jobs", JOBS], { stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, ms: Date.now() - t0, output })
    })
  })

const digests = (runs: string): Record<string, string> => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  try {
    const rows = db.prepare(`SELECT instance_id AS id, artifact_digest AS d FROM executions WHERE status IN ('succeeded','cached') AND artifact_digest IS NOT NULL ORDER BY id`).all() as Array<{ id: string; d: string }>
    return Object.fromEntries(rows.map((r) => [r.id, r.d]))
  } finally {
    db.close()
  }
}

const check = (runs: string) => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  try {
    const integrity = db.pragma("integrity_check", { simple: true }) as string
    const rows = new Set((db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest))
    const store = path.join(runs, "store")
    const folders = existsSync(store) ? readdirSync(store).flatMap((p) => readdirSync(path.join(store, p))) : []
    const tmp = existsSync(path.join(runs, "tmp")) ? readdirSync(path.join(runs, "tmp")).length : 0
    const tmpFiles = readdirSync(runs, { recursive: true }).filter((f) => String(f).endsWith(".tmp")).length
    const storeOk = folders.length === rows.size && folders.every((f) => rows.has(f))
    return { integrity, tmp, tmpFiles, storeOk }
  } finally {
    db.close()
  }
}

const fresh = () => mkdtempSync(path.join(os.tmpdir(), "peftlab-kill9-"))

const reference = await (async () => {
  const runs = fresh() + "/runs"
  const r = await run(runs)
  if (r.code !== 0) throw new Error(`the reference run failed:\n${r.output}`)
  return { digests: digests(runs), ms: r.ms }
})()
console.log(`clean run: ${(reference.ms / 1000).toFixed(1)} s, ${Object.keys(reference.digests).length} artifacts`)
console.log(`trial  kill at   committed before kill   rerun  rerun s  digests  integrity  tmp  .tmp  store`)
let failures = 0
for (let trial = 1; trial <= TRIALS; trial++) {
  const runs = fresh() + "/runs"
  const at = Math.round(random() * reference.ms)
  const killed = await run(runs, at)
  const before = existsSync(path.join(runs, "peftlab.db")) ? Object.keys(digests(runs)).length : 0
  const rerun = await run(runs)
  const c = existsSync(path.join(runs, "peftlab.db")) ? check(runs) : { integrity: "no db", tmp: -1, tmpFiles: -1, storeOk: false }
  const same = rerun.code === 0 && JSON.stringify(digests(runs)) === JSON.stringify(reference.digests)
  const ok = same && c.integrity === "ok" && c.tmp === 0 && c.tmpFiles === 0 && c.storeOk
  if (!ok) failures++
  console.log(
    `${String(trial).padStart(5)}  ${(at / 1000).toFixed(1).padStart(6)} s  ${String(before).padStart(3)}/${Object.keys(reference.digests).length}${killed.signal === "SIGKILL" ? "" : ` (ended ${killed.code} first)`}`.padEnd(42) +
      `${String(rerun.code).padStart(5)}  ${(rerun.ms / 1000).toFixed(1).padStart(7)}  ${same ? "equal" : "DIFFER"}   ${c.integrity.padEnd(9)}  ${String(c.tmp).padStart(3)}  ${String(c.tmpFiles).padStart(4)}  ${c.storeOk ? "ok" : "BAD"}`,
  )
  if (!ok) console.log(rerun.output.split("\n").slice(-15).join("\n"))
}
console.log(`${TRIALS - failures}/${TRIALS} trials: rerun exit 0, digests equal to a clean run, integrity_check ok, no leftovers`)
process.exitCode = failures === 0 ? 0 : 1
