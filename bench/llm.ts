/**
 * The real-shape benchmark (issue 20): peftlab (bench/llm-worker.ts) beside PyTorch + PEFT
 * (bench/llm_torch.py, through bench/llm_torch_cpu.py for the CPU time) on the same checkpoint
 * folder, batch, sequence and optimizer, LoRA r 8 on all seven projections and full fine-tuning,
 * 1 and 2 threads. Every configuration is a fresh process (peak RSS is per process); rounds
 * interleave them, so a burst of load from other jobs hits every configuration alike; figures are
 * medians over rounds. The last round also profiles one more step on each side.
 *
 *   LLM_TORCH=bench/llm_torch.py npx tsx bench/llm.ts [model=smollm2-135m] [rounds=3]
 *   env: METHODS=lora,full THREADS=1,2 BATCH=1 SEQ=256 WARMUP=1 WINDOWS=1 WASM=1 (adds wasm, 1 thread, LoRA)
 *        NATIVE_ONLY=1 (no torch) OUT=bench/llm.results.json BASE_ROOT=<other checkout> (its native worker
 *        beside ours, 1 thread) TORCH_MALLOC=default (torch without llm_torch.py's KEEP_MEMORY)
 * The folder is <dir of llm_torch.py>/out/<model>-random (llm_torch.py `make` writes it). It is
 * imported once (importHfFolder, as `load-model` does) into a temporary artifact the workers load.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { promisify } from "node:util"
import { importHfFolder } from "../src/hf/folder.ts"

const run = promisify(execFile)
const root = join(import.meta.dirname, "..")
const [model = "smollm2-135m", roundsArg = "3"] = process.argv.slice(2)
const env = (k: string, d: string): string => process.env[k] ?? d
const torchScript = env("LLM_TORCH", join(root, "bench/llm_torch.py"))
const python = env("PYTHON", existsSync(join(root, ".venv/bin/python")) ? join(root, ".venv/bin/python") : "/work/venv/bin/python")
const folder = join(dirname(torchScript), "out", `${model}-random`)
const methods = env("METHODS", "lora,full").split(",")
const threads = env("THREADS", "1,2").split(",").map(Number)
const common = ["--batch", env("BATCH", "1"), "--seq", env("SEQ", "256"), "--warmup", env("WARMUP", "1"), "--windows", env("WINDOWS", "1")]
const rounds = Number(roundsArg)
if (!existsSync(join(folder, "config.json"))) throw new Error(`${folder} does not exist: run \`python ${torchScript} make ${model}\` first`)

type Sample = Record<string, unknown> & { tokens_per_s: number; cpu_step_s: number; peak_rss_mb: number; profile: unknown }
const lastJson = (stdout: string): Sample => JSON.parse(stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1) ?? "{}") as Sample

const artifact = mkdtempSync(join(tmpdir(), "peftlab-llm-"))
process.on("exit", () => rmSync(artifact, { recursive: true, force: true }))
const t0 = performance.now()
importHfFolder(folder, artifact)
const importS = (performance.now() - t0) / 1000

interface Config {
  readonly name: string
  readonly go: (profile: boolean) => Promise<Sample>
}
const ours = (method: string, backend: string, n: number): Config => ({
  name: `peftlab_${backend}_${method}_${n}t`,
  go: async (profile) => lastJson((await run("npx", ["tsx", "bench/llm-worker.ts", artifact, method, backend, String(n), ...common, ...(profile ? ["--profile"] : [])], { cwd: root, maxBuffer: 1 << 26 })).stdout),
})
// llm_torch.py's KEEP_MEMORY (what its `all` runs torch with): glibc keeps freed memory, so each
// step does not fault its ~100 MB logits buffers in again (peftlab's wasm heap never shrinks either).
const KEEP_MEMORY = { MALLOC_MMAP_THRESHOLD_: "4294967296", MALLOC_TRIM_THRESHOLD_: "68719476736", MALLOC_TOP_PAD_: "1073741824" }
const torch = (method: string, n: number): Config => ({
  name: `torch_${method}_${n}t`,
  go: async (profile) =>
    lastJson(
      (await run(python, ["bench/llm_torch_cpu.py", torchScript, model, method, String(n), ...common, ...(profile ? [] : ["--no-profile"])], {
        cwd: root, maxBuffer: 1 << 26, env: { ...process.env, ...(process.env.TORCH_MALLOC === "default" ? {} : KEEP_MEMORY) },
      })).stdout,
    ),
})
// BASE_ROOT: another checkout of peftlab (e.g. before an optimization), run beside this one.
const base = (method: string, n: number): Config => ({
  name: `peftlab_base_${method}_${n}t`,
  go: async (profile) => lastJson((await run("npx", ["tsx", "bench/llm-worker.ts", artifact, method, "native", String(n), ...common, ...(profile ? ["--profile"] : [])], { cwd: process.env.BASE_ROOT!, maxBuffer: 1 << 26 })).stdout),
})
const configs: Config[] = []
for (const method of methods)
  for (const n of threads) {
    configs.push(ours(method, "native", n))
    if (process.env.NATIVE_ONLY !== "1") configs.push(torch(method, n))
    if (process.env.BASE_ROOT !== undefined && n === 1) configs.push(base(method, n))
  }
if (process.env.WASM === "1") configs.push(ours("lora", "wasm", 1))

const samples = new Map<string, Sample[]>()
const failures: Record<string, string> = {}
const loads: number[] = []
for (let round = 0; round < rounds; round++)
  for (const c of configs) {
    loads.push(loadavg()[0]!)
    try {
      const s = await c.go(round === rounds - 1)
      samples.set(c.name, [...(samples.get(c.name) ?? []), s])
      console.error(`round ${round} ${c.name}: ${s.tokens_per_s} tokens/s, ${s.cpu_step_s} s CPU/step, ${s.peak_rss_mb} MB`)
    } catch (e) {
      failures[c.name] = (e instanceof Error ? e.message : String(e)).slice(-600)
      console.error(`round ${round} ${c.name}: failed ${failures[c.name]}`)
    }
  }

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const summary = Object.fromEntries(
  [...samples].map(([name, xs]) => [
    name,
    {
      tokens_per_s: median(xs.map((s) => s.tokens_per_s)),
      cpu_step_s: median(xs.map((s) => s.cpu_step_s)),
      peak_rss_mb: Math.max(...xs.map((s) => s.peak_rss_mb)),
      runs_tokens_per_s: xs.map((s) => s.tokens_per_s),
      runs_cpu_step_s: xs.map((s) => s.cpu_step_s),
      profile: xs.at(-1)?.profile ?? null,
      last: Object.fromEntries(Object.entries(xs.at(-1) ?? {}).filter(([k]) => k !== "profile")),
    },
  ]),
)
const ratios = Object.fromEntries(
  methods.flatMap((m) =>
    threads.map((n) => {
      const a = summary[`peftlab_native_${m}_${n}t`]
      const b = summary[`torch_${m}_${n}t`]
      return [`${m}_${n}t`, a && b ? { wall: Math.round((a.tokens_per_s / b.tokens_per_s) * 100) / 100, cpu: Math.round((b.cpu_step_s / a.cpu_step_s) * 100) / 100 } : null]
    }),
  ),
)
const result = {
  model, folder, batch: common[1], seq: common[3], rounds, import_s: Math.round(importS), ratios_native_over_torch: ratios, summary, failures,
  load_avg_1m: { min: Math.min(...loads), median: median(loads), max: Math.max(...loads) }, cpus: (await import("node:os")).cpus().length,
  date: new Date().toISOString(),
}
const out = env("OUT", join(root, "bench/llm.results.json"))
const all = existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>) : {}
writeFileSync(out, JSON.stringify({ ...all, [`${model}${process.env.TAG ? `_${process.env.TAG}` : ""}`]: result }, null, 2) + "\n")
console.log(JSON.stringify({ ratios_native_over_torch: ratios, load_avg_1m: result.load_avg_1m }, null, 2))
for (const [name, s] of Object.entries(summary)) console.log(`${name.padEnd(26)} ${String(s.tokens_per_s).padStart(8)} tokens/s  ${String(s.cpu_step_s).padStart(7)} s CPU/step  ${String(s.peak_rss_mb).padStart(6)} MB`)
