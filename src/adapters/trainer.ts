/**
 * One training step of an adapter, the same for every method: the loss (losses.ts) → gradients of
 * the trainable tensors → the method's gradient transform → clipping → AdamW (per-group lr)
 * wrapped in the method's post-step update. Used by the train stage and by the oracle tests.
 */
import * as tf from "@tensorflow/tfjs"
import { AdamW, type ParamGroup } from "../model/adamw.ts"
import { clipByGlobalNorm } from "../model/clip.ts"
import { param, type GPT } from "../model/arch/model.ts"
import { fineTuneLoss, type CompletionBatch, type TrainBatch } from "../model/losses.ts"
import type { Adapter } from "./adapter.ts"

/** A batch of B sequences of length T: inputs, next-token targets, and the loss mask (completion tokens). */
export type Batch = CompletionBatch

export interface TrainerOptions {
  readonly weightDecay: number
  /** Max global gradient norm; 0 turns clipping off. */
  readonly gradClip: number
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  /** Seeds the dropout masks: step t uses a pure function of (seed, t). */
  readonly seed: number
}

export class DivergedError extends Error {
  readonly stageReason = "Diverged" as const
  constructor(readonly step: number) {
    super(`diverged at step ${step}`)
  }
}

export interface StepResult {
  readonly loss: number
  /** Global norm of the (method-transformed) gradients before clipping. */
  readonly gradNorm: number
}

export class Trainer {
  readonly optimizer: AdamW
  private readonly vars: tf.Variable[]

  constructor(
    readonly model: GPT,
    readonly adapter: Adapter,
    readonly opts: TrainerOptions,
  ) {
    // The base is frozen (Delta-LoRA writes W, but never by gradient): marking it lets the
    // fast matmul cache Wᵀ, and keeps any varList-less gradient call off it.
    // Full fine-tuning trains base parameters by gradient (`trainsBase`): those alone are unfrozen.
    model.params.forEach((v) => (v.trainable = false))
    const trainedBase = (adapter.method.training?.trainsBase?.(adapter, model) ?? []).map((name) => param(model, name))
    trainedBase.forEach((v) => (v.trainable = true))
    this.vars = [...adapter.trainableVars(), ...trainedBase]
    const groups: ReadonlyArray<ParamGroup> = adapter.method.training?.paramGroups?.(adapter, opts.weightDecay) ?? [
      { name: "adapter", vars: this.vars, lrScale: 1, weightDecay: opts.weightDecay },
    ]
    this.optimizer = new AdamW(groups, { beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps })
  }

  /** Step `step` (0-based) at learning rate `lr`. Throws DivergedError on a NaN/inf loss or gradient. */
  step(batch: TrainBatch, lr: number, step: number): StepResult {
    const rule = this.adapter.method.training
    const hook = this.adapter.hook({ training: true, dropoutSeed: this.opts.seed * 1_000_003 + step }, this.model)
    const { value, grads } = tf.variableGrads(
      () => fineTuneLoss(this.model, hook, batch),
      this.vars,
    )
    const loss = value.dataSync()[0] ?? NaN
    value.dispose()
    let g = new Map<string, tf.Tensor>(Object.entries(grads))
    if (!Number.isFinite(loss)) {
      g.forEach((t) => t.dispose())
      throw new DivergedError(step)
    }
    g = rule?.transformGrads?.(this.adapter, g) ?? g
    const clipped = clipByGlobalNorm(g, this.opts.gradClip)
    if (!Number.isFinite(clipped.norm)) {
      clipped.grads.forEach((t) => t.dispose())
      throw new DivergedError(step)
    }
    const after = rule?.aroundStep?.(this.adapter, this.model, step) ?? null
    this.optimizer.step(clipped.grads, lr)
    after?.()
    clipped.grads.forEach((t) => t.dispose())
    return { loss, gradNorm: clipped.norm }
  }

  dispose(): void {
    this.optimizer.dispose()
  }
}
