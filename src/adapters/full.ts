/**
 * Full fine-tuning: the reference every PEFT paper compares against. Every weight of the model
 * (embeddings, attention and MLP kernels and biases, layer norms, the head when untied) gets
 * gradients and AdamW state; there are no adapter tensors. Behind the same contract:
 * - init: nothing (no adapter tensors, no targets), so the model at init is the base model
 *   bit-exactly and there is no random choice to seed (data order and dropout still follow it);
 * - training rule: `trainsBase` = every parameter, `modifiedBase` = every parameter, so the
 *   trained artifact holds all weights (and checkpoints resume them with their moments);
 * - merge = the trained weights (ΔW is never asked for: no targets);
 * - counts: the trainable parameters are the model's, added by the caller that has the model
 *   (`adapterCounts`): trainable_params = every parameter, frozen_params = 0.
 * Weight decay applies to every parameter (one AdamW group), as the trainer does for adapters.
 * Default lr 3e-4 (a common full fine-tuning rate for small transformers; tune it with `select`).
 */
import type { Method } from "./method.ts"
import { fullSpec } from "./specs/full.ts"

export const full: Method = {
  ...fullSpec,
  // No adapter: rank/alpha/targets mean nothing here; record them as such.
  normalize: (s) => ({ ...s, rank: 0, alpha: 0, dropout: 0, targets: [] }),
  counts: () => ({ trainable: 0, frozenAdapter: 0 }),
  init: () => [],
  forward: () => {
    throw new Error("full fine-tuning has no adapter forward (it has no targets)")
  },
  delta: () => {
    throw new Error("full fine-tuning has no ΔW: merge takes the trained weights")
  },
  training: {
    trainsBase: (_a, model) => [...model.params.keys()],
    modifiedBase: (_a, model) => [...model.params.keys()],
  },
}
