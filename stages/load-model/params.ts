/** The params of the load-model stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Schema } from "effect"

export const LoadModelParams = Schema.Struct({
  /** The folder, relative to the pipeline file or absolute. */
  path: Schema.String.check(Schema.isMinLength(1)),
  /**
   * The longest sequence, in tokens, that train, eval and merge feed the model (longer prompts
   * lose their start). Llama family: at most max_position_embeddings; unset, the smaller of 512
   * and max_position_embeddings (a checkpoint made for 8k or 128k positions would otherwise size
   * every batch for them). GPT-2: its n_positions (learned position rows), the only value accepted.
   */
  block_size: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
})
export type LoadModelParams = typeof LoadModelParams.Type
