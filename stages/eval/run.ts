/** The eval stage's work (params.ts holds its params, index.ts its contract). */
import type { Effect } from "effect"
import type { StageContext, StageError, StageOutput } from "../../src/contracts/stage.ts"
import { disposeGPT } from "../../src/model/arch/model.ts"
import type { EvalParams } from "./params.ts"
import type { Adapter } from "../../src/adapters/adapter.ts"
import { confusionMetrics, evaluate, majorityAccuracy, type EvalResult } from "../../src/adapters/evaluate.ts"
import { loadAdapter } from "../../src/adapters/io.ts"
import { attempt, loadTaskData, loadTrained } from "../../src/adapters/stage-common.ts"

/** Zero-shot results of the base model, per worker process (see below). */
const zeroShot = new Map<string, EvalResult>()

export const evalStage = (ctx: StageContext<EvalParams>): Effect.Effect<StageOutput, StageError> =>
  attempt(async () => {
    const p = ctx.params
    const { adapterDir, spec, model, tokenizer } = await loadTrained(ctx)
    let adapter: Adapter | undefined
    try {
      const task = await loadTaskData(ctx, spec)
      const held = p.split === "validation" ? task.validation : task.test
      const test = p.max_examples > 0 ? held.slice(0, p.max_examples) : held
      const data = { examples: test, labels: task.labels }
      const opts = { blockSize: model.config.blockSize, batchSize: p.batch_size }
      // Zero-shot first: loading a Delta-LoRA adapter writes its trained W into `model`.
      // Every cell of an ablation shares it, so a worker computes it once (same inputs → same numbers).
      const zeroShotKey = JSON.stringify([ctx.inputs.model?.fingerprint, task.digest, p.split, test.length, opts])
      const base = zeroShot.get(zeroShotKey) ?? evaluate(model, undefined, tokenizer, data, opts)
      zeroShot.set(zeroShotKey, base)
      ctx.progress({ step: 1, total: 2, message: `zero-shot accuracy ${base.accuracy.toFixed(3)}` })
      adapter = await loadAdapter(adapterDir, model)
      const r = evaluate(model, adapter.hook(undefined, model), tokenizer, data, opts)
      ctx.progress({ step: 2, total: 2, message: `accuracy ${r.accuracy.toFixed(3)}` })
      const majority = majorityAccuracy(task.train, test)
      return {
        summary: {
          method: adapter.method.name,
          split: p.split,
          accuracy: r.accuracy,
          macro_f1: r.macroF1,
          eval_loss: r.evalLoss,
          perplexity: r.perplexity,
          ...(Number.isFinite(r.labelLoss) ? { label_loss: r.labelLoss, base_label_loss: base.labelLoss } : {}),
          base_accuracy: base.accuracy,
          base_macro_f1: base.macroF1,
          base_eval_loss: base.evalLoss,
          majority_accuracy: majority.accuracy,
          majority_label: majority.label.trim(),
          examples: r.n,
          ...confusionMetrics(r),
        },
      }
    } finally {
      adapter?.dispose()
      disposeGPT(model)
    }
  })
