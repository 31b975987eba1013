/** The train stage's work (params.ts holds its params, index.ts its contract). */
import { writeFile } from "node:fs/promises"
import * as tf from "@tensorflow/tfjs"
import { join } from "node:path"
import type { Effect } from "effect"
import type { StageContext, StageError, StageOutput } from "../../src/contracts/stage.ts"
import { CompletionBatches } from "../../src/model/data/completion-batches.ts"
import { disposeGPT } from "../../src/model/arch/model.ts"
import { trainSeq, type TrainParams } from "./params.ts"
import type { Adapter } from "../../src/adapters/adapter.ts"
import { ADAPTER_WEIGHTS, loadAdapter, saveAdapter } from "../../src/adapters/io.ts"
import { clearCheckpoint, trainAdapter } from "../../src/adapters/train-loop.ts"
import { adapterCounts, settingsSummary } from "../attach-adapter/run.ts"
import { attempt, loadBase, loadTaskData, requireFile, TRAIN_META, type DataSpec } from "../../src/adapters/stage-common.ts"

/** The training loss of every step (the report stage's curves read it from the artifact). */
export const LOSS_CURVE = "loss.json"

/** The optimizer and schedule as recorded with every run (docs/METHODS.md "Optimizer notes"). */
const optimizerRecord = (p: TrainParams, lr: number, minLr: number, seed: number) => ({
  /** Data order and dropout masks (the adapter's seed unless train's `seed` is set). */
  seed,
  optimizer: "adamw",
  weight_decay_order: "before-adam-step",
  schedule: "linear-warmup-cosine",
  lr,
  lr_scale: p.lr_scale,
  min_lr: minLr,
  warmup: p.warmup,
  weight_decay: p.weight_decay,
  adam_beta1: p.beta1,
  adam_beta2: p.beta2,
  adam_eps: p.eps,
  grad_clip: p.grad_clip,
  steps: p.steps,
  batch_size: p.batch_size,
  loss: p.loss,
})

export const train = (ctx: StageContext<TrainParams>): Effect.Effect<StageOutput, StageError> =>
  attempt(async () => {
    const p = ctx.params
    const adapterDir = ctx.inputs.adapter?.dir ?? ""
    requireFile(adapterDir, ADAPTER_WEIGHTS, "adapter")
    const { model, tokenizer } = await loadBase(ctx)
    // Tensor bytes a reused worker still held before this stage (normally 0): not this stage's cost.
    const leftover = tf.memory().numBytes - [...model.params.values()].reduce((n, v) => n + v.size * 4, 0)
    let adapter: Adapter | undefined
    try {
      adapter = await loadAdapter(adapterDir, model)
      const spec: DataSpec = { data: p.data, split_seed: p.split_seed, val_fraction: p.val_fraction, test_fraction: p.test_fraction, body_chars: p.body_chars }
      const task = await loadTaskData(ctx, spec)
      const seed = p.seed ?? adapter.settings.seed
      const batches = new CompletionBatches(task.train, tokenizer, trainSeq(p, model.config.blockSize), { batchSize: p.batch_size, seed, loss: p.loss, labels: task.labels })
      const lr = (p.lr ?? adapter.method.defaults.lr) * p.lr_scale
      const minLr = p.min_lr ?? lr / 10
      ctx.log(`${adapter.method.name}: ${task.train.length} training examples, ${p.steps} steps of ${p.batch_size}, lr ${lr}`)
      const result = await trainAdapter(model, adapter, batches, {
        steps: p.steps,
        schedule: { lr, minLr, warmup: p.warmup, total: p.steps },
        trainer: { weightDecay: p.weight_decay, gradClip: p.grad_clip, beta1: p.beta1, beta2: p.beta2, eps: p.eps, seed },
        checkpointDir: ctx.scratchDir,
        checkpointEvery: p.checkpoint_every,
        signal: ctx.signal,
        onStep: (m) => {
          ctx.metric(m.step, "loss", m.loss)
          ctx.metric(m.step, "lr", m.lr)
          ctx.metric(m.step, "grad_norm", m.gradNorm)
          ctx.metric(m.step, "tokens_per_s", m.tokensPerSec)
          ctx.progress({ step: m.step + 1, total: p.steps, tokensPerSec: m.tokensPerSec, message: `loss ${m.loss.toFixed(4)}` })
        },
      })
      if (result.resumedFrom !== null) ctx.log(`resumed from the checkpoint at step ${result.resumedFrom}`)
      await saveAdapter(ctx.outDir, adapter, model)
      await writeFile(join(ctx.outDir, TRAIN_META), JSON.stringify({ ...spec, data_digest: task.digest, ...optimizerRecord(p, lr, minLr, seed) }, null, 2) + "\n")
      await writeFile(join(ctx.outDir, LOSS_CURVE), JSON.stringify(result.losses) + "\n")
      await clearCheckpoint(ctx.scratchDir)
      return {
        summary: {
          ...settingsSummary(adapter),
          ...adapterCounts(adapter, model),
          ...optimizerRecord(p, lr, minLr, seed),
          train_time_s: result.trainTimeS,
          tokens_per_s: result.tokensPerSec,
          peak_tensor_bytes: result.peakTensorBytes - leftover,
          final_loss: result.finalLoss,
          resumed_from_step: result.resumedFrom ?? -1,
          train_examples: task.train.length,
        },
      }
    } finally {
      adapter?.dispose()
      disposeGPT(model)
    }
  })
