/** The merge stage's work (params.ts holds its params, index.ts its contract). */
import { copyFile } from "node:fs/promises"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import type { Effect } from "effect"
import { StageError, type StageContext, type StageOutput } from "../../src/contracts/stage.ts"
import { collate, encodeExample } from "../../src/model/data/completion-batches.ts"
import { disposeGPT, forward, type GPT } from "../../src/model/arch/model.ts"
import { saveModel } from "../../src/model/safetensors.ts"
import type { MergeParams } from "./params.ts"
import type { Adapter } from "../../src/adapters/adapter.ts"
import { loadAdapter } from "../../src/adapters/io.ts"
import { mergedModel } from "../../src/adapters/merge.ts"
import { attempt, loadTaskData, loadTrained, requireFile } from "../../src/adapters/stage-common.ts"

export const merge = (ctx: StageContext<MergeParams>): Effect.Effect<StageOutput, StageError> =>
  attempt(async () => {
    const p = ctx.params
    const { adapterDir, spec, model, tokenizer } = await loadTrained(ctx)
    let adapter: Adapter | undefined
    let merged: GPT | undefined
    try {
      adapter = await loadAdapter(adapterDir, model)
      merged = mergedModel(model, adapter)
      const task = await loadTaskData(ctx, spec)
      const examples = task.test.slice(0, p.verify_examples)
      const batch = collate(examples.map((e) => encodeExample(tokenizer, e, model.config.blockSize)))
      const [diff, scale] = tf.tidy(() => {
        const ya = forward(model, batch.idx, (adapter as Adapter).hook(undefined, model))
        const ym = forward(merged as GPT, batch.idx)
        return [tf.max(tf.abs(tf.sub(ym, ya))).dataSync()[0] ?? NaN, tf.max(tf.abs(ya)).dataSync()[0] ?? NaN]
      })
      tf.dispose([batch.idx, batch.targets, batch.mask])
      const limit = p.tolerance * scale
      if (!(diff <= limit))
        throw new StageError({ reason: "VerificationFailed", message: `merged logits differ from adapter logits by ${diff} > ${limit} (${p.tolerance}·max|y| = ${p.tolerance}·${scale})` })
      await saveModel(ctx.outDir, merged)
      await copyFile(requireFile(ctx.inputs.model?.dir ?? "", "tokenizer.json", "model"), join(ctx.outDir, "tokenizer.json"))
      return { summary: { method: adapter.method.name, merge_max_abs_diff: diff, merge_max_abs_logit: scale, merge_tolerance: limit } }
    } finally {
      if (merged !== undefined) disposeGPT(merged)
      adapter?.dispose()
      disposeGPT(model)
    }
  })
