/**
 * merge: W' = W + ΔW per the method (Delta-LoRA: its trained W_T + s·A_T·B_T), written as a
 * full model artifact; verifies merged logits against adapter logits on an eval batch and
 * fails above its `tolerance`: max|Δ| ≤ 1e-4·max|y| by default (docs/METHODS.md oracle 2 holds
 * the tests' tiny model to 1e-5; params.ts says why trained adapters need 1e-4).
 */
import { Effect } from "effect"
import { METHOD_REGISTRIES } from "../../src/adapters/specs/index.ts"
import { defineStage } from "../../src/contracts/stage.ts"
import { MergeParams } from "./params.ts"

export default defineStage<MergeParams>({
  kind: "merge",
  version: 1,
  description: "Merge a trained adapter into the base weights and verify the logits",
  module: import.meta.url,
  params: MergeParams,
  inputs: {
    model: { description: "the base model", kinds: ["build-model", "load-model"] },
    adapter: { description: "the trained adapter", kinds: ["train"] },
  },
  // Depends on its adapter's method's files (inherited from attach-adapter), not on every method.
  code: { cut: METHOD_REGISTRIES },
  packages: ["tensors", "task-data"],
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.merge(ctx)),
})
