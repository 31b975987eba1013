/**
 * Pretraining loop: next-token cross-entropy on random windows of the token array, AdamW
 * (decoupled decay on matrices only, as nanoGPT), warmup + cosine, global-norm clipping,
 * periodic validation and step checkpoints.
 *
 * Resume is exact: the batch at step t depends only on (seed, t), the schedule only on t, and
 * a checkpoint holds every weight and both Adam moments bit for bit.
 */
import * as tf from "@tensorflow/tfjs"
import { AdamW, type ParamGroup } from "./adamw.ts"
import { clipByGlobalNorm } from "./clip.ts"
import { forward, maskedCrossEntropy, type GPT } from "./arch/model.ts"
import { readCheckpoint, writeCheckpoint } from "./checkpoint.ts"
import { lrAt } from "./schedule.ts"
import { batchOffsets, evalOffsets, windows } from "./data/token-data.ts"

export interface PretrainOptions {
  readonly steps: number
  readonly batchSize: number
  readonly lr: number
  readonly minLr: number
  readonly warmup: number
  readonly weightDecay: number
  readonly gradClip: number // 0 = off
  readonly evalEvery: number // 0 = only at the end
  readonly evalBatches: number
  readonly checkpointEvery: number // 0 = never
  readonly seed: number
}

export interface StepReport {
  readonly step: number // 1-based count of completed steps
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokensPerSec: number
}

export interface PretrainHooks {
  readonly onStep?: (r: StepReport) => void
  readonly onEval?: (step: number, valLoss: number) => void
  /** Checked between steps; true stops with `Interrupted`. */
  readonly aborted?: () => boolean
  /** Where step checkpoints go (and are resumed from); none when absent. */
  readonly checkpointDir?: string
  /** Stop (as if killed) after this many steps: lets tests interrupt at an exact step. */
  readonly stopAfter?: number
}

export interface PretrainResult {
  readonly trainLoss: number
  readonly valLoss: number
  readonly resumedFrom: number
  readonly tokensPerSec: number
  readonly seconds: number
}

export class Diverged extends Error {
  readonly stageReason = "Diverged" as const
  constructor(readonly step: number) {
    super(`diverged at step ${step}`)
  }
}

export class Interrupted extends Error {
  readonly stageReason = "Interrupted" as const
  constructor(readonly step: number) {
    super(`interrupted at step ${step}`)
  }
}

/** nanoGPT's groups: matrices (kernels, embeddings) decay; biases and LayerNorm do not. */
export const paramGroups = (model: GPT, weightDecay: number): ParamGroup[] => {
  const vars = [...model.params.values()]
  return [
    { name: "decay", vars: vars.filter((v) => v.rank >= 2), lrScale: 1, weightDecay },
    { name: "no_decay", vars: vars.filter((v) => v.rank < 2), lrScale: 1, weightDecay: 0 },
  ]
}

/** Mean loss over the fixed validation windows (no gradients). */
export const evaluate = (model: GPT, val: Uint16Array, opts: { batchSize: number; batches: number }): number => {
  const T = model.config.blockSize
  const offsets = evalOffsets(val.length, opts.batchSize * opts.batches, T)
  let sum = 0
  let n = 0
  for (let i = 0; i < offsets.length; i += opts.batchSize) {
    const chunk = offsets.slice(i, i + opts.batchSize)
    const loss = tf.tidy(() => {
      const { idx, targets } = windows(val, chunk, T)
      return maskedCrossEntropy(forward(model, idx), targets)
    })
    sum += (loss.dataSync()[0] ?? NaN) * chunk.length
    n += chunk.length
    loss.dispose()
  }
  return sum / n
}

/** Trains `model` in place from its current weights (or the last checkpoint) to `opts.steps`. */
export const pretrain = async (model: GPT, data: { train: Uint16Array; val: Uint16Array }, opts: PretrainOptions, hooks: PretrainHooks = {}): Promise<PretrainResult> => {
  const T = model.config.blockSize
  const vars = [...model.params.values()]
  vars.forEach((v) => (v.trainable = true))
  const optimizer = new AdamW(paramGroups(model, opts.weightDecay))
  const started = performance.now()
  try {
    const resumedFrom = hooks.checkpointDir === undefined ? 0 : restore(hooks.checkpointDir, model, optimizer)
    const schedule = { lr: opts.lr, minLr: opts.minLr, warmup: opts.warmup, total: opts.steps }
    const meter = throughput(opts.batchSize * T)
    let trainLoss = NaN
    for (let step = resumedFrom; step < opts.steps; step++) {
      if (hooks.aborted?.() === true || (hooks.stopAfter !== undefined && step >= hooks.stopAfter)) throw new Interrupted(step)
      const lr = lrAt(step, schedule)
      const { loss, gradNorm } = trainStep(model, optimizer, { vars, lr, clip: opts.gradClip, step }, () =>
        windows(data.train, batchOffsets(data.train.length, { seed: opts.seed, step, B: opts.batchSize, T }), T),
      )
      trainLoss = loss
      hooks.onStep?.({ step: step + 1, loss, lr, gradNorm, tokensPerSec: meter.tick() })
      afterStep(step + 1, { model, optimizer, data, opts, hooks })
      // Let signals and IPC (progress events, Ctrl-C) through between steps.
      await new Promise((r) => setImmediate(r))
    }
    const valLoss = evaluate(model, data.val, { batchSize: opts.batchSize, batches: opts.evalBatches })
    hooks.onEval?.(opts.steps, valLoss)
    return { trainLoss, valLoss, resumedFrom, tokensPerSec: meter.rate(), seconds: (performance.now() - started) / 1000 }
  } finally {
    optimizer.dispose()
  }
}

