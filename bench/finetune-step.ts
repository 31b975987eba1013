/**
 * Milliseconds per fine-tuning step (Trainer.step: label loss, forward, backward, clipping,
 * AdamW) on a real pretrained base, LoRA r = 8 on all six projections and full fine-tuning,
 * batch 8 of SpamAssassin prompts. Rounds interleave the two methods; medians.
 *   npx tsx bench/finetune-step.ts <base-model-dir> [backend=native] [rounds=7] [steps=8]
 * PROFILE=1 adds tf.profile's kernel times per step (TOP=n rows), grouped by kernel name (and
 * by input shapes with SHAPES=1).
 * To compare two versions of the code, run this from each checkout in turn (interleaved).
 */
import * as tf from "@tensorflow/tfjs"
import { initBackend } from "../src/model/kernels/backend.ts"
import { loadModel } from "../src/model/safetensors.ts"
import { loadTokenizer } from "../src/model/data/tokenizer.ts"
import { loadTask } from "../src/model/data/datasets/task.ts"
import { CompletionBatches } from "../src/model/data/completion-batches.ts"
import { disposeTrainBatch } from "../src/model/losses.ts"
import { Adapter } from "../src/adapters/adapter.ts"
import { getMethod } from "../src/adapters/index.ts"
import { resolveSettings } from "../src/adapters/settings.ts"
import { Trainer } from "../src/adapters/trainer.ts"
import type { BackendName } from "../src/contracts/stage.ts"

const [dir, backend = "native", roundsArg = "7", stepsArg = "8"] = process.argv.slice(2)
if (dir === undefined) throw new Error("usage: npx tsx bench/finetune-step.ts <base-model-dir> [backend] [rounds] [steps]")
await initBackend(backend as BackendName, 1)
const tok = loadTokenizer(`${dir}/tokenizer.json`)
const task = await loadTask("spam-assassin", { splitSeed: 0, valFraction: 0.1, testFraction: 0.2, bodyChars: 200 })

const trainerFor = (method: string): Trainer => {
  const model = loadModel(dir) // one base per method: full fine-tuning writes it
  const m = getMethod(method)
  const adapter = Adapter.create(m, model.config, resolveSettings(m, { targets: ["q", "k", "v", "o", "mlp_up", "mlp_down"], seed: 0 }))
  return new Trainer(model, adapter, { weightDecay: 0.01, gradClip: 1, seed: 0 })
}
const runs = ["lora", "full"].map((method) => {
  const trainer = trainerFor(method)
  const batches = new CompletionBatches(task.train, tok, trainer.model.config.blockSize, { batchSize: 8, seed: 0, loss: "labels", labels: task.labels })
  return { method, trainer, batches }
})

let t = 0
const step = (r: (typeof runs)[number]): void => {
  const batch = r.batches.at(t)
  r.trainer.step(batch, 1e-4, t++)
  disposeTrainBatch(batch)
}
for (const r of runs) for (let i = 0; i < 3; i++) step(r) // warm-up: kernels compiled, heap grown
const before = tf.memory().numTensors
// Wall time, and the process's CPU time (user + system): everything here runs on one thread, so
// CPU time is the step's cost with less of the noise of other jobs sharing the cores.
const times: Record<string, number[]> = Object.fromEntries(runs.map((r) => [r.method, []]))
const cpu: Record<string, number[]> = Object.fromEntries(runs.map((r) => [r.method, []]))
for (let round = 0; round < Number(roundsArg); round++)
  for (const r of runs) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    for (let i = 0; i < Number(stepsArg); i++) step(r)
    const c = process.cpuUsage(c0)
    times[r.method]!.push((performance.now() - t0) / Number(stepsArg))
    cpu[r.method]!.push((c.user + c.system) / 1000 / Number(stepsArg))
  }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
console.log(`backend ${backend}, label loss, batch 8, ${roundsArg} rounds × ${stepsArg} steps (median ms/step, wall and CPU; all rounds' wall):`)
for (const [m, xs] of Object.entries(times))
  console.log(`  ${m.padEnd(5)} ${median(xs).toFixed(1).padStart(7)} ms wall ${median(cpu[m]!).toFixed(1).padStart(7)} ms CPU   [${xs.map((x) => x.toFixed(1)).join(" ")}]`)
console.log(`tensors: ${tf.memory().numTensors - before} left over`)

if (process.env.PROFILE === "1")
  for (const r of runs) {
    const n = 5
    const prof = await tf.profile(() => {
      for (let i = 0; i < n; i++) step(r)
    })
    const by = new Map<string, { ms: number; calls: number }>()
    for (const k of prof.kernels) {
      const ms = (await k.kernelTimeMs) as number
      const key = process.env.SHAPES === "1" ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join("·")}` : k.name
      const e = by.get(key) ?? { ms: 0, calls: 0 }
      by.set(key, { ms: e.ms + ms / n, calls: e.calls + 1 / n })
    }
    const total = [...by.values()].reduce((a, b) => a + b.ms, 0)
    console.log(`${r.method}: kernel time ${total.toFixed(1)} ms/step, ${(prof.kernels.length / n).toFixed(0)} kernels/step`)
    for (const [k, v] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 15)))
      console.log(`${v.ms.toFixed(2).padStart(8)} ms ${v.calls.toFixed(0).padStart(5)}× ${k}`)
  }
