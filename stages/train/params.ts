/** The params of the train stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

const int = (d: number) => Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(d)))
const num = (d: number) => Schema.Number.pipe(Schema.withDecodingDefaultKey(Effect.succeed(d)))
const fraction = (d: number) =>
  Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(d)))

export const TrainParams = Schema.Struct({
  data: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("spam-assassin"))), // or a JSONL path
  split_seed: int(0),
  val_fraction: fraction(0.1),
  test_fraction: fraction(0.2),
  /** SpamAssassin: characters of body text after the subject. Keep subject + body within the
   * model's block size, or left-truncation cuts the subject off. */
  body_chars: int(600),
  steps: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(300))),
  batch_size: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
  lr: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThan(0))), // unset: the method's default
  /** Multiplies lr (or the method's default): a grid of scales is a per-method learning-rate grid
   * centred on each method's documented default, which `select` can choose from. */
  lr_scale: Schema.Number.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1))),
  min_lr: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))), // unset: lr / 10 (after lr_scale)
  warmup: int(20),
  weight_decay: num(0.01),
  grad_clip: num(1), // 0 = off
  beta1: num(0.9),
  beta2: num(0.999),
  eps: num(1e-8), // PyTorch's default; tfjs Adam's is 1e-7
  /** Data order and dropout masks; unset: the adapter's seed (attach-adapter's `seed`), so one
   * seed per cell drives all of its randomness. */
  seed: Schema.optionalKey(Schema.Int),
  checkpoint_every: int(50),
  /** Tokens per training sequence at most (prompt cut from the left, as at blockSize); unset: the
   * model's blockSize. A checkpoint's max_position_embeddings (8,192 for SmolLM2) is rarely what a
   * task needs, and memory grows with it (attention: T² per head; `peftlab status` estimates it). */
  max_length: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  /** completion: cross-entropy of the completion tokens over the whole vocabulary. labels: a
   * softmax over the task's label completions only (LM-BFF's prompt-based fine-tuning), the
   * score the evaluation's argmax reads; needs a task with a label set (src/model/losses.ts). */
  loss: Schema.Literals(["completion", "labels"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("completion" as const))),
}).check(
  Schema.makeFilter((p: { readonly val_fraction: number; readonly test_fraction: number }) =>
    p.val_fraction + p.test_fraction < 1
      ? undefined
      : { path: ["test_fraction"], issue: `val_fraction + test_fraction must be below 1 (got ${p.val_fraction} + ${p.test_fraction}): nothing is left to train on` },
  ),
)
export type TrainParams = typeof TrainParams.Type

/** Tokens per training sequence at most: `max_length`, capped at the model's blockSize. */
export const trainSeq = (p: Pick<TrainParams, "max_length">, blockSize: number): number => Math.min(p.max_length ?? blockSize, blockSize)
