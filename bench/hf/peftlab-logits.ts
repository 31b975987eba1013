/**
 * peftlab's side of the interop check (bench/hf-interop.sh): for a model artifact, and optionally
 * an adapter artifact trained on it, writes the token ids and logits peftlab computes for real
 * prompts (SpamAssassin test e-mails and a few sentences) to a safetensors file:
 *   ids.i, base.i       the original base (what base/ exports, for every method)
 *   adapter.i           base + adapter (peftlab's forward hook)
 *   merged.i            peftlab's merged model (src/adapters/merge.ts, what the merge stage writes)
 * Usage: tsx bench/hf/peftlab-logits.ts <jobs.json>, a list of { out, model, adapter? } (one process
 * for all: the task is parsed once).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { loadAdapter } from "../../src/adapters/io.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import { initBackend } from "../../src/model/kernels/backend.ts"
import { loadTask } from "../../src/model/data/datasets/task.ts"
import { disposeGPT, forward, type GPT, type ProjectionHook } from "../../src/model/arch/model.ts"
import { loadModel, writeSafetensors, type SafeTensor } from "../../src/model/safetensors.ts"
import { loadTokenizer } from "../../src/model/data/tokenizer.ts"

const jobsFile = process.argv[2]
if (jobsFile === undefined) throw new Error("usage: peftlab-logits.ts <jobs.json>")
const jobs = JSON.parse(readFileSync(jobsFile, "utf8")) as Array<{ out: string; model: string; adapter?: string }>
await initBackend("cpu")
const task = await loadTask("spam-assassin", { splitSeed: 0, valFraction: 0.1, testFraction: 0.2, bodyChars: 200 })
const texts = [
  ...task.test.slice(0, 4).map((e) => e.prompt + e.completion),
  "The state of the union is strong, and our economy grows.",
  "Subject: win a free prize now!!! Click here.",
]
for (const job of jobs) {
  const model = loadModel(job.model)
  const tokenizer = loadTokenizer(join(job.model, "tokenizer.json"))
  const T = model.config.blockSize
  const adapterDir = job.adapter
  // As training and evaluation truncate (src/model/data/completion-batches.ts): the tokenizer's
  // prefix (the Llama family's BOS) once, then the last T − |prefix| tokens of the text.
  const prefix = "prefix" in tokenizer ? tokenizer.prefix : []
  const ids = texts.map((t) => [...prefix, ...tokenizer.encode(t).slice(-(T - prefix.length))])
  const logits = (m: GPT, hook?: ProjectionHook) => ids.map((seq) => tf.tidy(() => Float32Array.from(forward(m, tf.tensor2d(seq, [1, seq.length], "int32"), hook).dataSync())))
  const tensors: SafeTensor[] = []
  const put = (name: string, rows: Float32Array[]) =>
    rows.forEach((data, i) => tensors.push({ name: `${name}.${i}`, dtype: "F32", shape: [ids[i]?.length ?? 0, model.config.vocabSize], data }))
  ids.forEach((seq, i) => tensors.push({ name: `ids.${i}`, dtype: "I32", shape: [seq.length], data: Int32Array.from(seq) }))
  if (adapterDir === undefined) put("base", logits(model))
  else {
    put("base", logits(model)) // the original base: what base/ exports, for every method
    const adapter = await loadAdapter(adapterDir, model) // Delta-LoRA: writes its trained W into `model`
    put("adapter", logits(model, adapter.hook(undefined, model)))
    const merged = mergedModel(model, adapter)
    put("merged", logits(merged))
    disposeGPT(merged)
    adapter.dispose()
  }
  writeSafetensors(job.out, tensors, { format: "pt", texts: JSON.stringify(texts) })
  disposeGPT(model)
  console.log(`${job.out}: ${ids.length} prompts of ${ids.map((s) => s.length).join("/")} tokens`)
}
