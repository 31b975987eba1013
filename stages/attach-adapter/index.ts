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
import { Effect } from "effect"
import { allOptions, METHOD_REGISTRIES, methodModules, methodOptions } from "../../src/adapters/specs/index.ts"
import { defineStage } from "../../src/contracts/stage.ts"
import { AttachParams } from "./params.ts"

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
  // What train's plan-time memory estimate needs (src/adapters/specs/footprint.ts, AdapterFacts).
  facts: (p) => ({ method: p.method, rank: p.rank, targets: p.targets, dropout: p.dropout }),
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.attach(ctx)),
})
