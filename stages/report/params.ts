/** The params of the report stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const ReportParams = Schema.Struct({
  /** The method every other is paired with (paired t-test). */
  baseline: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("lora"))),
  /** The caption of the tables and the plot (e.g. the pipeline's name). */
  title: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("comparison"))),
  /** Also render curves.png (needs resvg); the SVG is always written. */
  png: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
})
export type ReportParams = typeof ReportParams.Type
