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
  /** A problem found after compiling (the memory plan, once backends are known) → file:line:col. */
  readonly locate: (problem: Problem) => LocatedProblem
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

/**
 * Inputs whose kind requires params of its producers (`StageInputSpec.requires`): every producer
 * instance, collected ones included, is checked once per consumer stage.
 */
const inputRequirements = (instances: ReadonlyArray<Instance>): Array<Problem> => {
  const byId = new Map(instances.map((i) => [i.id, i]))
  const seen = new Set<string>()
  const problems: Array<Problem> = []
  for (const i of instances) {
    for (const [input, spec] of Object.entries(i.def.inputs)) {
      if (spec.requires === undefined) continue
      const producers = [...(i.inputs[input] === undefined ? [] : [i.inputs[input]]), ...(i.collected[input] ?? [])]
      for (const id of producers) {
        const p = byId.get(id)
        const params = (p?.params ?? {}) as Readonly<Record<string, unknown>>
        for (const [key, want] of Object.entries(spec.requires.params)) {
          const got = params[key]
          const seenKey = `${i.stage}\u0000${input}\u0000${p?.stage}\u0000${key}\u0000${JSON.stringify(got)}`
          if (got === want || p === undefined || seen.has(seenKey)) continue
          seen.add(seenKey)
          problems.push({
            path: ["stages", i.stage, "needs", input],
            message: `input "${input}" of kind "${i.kind}" takes instances with ${key}: ${String(want)}, but ${p.id} has ${key}: ${JSON.stringify(got)} (set ${key}: ${String(want)} on stage "${p.stage}"): ${spec.requires.why}`,
          })
        }
      }
    }
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
  const checked = expanded.problems.length > 0 ? [] : [...stageChecks(expanded.instances, dir), ...inputRequirements(expanded.instances)]
  const problems = [...loaded.problems, ...analyzed.problems, ...expanded.problems, ...checked]
  if (problems.length > 0) return new PipelineInvalid({ problems: problems.map(source.locate).sort(byPosition) })
  return {
    name: loaded.spec.name,
    displayPath,
    dir,
    axes: loaded.spec.matrix,
    instances: expanded.instances,
    byId: new Map(expanded.instances.map((i) => [i.id, i])),
    locate: source.locate,
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
