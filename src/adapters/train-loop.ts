/**
 * The training loop around `Trainer`: schedule, step checkpoints, resume, metrics.
 *
 * A run resumed from a checkpoint ends bit-identical to an uninterrupted one on the same
 * backend, because everything a step reads is either restored (adapter tensors, AdamW
 * moments and step count, base tensors the method writes) or a pure function of the step
 * (the batch, the dropout masks, the learning rate).
 */
import * as tf from "@tensorflow/tfjs"
import { param, type GPT } from "../model/arch/model.ts"
import { batchTokens, disposeTrainBatch, type TrainBatch } from "../model/losses.ts"
import { lrAt, type Schedule } from "../model/schedule.ts"
import { readCheckpoint, removeCheckpoint, writeCheckpoint } from "../model/checkpoint.ts"
import type { Adapter } from "./adapter.ts"
import { assignBase } from "./base-writes.ts"
import { Trainer, type TrainerOptions } from "./trainer.ts"

export interface StepMetrics {
  readonly step: number // 0-based index of the step just taken
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokensPerSec: number
}

export interface TrainLoopOptions {
  readonly steps: number
  readonly schedule: Schedule
  readonly trainer: TrainerOptions
  /** Folder for the step checkpoint (the stage's scratchDir); none → no checkpoints. */
  readonly checkpointDir?: string
  readonly checkpointEvery: number
  readonly signal?: AbortSignal
  readonly onStep?: (m: StepMetrics) => void
  /** Test hook: stop (as if killed) after this many steps in this process. */
  readonly stopAfter?: number
}

export interface TrainResult {
  /** Mean loss of the last min(10, steps) steps (one step's loss is too noisy to compare). */
  readonly finalLoss: number
  readonly trainTimeS: number
  readonly tokensPerSec: number
  /**
   * Peak bytes held in tensors (tf.memory().numBytes, engine-wide) during the run's first
   * training step (step 0), measured with tf.profile: weights, adapter, optimizer state,
   * activations and gradients. Step 0, not the process's first step: batches are padded to
   * their longest example, so steps differ a little, and a resumed run must report what an
   * uninterrupted one does (the value travels in the checkpoint). The caller subtracts what was
   * live before the stage began.
   */
  readonly peakTensorBytes: number
  readonly resumedFrom: number | null
  readonly completed: boolean
  /** The loss of every step from 0 (carried through checkpoints), for the training curve. */
  readonly losses: ReadonlyArray<number>
}

interface Progress {
  step: number
  timeS: number
  tokens: number
  recent: number[]
  losses: number[]
  /** Of step 0 (see TrainResult.peakTensorBytes); null until it ran. */
  peakTensorBytes: number | null
}

export class Interrupted extends Error {
  readonly stageReason = "Interrupted" as const
}

const LAST = 10

export const trainAdapter = async (model: GPT, adapter: Adapter, batches: { at(step: number): TrainBatch }, o: TrainLoopOptions): Promise<TrainResult> => {
  const trainer = new Trainer(model, adapter, o.trainer)
  try {
    const restored = o.checkpointDir === undefined ? null : restore(o.checkpointDir, trainer)
    const resumedFrom = restored?.step ?? null
    const p: Progress = restored ?? { step: 0, timeS: 0, tokens: 0, recent: [], losses: [], peakTensorBytes: null }
    let done = 0
    while (p.step < o.steps) {
      if (o.signal?.aborted === true) throw new Interrupted("interrupted")
      if (o.stopAfter !== undefined && done >= o.stopAfter) break
      const lr = lrAt(p.step, o.schedule)
      const batch = batches.at(p.step)
      const t0 = performance.now()
      const step = () => {
        try {
          return trainer.step(batch, lr, p.step)
        } finally {
          disposeTrainBatch(batch)
        }
      }
      // Step 0 runs under tf.profile (same kernels, same numbers) for its peak.
      let r: ReturnType<typeof step> | undefined
      if (p.step === 0) {
        const profile = await tf.profile(() => {
          r = step()
        })
        p.peakTensorBytes = profile.peakBytes
      } else r = step()
      if (r === undefined) throw new Error("unreachable: the step ran")
      const dt = (performance.now() - t0) / 1000
      const tokens = batchTokens(batch)
      p.timeS += dt
      p.tokens += tokens
      p.recent = [...p.recent, r.loss].slice(-LAST)
      p.losses.push(r.loss)
      o.onStep?.({ step: p.step, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec: tokens / dt })
      p.step += 1
      done += 1
      if (o.checkpointDir !== undefined && o.checkpointEvery > 0 && p.step % o.checkpointEvery === 0 && p.step < o.steps)
        checkpoint(o.checkpointDir, trainer, p)
      await new Promise((resolve) => setImmediate(resolve)) // let Ctrl-C / IPC in
    }
    return {
      finalLoss: p.recent.reduce((a, b) => a + b, 0) / Math.max(1, p.recent.length),
      trainTimeS: p.timeS,
      tokensPerSec: p.tokens / Math.max(p.timeS, 1e-9),
      peakTensorBytes: p.peakTensorBytes ?? 0,
      resumedFrom,
      completed: p.step >= o.steps,
      losses: p.losses,
    }
  } finally {
    trainer.dispose()
  }
}

const CKPT = "checkpoint.safetensors"

/** Adapter tensors, optimizer moments and written base tensors, with the progress (checkpoint.ts). */
const checkpoint = (dir: string, tr: Trainer, p: Progress): void => {
  const base = tr.adapter.method.training?.modifiedBase?.(tr.adapter, tr.model) ?? []
  writeCheckpoint(
    dir,
    CKPT,
    [
      ...[...tr.adapter.tensors].map(([k, t]): [string, tf.Tensor] => [`adapter/${k}`, t.variable]),
      ...[...tr.optimizer.stateTensors()].map(([k, t]): [string, tf.Tensor] => [`opt/${k}`, t]),
      ...base.map((k): [string, tf.Tensor] => [`base/${k}`, param(tr.model, k)]),
    ],
    { ...p, optimizerStep: tr.optimizer.stepCount },
  )
}

const restore = (dir: string, tr: Trainer): Progress | null => {
  const saved = readCheckpoint<Progress & { optimizerStep: number }>(dir, CKPT)
  if (saved === null) return null
  const { tensors, progress: meta } = saved
  const opt = new Map<string, tf.Tensor>()
  for (const [name, t] of tensors) {
    const v = tf.tensor(t.data, [...t.shape], "float32")
    const [kind, key] = [name.slice(0, name.indexOf("/")), name.slice(name.indexOf("/") + 1)]
    if (kind === "opt") {
      opt.set(key, v)
      continue
    }
    if (kind === "adapter") (tr.adapter.tensors.get(key)?.variable ?? missing(name)).assign(v)
    else assignBase(tr.model, key, v)
    v.dispose()
  }
  tr.optimizer.loadState(opt, meta.optimizerStep)
  opt.forEach((t) => t.dispose())
  return { step: meta.step, timeS: meta.timeS, tokens: meta.tokens, recent: meta.recent, losses: meta.losses ?? [], peakTensorBytes: meta.peakTensorBytes ?? null }
}

const missing = (name: string): never => {
  throw new Error(`checkpoint tensor ${name} does not belong to this adapter`)
}

/** Removes a checkpoint (after the artifact is written; the engine also deletes scratchDir on commit). */
export const clearCheckpoint = async (dir: string): Promise<void> => removeCheckpoint(dir, CKPT)
