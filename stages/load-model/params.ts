/** The params of the load-model stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Schema } from "effect"

export const LoadModelParams = Schema.Struct({
  /** The folder, relative to the pipeline file or absolute. */
  path: Schema.String.check(Schema.isMinLength(1)),
})
export type LoadModelParams = typeof LoadModelParams.Type
