/**
 * Pretraining throughput, tfjs (this repo) vs PyTorch CPU on the same architecture, batch,
 * optimizer and clipping (bench/train-worker.ts, bench/train_torch.py), in one run:
 *   - native (wasm + OpenBLAS + fused kernels): 1 worker vs torch with 1 thread; 2 workers at
 *     once (the whole 2-core machine, summed) vs torch with 2 threads; one stage with 2 BLAS
 *     threads vs torch with 2 threads
 *   - the same three native rows on our own GEMM (native/gemm.c, the addon built beside
 *     OpenBLAS, native/build/Release/peftlab_gemm.node): `own_*`, and own ÷ OpenBLAS
 *   - where the machine forces OpenBLAS's kernels (OPENBLAS_CORETYPE, which peftlab respects)
 *     to other ones than peftlab would pick from the CPU's flags, OpenBLAS with peftlab's pick too
 *   - wasm + our fixes: the same 1-worker and 2-worker rows
 *   - plain wasm (fixes off) to measure what the fixes buy
 * Each figure is the median of `REPEATS` fresh processes. Peak RSS is per process.
 *   npx tsx bench/train.ts            (torch: .venv/bin/python; skipped with a message if missing)
 */
import { execFile, execFileSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { coreTypeFor } from "../src/model/kernels/native.ts"

const run = promisify(execFile)
const root = join(import.meta.dirname, "..")
const REPEATS = Number(process.env.REPEATS ?? 3)
const python = join(root, ".venv/bin/python")

interface Sample {
  readonly tokens_per_s: number
  readonly peak_rss_mb: number
  /** The native addon's BLAS and kernels ("openblas Haswell", "own avx512"), null elsewhere. */
  readonly blas?: string | null
}

/** The own GEMM's addon, and the OpenBLAS core peftlab would pick if the machine did not force one. */
const GEMM_ADDON = join(root, "native/build/Release/peftlab_gemm.node")
const hasOwn = existsSync(GEMM_ADDON)
if (!hasOwn) console.log(`${GEMM_ADDON} is missing (node bin/build-native.mjs builds it): own GEMM rows skipped.`)
const ownEnv = { PEFTLAB_NATIVE_ADDON: GEMM_ADDON }
// The native_* rows are the system BLAS (peftlab runs the own GEMM by default: src/model/kernels/native.ts).
process.env.PEFTLAB_BLAS = process.env.PEFTLAB_BLAS ?? "openblas"
const pick = existsSync("/proc/cpuinfo") ? coreTypeFor(readFileSync("/proc/cpuinfo", "utf8")) : undefined
const forced = process.env.OPENBLAS_CORETYPE
const picked = forced !== undefined && pick !== undefined && forced.toLowerCase() !== pick.toLowerCase() ? pick : undefined

const parse = (stdout: string): Sample => JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Sample
const ours = async (variant: "fast" | "plain", steps: number, backend: "wasm" | "native" = "wasm", threads = 1, env: Record<string, string> = {}): Promise<Sample> =>
  parse((await run("npx", ["tsx", "bench/train-worker.ts", backend, variant, String(steps), "3", String(threads)], { cwd: root, env: { ...process.env, ...env } })).stdout)
const torch = async (threads: number): Promise<Sample> => parse((await run(python, ["bench/train_torch.py", String(threads), "40", "5"], { cwd: root })).stdout)

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const twoWorkers = async (backend: "wasm" | "native" = "wasm", steps = 15, env: Record<string, string> = {}): Promise<Sample> => {
  const [a, b] = await Promise.all([ours("fast", steps, backend, 1, env), ours("fast", steps, backend, 1, env)])
  return { tokens_per_s: a.tokens_per_s + b.tokens_per_s, peak_rss_mb: Math.max(a.peak_rss_mb, b.peak_rss_mb), blas: a.blas ?? null }
}

const hasTorch = (() => {
  if (!existsSync(python)) return false
  try {
    execFileSync(python, ["-c", "import torch"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
if (!hasTorch) console.log("torch is not installed (.venv/bin/python -c 'import torch' fails): PyTorch columns skipped. See bench/README.md.")

// Rounds, not blocks: every configuration runs once per round, so a burst of load from other
// jobs on this shared machine hits all of them alike and the ratios stay fair.
const configs: Record<string, (() => Promise<Sample>) | null> = {
  native_1: () => ours("fast", 40, "native"),
  own_1: hasOwn ? () => ours("fast", 40, "native", 1, ownEnv) : null,
  native_picked_1: picked !== undefined ? () => ours("fast", 40, "native", 1, { OPENBLAS_CORETYPE: picked }) : null,
  native_2_workers: () => twoWorkers("native", 40),
  own_2_workers: hasOwn ? () => twoWorkers("native", 40, ownEnv) : null,
  native_1_stage_2_threads: () => ours("fast", 40, "native", 2),
  own_1_stage_2_threads: hasOwn ? () => ours("fast", 40, "native", 2, ownEnv) : null,
  wasm_1: () => ours("fast", 15),
  wasm_plain_1: () => ours("plain", 4),
  wasm_2_workers: () => twoWorkers(),
  torch_1: hasTorch ? () => torch(1) : null,
  torch_2: hasTorch ? () => torch(2) : null,
}
const samples = new Map<string, Sample[]>()
for (let round = 0; round < REPEATS; round++)
  for (const [name, f] of Object.entries(configs)) if (f !== null) samples.set(name, [...(samples.get(name) ?? []), await f()])
const summarize = (name: string) => {
  const xs = samples.get(name)
  if (xs === undefined) return null
  const blas = xs[0]?.blas
  return {
    tokens_per_s: median(xs.map((s) => s.tokens_per_s)),
    peak_rss_mb: Math.max(...xs.map((s) => s.peak_rss_mb)),
    runs: xs.map((s) => Math.round(s.tokens_per_s)),
    ...(blas ? { blas } : {}),
  }
}
const must = (name: string) => summarize(name)!
const results = {
  config: "GPT n_layer 2, n_head 4, n_embd 128, block 64, vocab 1024, tied; batch 16 (1,024 tokens/step); AdamW + clip 1.0",
  native_1: must("native_1"),
  own_1: summarize("own_1"),
  native_picked_1: summarize("native_picked_1"),
  native_2_workers: must("native_2_workers"),
  own_2_workers: summarize("own_2_workers"),
  native_1_stage_2_threads: must("native_1_stage_2_threads"),
  own_1_stage_2_threads: summarize("own_1_stage_2_threads"),
  wasm_1: must("wasm_1"),
  wasm_plain_1: must("wasm_plain_1"),
  wasm_2_workers: must("wasm_2_workers"),
  torch_1: summarize("torch_1"),
  torch_2: summarize("torch_2"),
}
const ratio = (a: number, b: number | undefined) => (b === undefined ? null : Number((a / b).toFixed(3)))
const summary = {
  ...results,
  fix_speedup: ratio(results.wasm_1.tokens_per_s, results.wasm_plain_1.tokens_per_s),
  // The floor: the own GEMM ≥ 0.8× OpenBLAS's tokens/s (native_* is OpenBLAS where it was built).
  own_vs_native_1: results.own_1 && ratio(results.own_1.tokens_per_s, results.native_1.tokens_per_s),
  own_vs_native_picked_1: results.own_1 && results.native_picked_1 && ratio(results.own_1.tokens_per_s, results.native_picked_1.tokens_per_s),
  own_vs_native_2_workers: results.own_2_workers && ratio(results.own_2_workers.tokens_per_s, results.native_2_workers.tokens_per_s),
  own_vs_native_stage_2_threads: results.own_1_stage_2_threads && ratio(results.own_1_stage_2_threads.tokens_per_s, results.native_1_stage_2_threads.tokens_per_s),
  own_vs_wasm_1: results.own_1 && ratio(results.own_1.tokens_per_s, results.wasm_1.tokens_per_s),
  native_vs_wasm_1: ratio(results.native_1.tokens_per_s, results.wasm_1.tokens_per_s),
  native_vs_torch_1: ratio(results.native_1.tokens_per_s, results.torch_1?.tokens_per_s),
  native_vs_torch_2: ratio(results.native_2_workers.tokens_per_s, results.torch_2?.tokens_per_s),
  native_stage_2_threads_vs_torch_2: ratio(results.native_1_stage_2_threads.tokens_per_s, results.torch_2?.tokens_per_s),
  wasm_vs_torch_1: ratio(results.wasm_1.tokens_per_s, results.torch_1?.tokens_per_s),
  wasm_vs_torch_2: ratio(results.wasm_2_workers.tokens_per_s, results.torch_2?.tokens_per_s),
}
writeFileSync(join(root, "bench/train.results.json"), JSON.stringify(summary, null, 2) + "\n")
console.log(JSON.stringify(summary, null, 2))
