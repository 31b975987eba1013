/**
 * select: per instance of this stage (e.g. per method), collects every instance of a producer
 * over the axes named in `over` (`needs: { runs: { stage: tune-eval, over: [lr] } }`) and picks
 * the one with the best `metric` — ties to the smaller axis value — so later stages can take the
 * chosen values (`lr: { from: pick }`). Writes `select.json` (the choice and every candidate's
 * score); its summary holds `chosen.<axis>`, the score and the reason. Refuses test-split
 * results, at plan time (exit 2) and at run time: a choice made on test data would leak into
 * the reported comparison.
 */
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import { SelectParams } from "./params.ts"

export default defineStage<SelectParams>({
  kind: "select",
  version: 1,
  description: "Choose, among collected validation results, the factor values with the best metric (ties → the smaller value)",
  module: import.meta.url,
  params: SelectParams,
  inputs: {
    runs: {
      description: "validation evals to choose among (fan-in)",
      kinds: ["eval"],
      many: true,
      // At plan time (and again at run time in run.ts): no hyperparameter is chosen on test data.
      requires: { params: { split: "validation" }, why: "select chooses on validation results only; a choice made on test data would leak into the reported comparison" },
    },
  },
  chooses: true,
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.runSelect(ctx)),
})
