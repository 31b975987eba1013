/** The params of the select stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const SelectParams = Schema.Struct({
  /** A number in each candidate's summary (eval: accuracy, macro_f1, eval_loss). */
  metric: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("accuracy"))),
  goal: Schema.Literals(["max", "min"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("max" as const))),
  /**
   * What counts as a tie with the best (ties go to the smaller value): 0 = equal scores only; a
   * number = that far from the best; "1se" = one standard error of the best score as a
   * proportion over its candidate's `examples` (the one-standard-error rule; accuracy-like
   * metrics in [0, 1] only).
   */
  within: Schema.Union([Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), Schema.Literal("1se")]).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0 as number | "1se"))),
})
export type SelectParams = typeof SelectParams.Type
