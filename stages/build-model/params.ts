/** The params of the build-model stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

const withDefault = <S extends Schema.Top>(s: S, d: S["Type"]) => s.pipe(Schema.withDecodingDefaultKey(Effect.succeed(d)))
const positiveInt = (d: number) => withDefault(Schema.Int.check(Schema.isGreaterThan(0)), d)
const nonNegativeInt = (d: number) => withDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), d)
const nonNegative = (d: number) => withDefault(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), d)

export const BuildModelParams = Schema.Struct({
  n_layer: positiveInt(2), // transformer blocks
  n_head: positiveInt(4), // attention heads (n_embd must divide by it)
  n_embd: positiveInt(128), // residual width
  block_size: positiveInt(64), // context length in tokens
  tie: withDefault(Schema.Boolean, true), // output head = token embeddingᵀ
  steps: positiveInt(700),
  batch_size: positiveInt(16),
  lr: withDefault(Schema.Number.check(Schema.isGreaterThan(0)), 3e-3),
  min_lr: nonNegative(3e-4),
  warmup: nonNegativeInt(30),
  weight_decay: nonNegative(0.1),
  grad_clip: nonNegative(1), // 0 = off
  eval_every: nonNegativeInt(100), // 0 = only at the end
  eval_batches: positiveInt(8),
  log_every: positiveInt(5), // per-step metrics every N steps
  checkpoint_every: nonNegativeInt(100), // 0 = no checkpoints
  seed: withDefault(Schema.Int, 0),
}).check(
  // Checked at plan time (status), not minutes later in the worker.
  Schema.makeFilter((p: { readonly n_embd: number; readonly n_head: number }) =>
    p.n_embd % p.n_head === 0 ? undefined : { path: ["n_embd"], issue: `n_embd (${p.n_embd}) must be a multiple of n_head (${p.n_head})` },
  ),
)
export type BuildModelParams = typeof BuildModelParams.Type
