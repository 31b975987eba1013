/**
 * eval: the trained adapter on a held-out split of the data train used — `split: test` (the
 * default; only these results reach the comparison) or `split: validation` (for tuning with
 * `select`, so no hyperparameter is chosen on test data): completion
 * loss and perplexity, accuracy (argmax over the labels of the completion's log-probability),
 * macro-F1 and confusion counts; the base model without adapter (zero-shot) and the
 * majority-class baseline for reference.
 */
import { Effect } from "effect"
import { METHOD_REGISTRIES } from "../../src/adapters/specs/index.ts"
import { defineStage } from "../../src/contracts/stage.ts"
import { EvalParams } from "./params.ts"

export default defineStage<EvalParams>({
  kind: "eval",
  version: 2,
  description: "Evaluate a trained adapter on the validation or test split, with zero-shot and majority baselines",
  module: import.meta.url,
  params: EvalParams,
  inputs: {
    model: { description: "the base model", kinds: ["build-model", "load-model"] },
    adapter: { description: "the trained adapter", kinds: ["train"] },
  },
  // Depends on its adapter's method's files (inherited from attach-adapter), not on every method.
  code: { cut: METHOD_REGISTRIES },
  packages: ["tensors", "task-data"],
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.evalStage(ctx)),
})
