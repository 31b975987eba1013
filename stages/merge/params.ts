/** The params of the merge stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const MergeParams = Schema.Struct({
  /** Test examples in the verification batch. */
  verify_examples: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
  /** Relative tolerance: max|merged − adapter| ≤ tolerance·max|adapter logits|. */
  tolerance: Schema.Number.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-5))),
})
export type MergeParams = typeof MergeParams.Type
