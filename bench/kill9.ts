/**
 * Crash safety under kill -9, measured on the quick pipeline (SIGKILL to the coordinator).
 *
 *   node --import tsx bench/kill9.ts [--mode chain|fresh] [--trials 20] [--max-delay 60] [--seed 1] [--pipeline pipelines/quick.yaml]
 *
 * - `fresh`: each trial in a new runs directory, killed at an instant uniform over the clean
 *   run's wall time, then rerun to the end: each rerun must exit 0 with every artifact digest
 *   equal to a clean run's, integrity_check ok, no tmp folders, no `*.tmp` files, store folders =
 *   artifact rows. Costs about trials × the clean run (≈ 20 × 1–4 min on the shared 2 cores).
 * - `chain` (default): one runs directory; the run is killed `trials` times, each attempt
 *   after a delay uniform in [1 s, --max-delay (60) s] from its start (so the kills fall all along the
 *   pipeline as committed stages accumulate); after every kill integrity_check must be ok; then
 *   a last rerun must exit 0 and end with the same checks as `fresh`. A run that finishes before
 *   its kill is checked the same way and the chain goes on in a new runs directory.
 *
 * Delays come from a seeded generator (mulberry32) so a failing trial can be replayed. Prints one
 * line per kill and a summary; exits 1 if any check failed.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import Database from "better-sqlite3"

const { values } = parseArgs({ options: { mode: { type: "string" }, "max-delay": { type: "string" }, trials: { type: "string" }, seed: { type: "string" }, pipeline: { type: "string" }, jobs: { type: "string" } } })
const MODE = values.mode ?? "chain"
const MAX_DELAY_MS = Number(values["max-delay"] ?? 60) * 1000
const TRIALS = Number(values.trials ?? 20)
const PIPELINE = path.resolve(values.pipeline ?? "pipelines/quick.yaml")
const JOBS = values.jobs ?? "2"
const ENTRY = path.resolve("bin/main.ts")

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
const finalChecks = (runs: string, rerunCode: number | null) => {
  const c = existsSync(path.join(runs, "peftlab.db")) ? check(runs) : { integrity: "no db", tmp: -1, tmpFiles: -1, storeOk: false }
  const same = rerunCode === 0 && JSON.stringify(digests(runs)) === JSON.stringify(reference.digests)
  return { ...c, same, ok: same && c.integrity === "ok" && c.tmp === 0 && c.tmpFiles === 0 && c.storeOk }
}
const total = Object.keys(reference.digests).length
let failures = 0
if (MODE === "fresh") {
  console.log(`trial  kill at   committed before kill   rerun  rerun s  digests  integrity  tmp  .tmp  store`)
  for (let trial = 1; trial <= TRIALS; trial++) {
    const runs = fresh() + "/runs"
    const at = Math.round(random() * reference.ms)
    const killed = await run(runs, at)
    const before = existsSync(path.join(runs, "peftlab.db")) ? Object.keys(digests(runs)).length : 0
    const rerun = await run(runs)
    const c = finalChecks(runs, rerun.code)
    if (!c.ok) failures++
    console.log(
      `${String(trial).padStart(5)}  ${(at / 1000).toFixed(1).padStart(6)} s  ${String(before).padStart(3)}/${total}${killed.signal === "SIGKILL" ? "" : ` (ended ${killed.code} first)`}`.padEnd(42) +
        `${String(rerun.code).padStart(5)}  ${(rerun.ms / 1000).toFixed(1).padStart(7)}  ${c.same ? "equal" : "DIFFER"}   ${c.integrity.padEnd(9)}  ${String(c.tmp).padStart(3)}  ${String(c.tmpFiles).padStart(4)}  ${c.storeOk ? "ok" : "BAD"}`,
    )
    if (!c.ok) console.log(rerun.output.split("\n").slice(-15).join("\n"))
  }
  console.log(`${TRIALS - failures}/${TRIALS} trials: rerun exit 0, digests equal to a clean run, integrity_check ok, no leftovers`)
} else {
  console.log(`kill  after    committed  integrity`)
  let runs = fresh() + "/runs"
  let chains = 1
  for (let trial = 1; trial <= TRIALS; trial++) {
    const at = Math.round(1000 + random() * (MAX_DELAY_MS - 1000))
    const killed = await run(runs, at)
    const committed = existsSync(path.join(runs, "peftlab.db")) ? Object.keys(digests(runs)).length : 0
    const integrity = existsSync(path.join(runs, "peftlab.db")) ? check(runs).integrity : "no db yet"
    if (integrity !== "ok" && integrity !== "no db yet") failures++
    const finishedFirst = killed.signal !== "SIGKILL"
    console.log(`${String(trial).padStart(4)}  ${(at / 1000).toFixed(1).padStart(5)} s  ${String(committed).padStart(3)}/${total}    ${integrity}${finishedFirst ? `  (the run ended first, exit ${killed.code})` : ""}`)
    if (finishedFirst) {
      const c = finalChecks(runs, killed.code)
      if (!c.ok) failures++
      console.log(`      chain ${chains} complete: digests ${c.same ? "equal" : "DIFFER"}, integrity ${c.integrity}, tmp ${c.tmp}, .tmp ${c.tmpFiles}, store ${c.storeOk ? "ok" : "BAD"}`)
      runs = fresh() + "/runs"
      chains++
    }
  }
  const rerun = await run(runs)
  const c = finalChecks(runs, rerun.code)
  if (!c.ok) failures++
  console.log(`final rerun: exit ${rerun.code} in ${(rerun.ms / 1000).toFixed(1)} s; digests ${c.same ? "equal to the clean run's" : "DIFFER"} (${total} artifacts), integrity_check ${c.integrity}, tmp folders ${c.tmp}, .tmp files ${c.tmpFiles}, store folders = rows: ${c.storeOk ? "yes" : "NO"}`)
  if (!c.ok) console.log(rerun.output.split("\n").slice(-15).join("\n"))
  console.log(`${failures === 0 ? "all checks passed" : `${failures} checks FAILED`} over ${TRIALS} kills in ${chains} chain(s)`)
}
process.exitCode = failures === 0 ? 0 : 1
