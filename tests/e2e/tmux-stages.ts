/**
 * The registry of the real-terminal test: the engine's fake kinds plus stand-ins for `train`
 * and `eval` that sleep in steps (progress, a loss curve) and report the metrics `compare`
 * reads, as deterministic functions of the cell: accuracy = 0.70 (+0.10 for vera) + seed/100.
 */
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import fakeSource from "../fixtures/stages/fake-source.ts"
import fakeStep from "../fixtures/stages/fake-step.ts"
import { FakeParams, runFake } from "../fixtures/stages/fake-common.ts"

const train = defineStage({
  kind: "train",
  version: 1,
  description: "test-only: sleeps in steps, reports a loss curve and train_time_s",
  module: import.meta.url,
  params: FakeParams,
  inputs: { source: { description: "upstream output", kinds: ["fake-source"] } },
  run: (ctx) => runFake(ctx).pipe(Effect.map((out) => ({ summary: { ...out.summary, train_time_s: (ctx.params.durationMs ?? 0) / 1000 } }))),
})

const accuracyOf = (factors: Readonly<Record<string, unknown>>): number =>
  0.7 + (factors["method"] === "vera" ? 0.1 : 0) + Number(factors["seed"] ?? 0) / 100

const evaluate = defineStage({
  kind: "eval",
  version: 1,
  description: "test-only: reports accuracy as a function of the cell",
  module: import.meta.url,
  params: FakeParams,
  inputs: { source: { description: "the trained stand-in", kinds: ["train"] } },
  run: (ctx) =>
    runFake(ctx).pipe(Effect.map(() => {
      const accuracy = accuracyOf(ctx.factors)
      return { summary: { accuracy, macro_f1: accuracy - 0.05, eval_loss: 1 - accuracy, base_accuracy: 0.5, majority_accuracy: 0.6 } }
    })),
})

export const stages = [fakeSource, fakeStep, train, evaluate]
