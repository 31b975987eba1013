/**
 * peftlab's side of the real-shape benchmark (issue 20), one configuration in a fresh process
 * (peak RSS is per process), the same step as bench/llm_torch.py's:
 *
 *   ids ~ U[0, V) (B, T + 1) → logits of ids[:, :-1] → mean cross-entropy against ids[:, 1:] →
 *   backward → AdamW (lr 1e-4, β (0.9, 0.999), ε 1e-8, weight decay 0) on the trainable tensors,
 *   no clipping, no dropout. LoRA r 8, α 16 on q/k/v/o/gate/up/down; full: every parameter.
 *
 * The step is the train stage's own (Trainer.step: completion loss with every position counted).
 * The checkpoint folder is imported as `load-model` does (importHfFolder into a temporary
 * artifact: bf16 widened to float32), then loadModel.
 *
 *   npx tsx bench/llm-worker.ts <hf-folder> <lora|full> [backend=native] [threads=1]
 *     [--batch 4] [--seq 256] [--warmup 1] [--windows 3] [--profile]
 *
 * Prints one JSON line (the field names of llm_torch.py's): tokens/s of each timed window and
 * their median, wall and CPU seconds a step, peak RSS (VmHWM; before the profiled step) and the
 * RSS and wasm heap at the end of the timed steps; with --profile, tf.profile's kernel time of one
 * more step split by what the kernels compute (bench/llm-profile.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { importHfFolder } from "../src/hf/folder.ts"
import { Adapter } from "../src/adapters/adapter.ts"
import { getMethod } from "../src/adapters/index.ts"
import { resolveSettings } from "../src/adapters/settings.ts"
import { Trainer } from "../src/adapters/trainer.ts"
import { initBackend } from "../src/model/kernels/backend.ts"
import { loadModel } from "../src/model/safetensors.ts"
import type { CompletionBatch } from "../src/model/losses.ts"
import type { BackendName } from "../src/contracts/stage.ts"
import { splitProfile } from "./llm-profile.ts"

const argv = process.argv.slice(2)
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i < 0 ? dflt : Number(argv[i + 1])
}
const VALUED = ["--batch", "--seq", "--warmup", "--windows"]
const positional = argv.filter((a, i) => !a.startsWith("--") && !VALUED.includes(argv[i - 1] ?? ""))
const [dir, method = "lora", backend = "native", threadsArg = "1"] = positional
if (dir === undefined || !["lora", "full"].includes(method)) throw new Error("usage: npx tsx bench/llm-worker.ts <hf-folder> <lora|full> [backend] [threads] [--batch 4] [--seq 256] [--warmup 1] [--windows 3] [--profile]")
const [B, T, warmup, windows] = [flag("batch", 4), flag("seq", 256), flag("warmup", 1), flag("windows", 3)]
const threads = Number(threadsArg)

const rss = (field: "VmHWM" | "VmRSS"): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024
const load0 = (await import("node:os")).loadavg()[0]!

await initBackend(backend as BackendName, threads)
const t0 = performance.now()
// A transformers folder is imported into a temporary artifact here; a peftlab artifact (what
// bench/llm.ts imports once for all its workers) is loaded as it is.
const imported = !existsSync(join(dir, "config.json")) || "model_type" in (JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as object)
const artifact = imported ? mkdtempSync(join(tmpdir(), "peftlab-llm-")) : dir
let model
try {
  if (imported) importHfFolder(dir, artifact)
  model = loadModel(artifact)
} finally {
  if (imported) rmSync(artifact, { recursive: true, force: true })
}
const loadS = (performance.now() - t0) / 1000
const rssAfterLoad = rss("VmRSS")
const cfg = model.config
const m = getMethod(method)
const adapter = Adapter.create(m, cfg, resolveSettings(m, { rank: 8, alpha: 16, dropout: 0, targets: ["q", "k", "v", "o", "mlp_gate", "mlp_up", "mlp_down"], seed: 0 }), { model })
const trainer = new Trainer(model, adapter, { weightDecay: 0, gradClip: 0, seed: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 })
const V = cfg.vocabSize

const batchAt = (i: number): CompletionBatch => {
  const ids = tf.randomUniform([B, T + 1], 0, V, "int32", 1000 + i) as tf.Tensor2D
  const batch = { idx: tf.slice(ids, [0, 0], [B, T]), targets: tf.slice(ids, [0, 1], [B, T]), mask: tf.ones([B, T]) as tf.Tensor2D }
  ids.dispose()
  return batch
}
const losses: number[] = []
let t = 0
const step = (): void => {
  const batch = batchAt(t)
  losses.push(trainer.step(batch, 1e-4, t++).loss)
  tf.dispose([batch.idx, batch.targets, batch.mask])
}

for (let i = 0; i < warmup; i++) step()
const wall: number[] = []
const cpu: number[] = []
for (let w = 0; w < windows; w++) {
  const c0 = process.cpuUsage()
  const w0 = performance.now()
  step()
  wall.push((performance.now() - w0) / 1000)
  const c = process.cpuUsage(c0)
  cpu.push((c.user + c.system) / 1e6)
}
const peak = rss("VmHWM")
const rssEnd = rss("VmRSS")
const heapBytes = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0
const tensorBytes = tf.memory().numBytes
const dims = { B, T, C: cfg.nEmbd, F: "intermediateSize" in cfg ? cfg.intermediateSize : 4 * cfg.nEmbd, V, nHead: cfg.nHead, nKv: "nKvHead" in cfg ? cfg.nKvHead : cfg.nHead, hd: "headDim" in cfg ? cfg.headDim : cfg.nEmbd / cfg.nHead, rank: 8 }
const profile = argv.includes("--profile") ? await splitProfile(step, dims) : null
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const count = (vs: Iterable<tf.Variable>): number => [...vs].reduce((n, v) => n + v.size, 0)
const trainable = method === "full" ? count(model.params.values()) : count(adapter.trainableVars())
const paramsTotal = count(model.params.values()) + count([...adapter.tensors.values()].map((a) => a.variable))
console.log(
  JSON.stringify({
    side: "peftlab", backend, model: dir, method, threads, batch: B, seq: T, tokens_per_step: B * T, warmup_steps: warmup,
    windows_tokens_per_s: wall.map((s) => Math.round((B * T) / s * 10) / 10),
    tokens_per_s: Math.round((B * T) / median(wall) * 10) / 10,
    step_s: Math.round(median(wall) * 1000) / 1000, cpu_step_s: Math.round(median(cpu) * 1000) / 1000,
    peak_rss_mb: Math.round(peak), rss_after_load_mb: Math.round(rssAfterLoad), rss_end_mb: Math.round(rssEnd),
    wasm_heap_mb: Math.round(heapBytes / 2 ** 20), tensor_mb: Math.round(tensorBytes / 2 ** 20),
    params_total: paramsTotal, params_trainable: trainable,
    loss_first: Math.round((losses[0] ?? NaN) * 1e4) / 1e4, profile, load_s: Math.round(loadS * 10) / 10,
    load_avg_1m_before_after: [Math.round(load0 * 100) / 100, Math.round((await import("node:os")).loadavg()[0]! * 100) / 100],
  }),
)
