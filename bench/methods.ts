/**
 * Per-method training-step throughput and memory on the default model, one fresh process per
 * (method, repeat) so RSS is clean; medians over repeats, ratios against LoRA.
 *   npx tsx bench/methods.ts [backend=wasm] [repeats=3] [steps=10]
 * Writes bench/methods.results.json and prints a markdown table.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const [backend = "wasm", repeatsArg = "3", stepsArg = "10"] = process.argv.slice(2)
const METHODS = ["lora", "lora-fa", "vera", "delta-lora", "lora-plus"]
const SETTINGS = [
  { label: "q,v (paper default)", targets: "q,v", batch: "16" },
  { label: "all projections", targets: "q,k,v,o,mlp_up,mlp_down", batch: "16" },
]

interface Row {
  method: string
  tokens_per_s: number
  step_peak_tensor_bytes: number
  peak_rss_bytes: number
  trainable_params: number
  backend: string
}

const worker = fileURLToPath(new URL("./methods-worker.ts", import.meta.url))
const run = (method: string, targets: string, batch: string): Row => {
  const out = execFileSync("npx", ["tsx", worker, method, backend, targets, batch, stepsArg], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  const line = out.split("\n").find((l) => l.startsWith("{"))
  if (line === undefined) throw new Error(`no result from ${method}`)
  return JSON.parse(line) as Row
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const mb = (b: number) => (b / 2 ** 20).toFixed(1)

const results: Record<string, Record<string, Row[]>> = {}
for (const s of SETTINGS) {
  results[s.label] = {}
  // Interleave methods across repeats so drift in machine load hits all of them alike.
  for (let r = 0; r < Number(repeatsArg); r++)
    for (const m of METHODS) (results[s.label]![m] ??= []).push(run(m, s.targets, s.batch))
}
writeFileSync(fileURLToPath(new URL("./methods.results.json", import.meta.url)), JSON.stringify(results, null, 2) + "\n")

for (const s of SETTINGS) {
  const rows = results[s.label]!
  const ref = rows.lora!
  const refTps = median(ref.map((x) => x.tokens_per_s))
  const refPeak = median(ref.map((x) => x.step_peak_tensor_bytes))
  const refRss = median(ref.map((x) => x.peak_rss_bytes))
  console.log(`\n### ${s.label}, batch ${s.batch}×64 tokens, ${ref[0]?.backend}, median of ${repeatsArg}\n`)
  console.log("| method | trainable | tokens/s | vs LoRA | step peak tensor MiB | vs LoRA | worker peak RSS MiB | vs LoRA |")
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|")
  for (const m of METHODS) {
    const xs = rows[m]!
    const [tps, peak, rss] = [median(xs.map((x) => x.tokens_per_s)), median(xs.map((x) => x.step_peak_tensor_bytes)), median(xs.map((x) => x.peak_rss_bytes))]
    console.log(`| ${m} | ${xs[0]?.trainable_params} | ${tps.toFixed(0)} | ${(tps / refTps).toFixed(2)} | ${mb(peak)} | ${(peak / refPeak).toFixed(3)} | ${mb(rss)} | ${(rss / refRss).toFixed(3)} |`)
  }
}
