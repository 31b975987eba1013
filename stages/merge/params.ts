/** The params of the merge stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

export const MergeParams = Schema.Struct({
  /** Test examples in the verification batch. */
  verify_examples: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(8))),
  /**
   * Relative tolerance: max|merged − adapter| ≤ tolerance·max|adapter logits|. 1e-4: float32
   * rounding alone reached 1.2e-5 (VeRA, lr 0.09) and 1.45e-5 (Delta-LoRA) of max|y| ≈ 10–14 on
   * the default ablation's trained adapters (sums over 512 terms, two layers); a wrong merge
   * (a missing scale, a transposed ΔW) is off by the adapter's whole effect, units of a logit.
   */
  tolerance: Schema.Number.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(1e-4))),
})
export type MergeParams = typeof MergeParams.Type
