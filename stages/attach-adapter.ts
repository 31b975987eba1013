/**
 * attach-adapter: base model + method params + seed → an initialized adapter
 * (adapter_model.safetensors + adapter_config.json, PEFT names), with its parameter counts.
 * Unset rank/alpha/dropout and method options take the method's documented defaults
 * (src/adapters/<method>.ts); the resolved values are written to adapter_config.json.
 */
import { Effect, Schema } from "effect"
import { defineStage } from "../src/engine/stage.ts"

/** = PROJ_NAMES of src/model/gpt.ts, repeated so this file does not load tfjs. */
export const TARGET_NAMES = ["q", "k", "v", "o", "mlp_up", "mlp_down"] as const

const positive = Schema.Number.check(Schema.isGreaterThan(0))

export const AttachParams = Schema.Struct({
  method: Schema.String, // a name from src/adapters/index.ts: lora, lora-fa, vera, delta-lora, lora-plus, full
  rank: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  alpha: Schema.optionalKey(positive),
  targets: Schema.Array(Schema.Literals(TARGET_NAMES)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(["q", "v"] as const))),
  dropout: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1))),
  seed: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  // Method options: each method reads its own and ignores the others (so one params block
  // can serve a matrix over methods).
  vera_d_init: Schema.optionalKey(Schema.Number),
  vera_projection_seed: Schema.optionalKey(Schema.Int),
  delta_lambda: Schema.optionalKey(Schema.Number),
  delta_k: Schema.optionalKey(Schema.Int),
  loraplus_ratio: Schema.optionalKey(positive),
  lorafa_projection: Schema.optionalKey(Schema.Boolean),
})
export type AttachParams = typeof AttachParams.Type

export default defineStage<AttachParams>({
  kind: "attach-adapter",
  version: 1,
  description: "Initialize a PEFT adapter (LoRA, LoRA-FA, VeRA, Delta-LoRA, LoRA+) for a base model",
  module: import.meta.url,
  params: AttachParams,
  inputs: { model: { description: "the base model", kinds: ["build-model", "load-model"] } },
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("../src/adapters/jobs/attach.ts")), (job) => job.attach(ctx)),
})
