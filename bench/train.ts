/**
 * Pretraining throughput, tfjs (this repo) vs PyTorch CPU on the same architecture, batch,
 * optimizer and clipping (bench/train-worker.ts, bench/train_torch.py), in one run:
 *   - 1 worker (wasm + our fixes) vs torch with 1 thread
 *   - 2 workers at once (the whole 2-core machine, summed) vs torch with 2 threads
 *   - plain wasm (fixes off) to measure what the fixes buy
 * Each figure is the median of `REPEATS` fresh processes. Peak RSS is per process.
 *   npx tsx bench/train.ts            (torch: .venv/bin/python; skipped with a message if missing)
 */
import { execFile, execFileSync } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)
const root = join(import.meta.dirname, "..")
const REPEATS = Number(process.env.REPEATS ?? 3)
const python = join(root, ".venv/bin/python")

interface Sample {
  readonly tokens_per_s: number
  readonly peak_rss_mb: number
}

const parse = (stdout: string): Sample => JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Sample
const ours = async (variant: "fast" | "plain", steps: number): Promise<Sample> =>
  parse((await run("npx", ["tsx", "bench/train-worker.ts", "wasm", variant, String(steps), "3"], { cwd: root })).stdout)
const torch = async (threads: number): Promise<Sample> => parse((await run(python, ["bench/train_torch.py", String(threads), "40", "5"], { cwd: root })).stdout)

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const repeat = async (f: () => Promise<Sample>): Promise<{ tokens_per_s: number; peak_rss_mb: number; runs: number[] }> => {
  const samples: Sample[] = []
  for (let i = 0; i < REPEATS; i++) samples.push(await f())
  return { tokens_per_s: median(samples.map((s) => s.tokens_per_s)), peak_rss_mb: Math.max(...samples.map((s) => s.peak_rss_mb)), runs: samples.map((s) => Math.round(s.tokens_per_s)) }
}
const twoWorkers = async (): Promise<Sample> => {
  const [a, b] = await Promise.all([ours("fast", 15), ours("fast", 15)])
  return { tokens_per_s: a.tokens_per_s + b.tokens_per_s, peak_rss_mb: Math.max(a.peak_rss_mb, b.peak_rss_mb) }
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

const results = {
  config: "GPT n_layer 2, n_head 4, n_embd 128, block 64, vocab 1024, tied; batch 16 (1,024 tokens/step); AdamW + clip 1.0",
  wasm_1: await repeat(() => ours("fast", 15)),
  wasm_plain_1: await repeat(() => ours("plain", 4)),
  wasm_2_workers: await repeat(twoWorkers),
  torch_1: hasTorch ? await repeat(() => torch(1)) : null,
  torch_2: hasTorch ? await repeat(() => torch(2)) : null,
}
const ratio = (a: number, b: number | undefined) => (b === undefined ? null : Number((a / b).toFixed(3)))
const summary = {
  ...results,
  fix_speedup: ratio(results.wasm_1.tokens_per_s, results.wasm_plain_1.tokens_per_s),
  ours_vs_torch_1: ratio(results.wasm_1.tokens_per_s, results.torch_1?.tokens_per_s),
  ours_vs_torch_2: ratio(results.wasm_2_workers.tokens_per_s, results.torch_2?.tokens_per_s),
}
writeFileSync(join(root, "bench/train.results.json"), JSON.stringify(summary, null, 2) + "\n")
console.log(JSON.stringify(summary, null, 2))
