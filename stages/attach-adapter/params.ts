/** The params of the attach-adapter stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"
import type { OptionValue } from "../../src/adapters/method-spec.ts"
import { allOptions, unknownMethod } from "../../src/adapters/specs/index.ts"

/**
 * The projections a pipeline may target, by peftlab's names (PROJ_NAMES of src/model/arch/config.ts)
 * or transformers' (q_proj … down_proj, as PEFT's target_modules spell them); mlp_gate / gate_proj
 * exists in the Llama family only. Repeated so this file does not load tfjs.
 */
export const TARGET_NAMES = ["q", "k", "v", "o", "mlp_up", "mlp_down", "mlp_gate", "q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj"] as const

const positive = Schema.Number.check(Schema.isGreaterThan(0))

const methodName = Schema.String.check(Schema.makeFilter((name: string) => unknownMethod(name)))

/** Every method's options, each optional with its own schema. A method reads its own and ignores the others (so one params block can serve a matrix over methods). */
const optionFields = Object.fromEntries(allOptions().map(([key, option]) => [key, Schema.optionalKey(option.schema as Schema.Codec<OptionValue>)]))

const AttachSchema = Schema.Struct({
  method: methodName,
  rank: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  alpha: Schema.optionalKey(positive),
  targets: Schema.Array(Schema.Literals(TARGET_NAMES)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(["q", "v"] as const))),
  dropout: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1))),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  ...optionFields,
}).check(Schema.makeFilter((p: { readonly targets: ReadonlyArray<string> }) => (p.targets.length === 0 ? { path: ["targets"], issue: "targets is empty: adapt at least one projection" } : undefined)))

export type AttachParams = {
  readonly method: string
  readonly rank?: number
  readonly alpha?: number
  readonly targets: ReadonlyArray<(typeof TARGET_NAMES)[number]>
  readonly dropout?: number
  readonly seed: number
} & { readonly [option: string]: unknown }
export const AttachParams = AttachSchema as unknown as Schema.Decoder<AttachParams>
