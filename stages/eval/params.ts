/** The params of the eval stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const EvalParams = Schema.Struct({
  /** Which held-out split to score: `validation` for tuning, `test` for the reported results. */
  split: Schema.Literals(["validation", "test"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("test" as const))),
  batch_size: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(32))),
  /** Evaluate on the first N examples of the split only (0 = all), for quick pipelines. */
  max_examples: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
})
export type EvalParams = typeof EvalParams.Type
