/**
 * attach-adapter: base model + method params + seed → an initialized adapter
 * (adapter_model.safetensors + adapter_config.json, PEFT names), with its parameter counts.
 * Unset rank/alpha/dropout and method options take the method's documented defaults
 * (src/adapters/specs/<method>.ts); the resolved values are written to adapter_config.json.
 *
 * The method and its options are checked at plan time against the tfjs-free method specs:
 * `method` must name one (with a did-you-mean), each option key is a field built from the
 * spec that declares it, with its schema. Nothing here lists a method or an option by hand.
 */
import { Effect, Schema } from "effect"
import type { OptionValue } from "../src/adapters/method-spec.ts"
import { allOptions, METHOD_REGISTRIES, methodModules, methodOptions, unknownMethod } from "../src/adapters/specs/index.ts"
import { defineStage } from "../src/contracts/stage.ts"

/** = PROJ_NAMES of src/model/gpt.ts, repeated so this file does not load tfjs. */
export const TARGET_NAMES = ["q", "k", "v", "o", "mlp_up", "mlp_down"] as const

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

const OPTION_KEYS = new Set(allOptions().map(([key]) => key))

export default defineStage<AttachParams>({
  kind: "attach-adapter",
  version: 1,
  description: "Initialize a PEFT adapter (LoRA, LoRA-FA, VeRA, Delta-LoRA, LoRA+) for a base model",
  module: import.meta.url,
  params: AttachParams,
  inputs: { model: { description: "the base model", kinds: ["build-model", "load-model"] } },
  code: { cut: METHOD_REGISTRIES, extra: (p) => methodModules(p.method) },
  // Another method's options do not change this instance: they stay out of its fingerprint.
  fingerprintParams: (p) => ({ ...Object.fromEntries(Object.entries(p).filter(([k]) => !OPTION_KEYS.has(k))), ...methodOptions(p.method, p) }),
  packages: ["tensors"],
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("../src/adapters/jobs/attach.ts")), (job) => job.attach(ctx)),
})
