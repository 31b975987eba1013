/**
 * A fine-tuning step's cost by loss, on the default ablation's shapes (2 layers, C = 128,
 * T = 128, BPE 1024 trained on SOTU, random weights — speed does not depend on them; batch 8 of
 * real SpamAssassin prompts, subject + 200 body characters), LoRA r = 8 on all six projections:
 *   - "head everywhere": the completion loss as before 2026-12-01, the output head on all B·T
 *     positions and the mask applied after (what pretraining must do);
 *   - "completion": the output head on the completion positions only (src/model/losses.ts);
 *   - "labels": the label-restricted loss, every label packed after the prompt (native: the
 *     masked softmax in C; elsewhere the tfjs attention path).
 * Each is a whole Trainer step (forward, backward, AdamW). Rounds interleave the three; medians.
 *   npx tsx bench/finetune-loss.ts [backend=native] [rounds=5] [steps=8] [batch=8]
 */
import * as tf from "@tensorflow/tfjs"
import { countWords, trainBpe } from "../src/model/data/bpe-train.ts"
import { initBackend } from "../src/model/kernels/backend.ts"
import { defaultConfig, forward, initGPT, maskedCrossEntropy } from "../src/model/arch/model.ts"
import { Tokenizer } from "../src/model/data/tokenizer.ts"
import { loadTask } from "../src/model/data/datasets/task.ts"
import { sotuDocuments } from "../src/model/data/datasets/pretrain-text.ts"
import { CompletionBatches } from "../src/model/data/completion-batches.ts"
import { disposeTrainBatch, isLabelBatch, type CompletionBatch, type TrainBatch } from "../src/model/losses.ts"
import { Adapter } from "../src/adapters/adapter.ts"
import { getMethod } from "../src/adapters/index.ts"
import { resolveSettings } from "../src/adapters/settings.ts"
import { Trainer } from "../src/adapters/trainer.ts"
import { clipByGlobalNorm } from "../src/model/clip.ts"
import type { BackendName } from "../src/contracts/stage.ts"

const [backend = "native", roundsArg = "5", stepsArg = "8", batchArg = "8"] = process.argv.slice(2)
const B = Number(batchArg)
await initBackend(backend as BackendName)
const counts = new Map<string, number>()
for (const d of (await sotuDocuments()).slice(-40)) countWords(d.text, counts)
const tok = new Tokenizer(trainBpe(counts, 1024))
const model = initGPT({ ...defaultConfig, vocabSize: 1024, blockSize: 128, nEmbd: 128, nLayer: 2, nHead: 4 }, 1)
const task = await loadTask("spam-assassin", { splitSeed: 0, valFraction: 0.1, testFraction: 0.2, bodyChars: 200 })
const lora = getMethod("lora")
const adapter = Adapter.create(lora, model.config, resolveSettings(lora, { targets: ["q", "k", "v", "o", "mlp_up", "mlp_down"], seed: 0 }))
const trainer = new Trainer(model, adapter, { weightDecay: 0.01, gradClip: 1, seed: 0 })
const completion = new CompletionBatches(task.train, tok, 128, { batchSize: B, seed: 0 })
const labels = new CompletionBatches(task.train, tok, 128, { batchSize: B, seed: 0, loss: "labels", labels: task.labels })

/** The old step: Trainer.step (LoRA has no gradient transform nor post-step rule) with the loss running the head on every position. */
class HeadEverywhere extends Trainer {
  override step(batch: TrainBatch, lr: number, step: number) {
    if (isLabelBatch(batch)) throw new Error("completion batches only")
    const b: CompletionBatch = batch
    const hook = this.adapter.hook({ training: true, dropoutSeed: step }, this.model)
    const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(this.model, b.idx, hook), b.targets, b.mask), this.adapter.trainableVars())
    const loss = value.dataSync()[0] ?? NaN
    value.dispose()
    const clipped = clipByGlobalNorm(new Map(Object.entries(grads)), this.opts.gradClip) // as Trainer.step
    this.optimizer.step(clipped.grads, lr)
    clipped.grads.forEach((g) => g.dispose())
    return { loss, gradNorm: clipped.norm }
  }
}
const old = new HeadEverywhere(model, adapter, { weightDecay: 0.01, gradClip: 1, seed: 0 })

const runs: Record<string, { readonly batches: CompletionBatches; readonly trainer: Trainer }> = {
  "head everywhere": { batches: completion, trainer: old },
  completion: { batches: completion, trainer },
  labels: { batches: labels, trainer },
}
const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]))
const before = tf.memory().numTensors
let t = 0
for (let round = 0; round < Number(roundsArg); round++) {
  for (const [name, r] of Object.entries(runs)) {
    const t0 = performance.now()
    for (let i = 0; i < Number(stepsArg); i++) {
      const batch = r.batches.at(t)
      r.trainer.step(batch, 1e-4, t++)
      disposeTrainBatch(batch)
    }
    times[name]!.push((performance.now() - t0) / Number(stepsArg))
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const base = median(times["head everywhere"]!)
console.log(`backend ${backend}, LoRA r=8 on all six projections, batch ${B} × ≤128 tokens, ${roundsArg} rounds × ${stepsArg} steps (median ms/step):`)
for (const [name, xs] of Object.entries(times)) console.log(`  ${name.padEnd(16)} ${median(xs).toFixed(1).padStart(7)} ms  (${(median(xs) / base).toFixed(2)}× head everywhere)`)
console.log(`tensors: ${tf.memory().numTensors - before} left over`)
