/**
 * The fine-tuning losses. Both run the output head only on the positions that are read: a
 * completion is 1–3 tokens after a ~128-token prompt, and scoring every position and masking
 * (as pretraining must) computes logits nobody reads. In FLOPs the head (C × V = 128 × 1024
 * here) is ~40 % of the forward pass; on native it is one sgemm, and the step measured 13–17 %
 * cheaper (bench/finetune-loss.ts). What it buys most is the label loss, which reads ~4 rows
 * per example, at the old loss's cost.
 *
 * - completion loss: mean cross-entropy of the completion tokens over the whole vocabulary
 *   (the plain causal-LM objective, as PEFT's examples train).
 * - label-restricted loss (LM-BFF, Gao et al. 2021, §4: prompt-based fine-tuning): a softmax
 *   over the task's label completions only, each scored by its summed token log-probability,
 *   −log p(y | x) with p(y | x) = exp s_y / Σ_y' exp s_y'. The same score the evaluation's
 *   argmax reads, so training optimizes what is measured; no gradient goes to keeping the
 *   label words likelier than the other 1,022 tokens.
 */
import * as tf from "@tensorflow/tfjs"
import { hiddenStates, maskedCrossEntropy, outputLogits, type GPT, type ProjectionHook } from "./arch/model.ts"
import { disposePacked, type PackedBatch } from "./data/packing.ts"

/** Inputs, next-token targets and the loss mask (1 on completion tokens), all (B, T). */
export interface CompletionBatch {
  readonly idx: tf.Tensor2D // (B, T) int32
  readonly targets: tf.Tensor2D // (B, T) int32
  readonly mask: tf.Tensor2D // (B, T) float32
}

/** Every label packed after each prompt (packing.ts) and the index of the true one. */
export interface LabelBatch {
  readonly kind: "labels"
  readonly packed: PackedBatch
  readonly truth: tf.Tensor1D // (B,) int32, index into the L labels
}

export type TrainBatch = CompletionBatch | LabelBatch

export const isLabelBatch = (b: TrainBatch): b is LabelBatch => "kind" in b && b.kind === "labels"

export const disposeTrainBatch = (b: TrainBatch): void => {
  if (isLabelBatch(b)) {
    disposePacked(b.packed)
    b.truth.dispose()
  } else tf.dispose([b.idx, b.targets, b.mask])
}

/** Tokens the model reads in one batch (throughput counts these). */
export const batchTokens = (b: TrainBatch): number => (isLabelBatch(b) ? b.packed.idx.size : b.idx.size)

/** log p of every read token of a packed batch: (K,). */
export const packedLogProbs = (model: GPT, hook: ProjectionHook | undefined, p: PackedBatch): tf.Tensor1D => {
  const h = hiddenStates(model, p.idx, hook, { positions: p.positions, allowed: p.allowed }) // (B·T, C)
  const logp = tf.logSoftmax(outputLogits(model, tf.gather(h, p.at) as tf.Tensor2D)) // (K, V)
  return tf.sum(tf.mul(logp, tf.oneHot(p.tokens, model.config.vocabSize)), -1) as tf.Tensor1D // (K,)
}

/** Mean cross-entropy of the masked positions, the head run on those rows only. */
export const completionLoss = (model: GPT, hook: ProjectionHook | undefined, b: CompletionBatch): tf.Scalar => {
  const [B, T] = b.idx.shape
  const m = b.mask.dataSync()
  const rows: number[] = []
  for (let i = 0; i < m.length; i++) if ((m[i] ?? 0) !== 0) rows.push(i)
  return tf.tidy(() => {
    const at = tf.tensor1d(rows, "int32") // (K,)
    const K = rows.length
    const h = tf.gather(hiddenStates(model, b.idx, hook), at) as tf.Tensor2D // (B·T, C) → (K, C)
    const logits = tf.reshape(outputLogits(model, h), [1, K, model.config.vocabSize]) as tf.Tensor3D
    const pick = (t: tf.Tensor2D) => tf.reshape(tf.gather(tf.reshape(t, [B * T]), at), [1, K]) as tf.Tensor2D
    return maskedCrossEntropy(logits, pick(b.targets), pick(b.mask))
  })
}

/** −mean_b log softmax_y(s_{b,y})[truth_b], s_{b,y} = Σ log p over label y's tokens. */
export const labelLoss = (model: GPT, hook: ProjectionHook | undefined, b: LabelBatch): tf.Scalar =>
  tf.tidy(() => {
    const { B, L } = b.packed
    const s = tf.reshape(tf.unsortedSegmentSum(packedLogProbs(model, hook, b.packed), b.packed.segments, B * L), [B, L]) // (B, L)
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(s), tf.oneHot(b.truth, L)), -1))) as tf.Scalar
  })

export const fineTuneLoss = (model: GPT, hook: ProjectionHook | undefined, b: TrainBatch): tf.Scalar =>
  isLabelBatch(b) ? labelLoss(model, hook, b) : completionLoss(model, hook, b)
