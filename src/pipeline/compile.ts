/**
 * The front half of a run: pipeline file → validated, expanded `Pipeline`, or `PipelineInvalid`
 * with every problem located. Reads only the pipeline file; writes nothing.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { AnyStageDefinition } from "../contracts/stage.ts"
import { analyzeStages } from "./analyze.ts"
import { expandInstances } from "./expand.ts"
import type { Instance } from "./expand.ts"
import { loadSpec } from "./load.ts"
import { PipelineInvalid } from "./problems.ts"
import type { LocatedProblem, Problem } from "./problems.ts"
import type { PipelineSpec } from "./spec.ts"
import { parseYaml } from "./yaml-source.ts"

export interface Pipeline {
  readonly name: string
  /** As given by the user (for messages and the runs table). */
  readonly displayPath: string
  /** Directory of the pipeline file: relative paths in params resolve against it. */
  readonly dir: string
  readonly axes: PipelineSpec["matrix"]
  /** Every instance, dependencies first. */
  readonly instances: ReadonlyArray<Instance>
  readonly byId: ReadonlyMap<string, Instance>
}

const byPosition = (a: LocatedProblem, b: LocatedProblem) => a.line - b.line || a.col - b.col

/** The kinds' own plan-time checks (`StageDefinition.check`), once per stage and distinct params. */
const stageChecks = (instances: ReadonlyArray<Instance>, dir: string): Array<Problem> => {
  const seen = new Set<string>()
  const problems: Array<Problem> = []
  for (const i of instances) {
    if (i.def.check === undefined) continue
    const key = `${i.stage}\u0000${JSON.stringify(i.params)}`
    if (seen.has(key)) continue
    seen.add(key)
    for (const p of i.def.check(i.params, dir)) problems.push({ path: ["stages", i.stage, "params", p.param], message: p.message })
  }
  return problems
}

/** Validate pipeline text; reads only what stage kinds check at plan time (load-model's folder). */
export const compileText = (displayPath: string, text: string, kinds: ReadonlyMap<string, AnyStageDefinition>): Pipeline | PipelineInvalid => {
  const source = parseYaml(displayPath, text)
  if (source.syntaxErrors.length > 0) return new PipelineInvalid({ problems: source.syntaxErrors })
  const loaded = loadSpec(source.value)
  if (loaded.spec === undefined) return new PipelineInvalid({ problems: loaded.problems.map(source.locate).sort(byPosition) })
  const analyzed = analyzeStages({ spec: loaded.spec, stageNames: loaded.stageNames, kinds })
  const expanded = expandInstances(loaded.spec, analyzed.nodes)
  const dir = path.dirname(path.resolve(displayPath))
  const checked = expanded.problems.length > 0 ? [] : stageChecks(expanded.instances, dir)
  const problems = [...loaded.problems, ...analyzed.problems, ...expanded.problems, ...checked]
  if (problems.length > 0) return new PipelineInvalid({ problems: problems.map(source.locate).sort(byPosition) })
  return {
    name: loaded.spec.name,
    displayPath,
    dir,
    axes: loaded.spec.matrix,
    instances: expanded.instances,
    byId: new Map(expanded.instances.map((i) => [i.id, i])),
  }
}

export const compilePipeline = (displayPath: string, kinds: ReadonlyMap<string, AnyStageDefinition>): Effect.Effect<Pipeline, PipelineInvalid> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = readFileSync(displayPath, "utf8")
    } catch (e) {
      const reason = e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e)
      return Effect.fail(new PipelineInvalid({ problems: [{ file: displayPath, line: 1, col: 1, path: [], message: `cannot read pipeline: ${reason}` }] }))
    }
    const result = compileText(displayPath, text, kinds)
    return result instanceof PipelineInvalid ? Effect.fail(result) : Effect.succeed(result)
  })
