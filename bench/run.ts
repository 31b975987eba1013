/**
 * `npm run bench`: runs the benchmarks of bench/README.md one after another, each as its own
 * process with its output as it comes, and ends with a summary. A benchmark whose peer or input
 * is missing (a Slurm cluster, the Python venv, the native addon, a pretrained base) is skipped
 * with what it needs and the command that provides it; a peer a benchmark treats as optional
 * (torch in train.ts, snakemake in engine.sh) is left to the benchmark, which says so itself.
 *   npm run bench                    every benchmark
 *   npm run bench -- train methods   only these
 *   npm run bench -- --list          what there is, and what each needs here
 * Exits 1 when a benchmark that ran failed.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import Database from "better-sqlite3"
import { HOW_TO_GET_NATIVE, loadNative } from "../src/model/kernels/native.ts"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

interface Bench {
  readonly name: string
  readonly about: string
  /** argv after the interpreter; `base` is replaced by a pretrained base's folder. */
  readonly argv: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  /** Why it cannot run here and what provides it, or undefined. */
  readonly missing?: () => string | undefined
}

const tsx = (file: string, ...args: ReadonlyArray<string>): ReadonlyArray<string> => [process.execPath, "--import", "tsx", file, ...args]

const native = (): string | undefined => {
  const s = loadNative()
  return s.ok ? undefined : `the native backend: ${s.reason.split("; to ")[0]} — ${HOW_TO_GET_NATIVE}`
}

const slurm = (): string | undefined =>
  spawnSync("squeue", ["-h"], { encoding: "utf8" }).status === 0
    ? undefined
    : "a Slurm cluster (squeue does not answer) — as root: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge && bash scripts/slurm-up.sh"

const venv = (): string | undefined =>
  spawnSync(path.join(ROOT, ".venv/bin/python"), ["-c", "import torch, transformers, peft"]).status === 0 || process.env["PIP_FIND_LINKS"] !== undefined
    ? undefined
    : "transformers 5.17 and PEFT 0.21 in .venv, or PIP_FIND_LINKS to make it — docs/HF.md, \"A Python venv without PyPI\""

/** The folder of the latest pretrained base in the runs directory (`npm start` builds one). */
const baseModel = (): string | undefined => {
  const runs = path.resolve(process.env["PEFTLAB_RUNS_DIR"] ?? "runs")
  const dbFile = path.join(runs, "peftlab.db")
  if (!existsSync(dbFile)) return undefined
  const db = new Database(dbFile, { readonly: true })
  try {
    const row = db
      .prepare(`SELECT artifact_digest AS d FROM executions WHERE kind = 'build-model' AND status IN ('succeeded','cached') AND artifact_digest IS NOT NULL ORDER BY id DESC LIMIT 1`)
      .get() as { d: string } | undefined
    const dir = row === undefined ? undefined : path.join(runs, "store", row.d.slice(0, 2), row.d)
    return dir !== undefined && existsSync(dir) ? dir : undefined
  } finally {
    db.close()
  }
}
const needsBase = (): string | undefined =>
  baseModel() === undefined ? "a pretrained base (a build-model result in ./runs or PEFTLAB_RUNS_DIR) — npm start" : undefined

const BENCHES: ReadonlyArray<Bench> = [
  { name: "ui-render", about: "the dashboard's cost per event and per frame", argv: tsx("bench/ui-render.tsx"), env: { NODE_ENV: "production" } },
  { name: "engine", about: "status on 1,001 and 10,001 cached instances, scheduling overhead (snakemake -n beside it when installed)", argv: ["bash", "bench/engine.sh"] },
  { name: "engine-slurm", about: "the engine bench with --executor slurm vs local", argv: ["bash", "bench/engine-slurm.sh"], missing: slurm },
  { name: "train", about: "pretraining tokens/s: native, wasm, plain wasm (PyTorch beside them when .venv has torch)", argv: tsx("bench/train.ts"), missing: native },
  { name: "train-pretrain", about: "learning for real: the default base's loss curve and time", argv: tsx("bench/train-pretrain.ts") },
  { name: "methods", about: "training-step throughput and memory per method", argv: tsx("bench/methods.ts") },
  { name: "memory", about: "the compare report's peak-tensors column per method", argv: tsx("bench/memory.ts") },
  { name: "eval", about: "packed label scoring vs one sequence per label", argv: tsx("bench/eval.ts") },
  { name: "finetune-loss", about: "a fine-tuning step's cost by loss", argv: tsx("bench/finetune-loss.ts"), missing: native },
  { name: "finetune-step", about: "ms per fine-tuning step on the real base, LoRA and full", argv: tsx("bench/finetune-step.ts", "base"), missing: () => native() ?? needsBase() },
  { name: "head-ceiling", about: "the lowest loss a frozen head allows per label token", argv: tsx("bench/head-ceiling.ts", "base"), missing: needsBase },
  { name: "kill9", about: "the quick pipeline killed -9 twenty times, then resumed", argv: tsx("bench/kill9.ts", "--mode", "chain", "--trials", "20", "--seed", "2") },
  { name: "hf-interop", about: "exports and imports checked in the real transformers and PEFT", argv: ["bash", "bench/hf-interop.sh"], missing: venv },
]

const args = process.argv.slice(2)
if (args.includes("--list")) {
  for (const b of BENCHES) console.log(`${b.name.padEnd(15)} ${b.about}${b.missing?.() === undefined ? "" : `\n${"".padEnd(15)} skipped here, needs ${b.missing()}`}`)
  process.exit(0)
}
const unknown = args.filter((a) => !BENCHES.some((b) => b.name === a))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}`)
  process.exit(2)
}

const results: Array<string> = []
let failed = 0
for (const b of BENCHES.filter((b) => args.length === 0 || args.includes(b.name))) {
  const why = b.missing?.()
  if (why !== undefined) {
    console.log(`\n=== ${b.name}: skipped, needs ${why}`)
    results.push(`${b.name.padEnd(15)} skipped (needs ${why})`)
    continue
  }
  const argv = b.argv.map((a) => (a === "base" ? (baseModel() ?? a) : a))
  console.log(`\n=== ${b.name}: ${argv.slice(argv[0] === process.execPath ? 3 : 0).join(" ")}`)
  const t0 = Date.now()
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...b.env } })
  const s = ((Date.now() - t0) / 1000).toFixed(0)
  if (r.status !== 0) failed++
  results.push(`${b.name.padEnd(15)} ${r.status === 0 ? "ran" : `FAILED (exit ${r.status ?? r.signal})`} in ${s} s`)
}
console.log(`\n=== summary\n${results.join("\n")}`)
process.exit(failed > 0 ? 1 : 0)
