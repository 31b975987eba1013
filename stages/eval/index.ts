/**
 * eval: the trained adapter on a held-out split of the data train used — `split: test` (the
 * default; only these results reach the comparison) or `split: validation` (for tuning with
 * `select`, so no hyperparameter is chosen on test data): completion
 * loss and perplexity, accuracy (argmax over the labels of the completion's log-probability),
 * macro-F1 and confusion counts; the base model without adapter (zero-shot) and the
 * majority-class baseline for reference.
 */
import { Effect, Schema } from "effect"
import { METHOD_REGISTRIES } from "../src/adapters/specs/index.ts"
import { defineStage } from "../src/contracts/stage.ts"

export const EvalParams = Schema.Struct({
  /** Which held-out split to score: `validation` for tuning, `test` for the reported results. */
  split: Schema.Literals(["validation", "test"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("test" as const))),
  batch_size: Schema.Int.check(Schema.isGreaterThan(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(32))),
  /** Evaluate on the first N examples of the split only (0 = all), for quick pipelines. */
  max_examples: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
})
export type EvalParams = typeof EvalParams.Type

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
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("../src/adapters/jobs/eval.ts")), (job) => job.evalStage(ctx)),
})