/** Tokens/s over a window of recent steps (restarted every ~5 s so it follows changes). */
const throughput = (tokensPerStep: number) => {
  let start = performance.now()
  let steps = 0
  let rate = 0
  return {
    tick: (): number => {
      steps++
      const elapsed = (performance.now() - start) / 1000
      rate = (steps * tokensPerStep) / Math.max(elapsed, 1e-9)
      if (elapsed > 5) [start, steps] = [performance.now(), 0]
      return rate
    },
    rate: (): number => rate,
  }
}

interface LoopState {
  readonly model: GPT
  readonly optimizer: AdamW
  readonly data: { train: Uint16Array; val: Uint16Array }
  readonly opts: PretrainOptions
  readonly hooks: PretrainHooks
}

/** Periodic validation and checkpoints after `done` steps (the final ones are the caller's). */
const afterStep = (done: number, s: LoopState): void => {
  const { opts, hooks } = s
  if (done >= opts.steps) return
  if (opts.evalEvery > 0 && done % opts.evalEvery === 0) {
    hooks.onEval?.(done, evaluate(s.model, s.data.val, { batchSize: opts.batchSize, batches: opts.evalBatches }))
  }
  if (hooks.checkpointDir !== undefined && opts.checkpointEvery > 0 && done % opts.checkpointEvery === 0) {
    checkpoint(hooks.checkpointDir, s.model, s.optimizer, done)
  }
}

interface StepArgs {
  readonly vars: tf.Variable[]
  readonly lr: number
  readonly clip: number
  readonly step: number
}

const trainStep = (model: GPT, optimizer: AdamW, a: StepArgs, batch: () => { idx: tf.Tensor2D; targets: tf.Tensor2D }): { loss: number; gradNorm: number } => {
  const { idx, targets } = batch()
  try {
    const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), targets), a.vars)
    const loss = value.dataSync()[0] ?? NaN
    value.dispose()
    const clipped = clipByGlobalNorm(new Map(Object.entries(grads)), a.clip)
    try {
      if (!Number.isFinite(loss) || !Number.isFinite(clipped.norm)) throw new Diverged(a.step + 1)
      optimizer.step(clipped.grads, a.lr)
    } finally {
      clipped.grads.forEach((g) => g.dispose())
    }
    return { loss, gradNorm: clipped.norm }
  } finally {
    tf.dispose([idx, targets])
  }
}

// ---------------------------------------------------------------------------------------------
// Step checkpoints (checkpoint.ts): every weight and both Adam moments, with the step, in one
// file renamed into place.

const CKPT = "pretrain.safetensors"

const checkpoint = (dir: string, model: GPT, optimizer: AdamW, step: number): void =>
  writeCheckpoint(
    dir,
    CKPT,
    [...[...model.params].map(([name, v]): [string, tf.Tensor] => [`model/${name}`, v]), ...[...optimizer.stateTensors()].map(([k, t]): [string, tf.Tensor] => [`opt/${k}`, t])],
    { step, optimizerStep: optimizer.stepCount },
  )

/** Loads the last checkpoint into `model` and `optimizer`; returns its step (0 when none). */
const restore = (dir: string, model: GPT, optimizer: AdamW): number => {
  const saved = readCheckpoint<{ step: number; optimizerStep: number }>(dir, CKPT)
  if (saved === null) return 0
  const { tensors, progress: meta } = saved
  const opt = new Map<string, tf.Tensor>()
  try {
    for (const [name, t] of tensors) {
      const value = tf.tensor(t.data, [...t.shape], "float32")
      if (name.startsWith("opt/")) {
        opt.set(name.slice(4), value)
        continue
      }
      const v = model.params.get(name.slice("model/".length))
      if (v === undefined) throw new Error(`checkpoint tensor ${name} is not a parameter of this model`)
      v.assign(value)
      value.dispose()
    }
    optimizer.loadState(opt, meta.optimizerStep)
  } finally {
    opt.forEach((t) => t.dispose())
  }
  return meta.step
}
