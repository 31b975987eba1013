/** The attach-adapter stage's work (params.ts holds its params, index.ts its contract). */
import { statSync } from "node:fs"
import { join } from "node:path"
import type { Effect } from "effect"
import type { StageContext, StageError, StageOutput } from "../../src/contracts/stage.ts"
import { disposeGPT, type GPT } from "../../src/model/arch/model.ts"
import type { AttachParams } from "./params.ts"
import { methodOptions } from "../../src/adapters/specs/index.ts"
import { Adapter } from "../../src/adapters/adapter.ts"
import { getMethod } from "../../src/adapters/index.ts"
import { ADAPTER_WEIGHTS, saveAdapter } from "../../src/adapters/io.ts"
import { resolveSettings } from "../../src/adapters/settings.ts"
import { attempt, loadBase } from "../../src/adapters/stage-common.ts"

export const modelParams = (model: GPT): number => [...model.params.values()].reduce((n, v) => n + v.size, 0)

/** Counts recorded by attach-adapter and repeated by train (the compare report reads them). */
export const adapterCounts = (a: Adapter, model: GPT) => {
  const c = a.method.counts(a.targets, a.settings)
  const trained = new Set(a.method.training?.trainsBase?.(a, model) ?? [])
  const trainedBase = [...model.params].reduce((n, [name, v]) => n + (trained.has(name) ? v.size : 0), 0)
  return { trainable_params: c.trainable + trainedBase, frozen_params: modelParams(model) - trainedBase + c.frozenAdapter }
}

export const settingsSummary = (a: Adapter): Record<string, number | string | boolean> => ({
  method: a.method.name,
  peft_type: a.method.peftType,
  rank: a.settings.rank,
  alpha: a.settings.alpha,
  dropout: a.settings.dropout,
  targets: a.settings.targets.join(","),
  ...a.settings.options,
})

export const attach = (ctx: StageContext<AttachParams>): Effect.Effect<StageOutput, StageError> =>
  attempt(async () => {
    const p = ctx.params
    const { model } = await loadBase(ctx)
    let adapter: Adapter | undefined
    try {
      const method = getMethod(p.method)
      const settings = resolveSettings(method, {
        rank: p.rank,
        alpha: p.alpha,
        targets: p.targets,
        dropout: p.dropout,
        seed: p.seed,
        options: methodOptions(p.method, p),
      })
      adapter = Adapter.create(method, model.config, settings, { model })
      await saveAdapter(ctx.outDir, adapter)
      const summary = {
        ...settingsSummary(adapter),
        ...adapterCounts(adapter, model),
        adapter_bytes: statSync(join(ctx.outDir, ADAPTER_WEIGHTS)).size,
      }
      ctx.log(`${method.name}: ${summary.trainable_params} trainable, ${summary.frozen_params} frozen, ${summary.adapter_bytes} bytes`)
      return { summary }
    } finally {
      adapter?.dispose()
      disposeGPT(model)
    }
  })
