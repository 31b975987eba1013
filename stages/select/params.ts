/** The params of the select stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const SelectParams = Schema.Struct({
  /** A number in each candidate's summary (eval: accuracy, macro_f1, eval_loss). */
  metric: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("accuracy"))),
  goal: Schema.Literals(["max", "min"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("max" as const))),
})
export type SelectParams = typeof SelectParams.Type
