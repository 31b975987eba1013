/** The select stage's work (params.ts holds its params, index.ts its contract). */
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { StageError } from "../../src/contracts/stage.ts"
import type { StageContext, StageOutput } from "../../src/contracts/stage.ts"
import { chosenKey } from "../../src/pipeline/refs.ts"
import { bestScore, choose, describeChoice, oneStandardError } from "../../src/report/select.ts"
import type { SelectParams } from "./params.ts"

export const SELECT_FILE = "select.json"

export const runSelect = (ctx: StageContext<SelectParams>): Effect.Effect<StageOutput, StageError> =>
  Effect.suspend(() => {
    const runs = ctx.collected.runs ?? []
    const onTest = runs.find((r) => r.summary.split === "test")
    if (onTest !== undefined)
      return Effect.fail(new StageError({ reason: "InvalidData", message: `${onTest.id} was scored on the test split; select chooses on validation results only (set split: validation on "${onTest.id.split("[")[0]}")` }))
    const axes = [...new Set(runs.flatMap((r) => Object.keys(r.factors).filter((a) => !(a in ctx.factors))))]
    const candidates = runs.map((r) => {
      const v = r.summary[ctx.params.metric]
      return { id: r.id, over: Object.fromEntries(axes.map((a) => [a, r.factors[a]!])), score: typeof v === "number" ? v : undefined }
    })
    let tolerance = 0
    if (ctx.params.within === "1se") {
      const best = bestScore(ctx.params.goal, candidates)
      const at = candidates.find((c) => c.score === best)
      const n = at === undefined ? undefined : runs.find((r) => r.id === at.id)?.summary.examples
      const se = best === undefined || typeof n !== "number" ? undefined : oneStandardError(best, n)
      if (best !== undefined && se === undefined)
        return Effect.fail(new StageError({ reason: "InvalidData", message: `within: 1se needs a proportion: ${at?.id} reports ${ctx.params.metric} = ${best} and examples = ${String(n)} (expected a value in [0, 1] over a whole number of examples); give within a number instead` }))
      tolerance = se ?? 0
    } else tolerance = ctx.params.within
    const choice = choose(ctx.params.metric, ctx.params.goal, axes, candidates, tolerance, ctx.params.within === "1se" ? "1 SE" : "")
    if (choice === undefined)
      return Effect.fail(new StageError({ reason: "MissingInput", message: `no collected instance reports a number "${ctx.params.metric}" (${runs.map((r) => r.id).join(", ")})` }))
    const reason = describeChoice(choice)
    writeFileSync(path.join(ctx.outDir, SELECT_FILE), JSON.stringify({ ...choice, chosen: choice.chosen.id, chosen_values: choice.chosen.over, reason }, null, 2) + "\n")
    ctx.log(`chose ${Object.entries(choice.chosen.over).map(([k, v]) => `${k}=${String(v)}`).join(",")}: ${reason}`)
    return Effect.succeed({
      summary: {
        ...Object.fromEntries(Object.entries(choice.chosen.over).map(([k, v]) => [chosenKey(k), v])),
        metric: ctx.params.metric,
        score: choice.chosen.score ?? Number.NaN,
        candidates: candidates.length,
        tied: choice.tied,
        tolerance: choice.tolerance,
        reason,
      },
    })
  })
