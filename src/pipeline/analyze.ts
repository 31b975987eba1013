/**
 * analyze: stage-level checks on a loaded spec against the stage registry — unknown kinds,
 * undeclared axes, `needs` naming a missing stage / an undeclared input / a wrong kind /
 * an ambiguous producer, missing required inputs, cycles. Pure; returns every problem.
 */
import type { AnyStageDefinition } from "../engine/stage.ts"
import { topoSort } from "./graph.ts"
import { references } from "./interpolate.ts"
import type { Problem } from "./problems.ts"
import type { PipelineSpec, StageSpec } from "./spec.ts"
import { didYouMean } from "./suggest.ts"

export interface StageNode {
  readonly name: string
  readonly spec: StageSpec
  readonly def: AnyStageDefinition
  /** The axes this stage varies over, in matrix order. */
  readonly axes: ReadonlyArray<string>
  /** input name → producer stage name */
  readonly needs: ReadonlyArray<{ readonly input: string; readonly producer: string }>
}

export interface AnalyzeInput {
  readonly spec: PipelineSpec
  readonly stageNames: ReadonlySet<string>
  readonly kinds: ReadonlyMap<string, AnyStageDefinition>
}

const axisProblems = (spec: PipelineSpec, name: string, stage: StageSpec): Array<Problem> => {
  const axes = new Set(spec.matrix.map((a) => a.name))
  const foreach = new Set(stage.foreach ?? [])
  const problems: Array<Problem> = []
  ;(stage.foreach ?? []).forEach((axis, i) => {
    if (!axes.has(axis)) problems.push({ path: ["stages", name, "foreach", i], message: `undeclared axis "${axis}"${didYouMean(axis, axes)}` })
  })
  if (foreach.size !== (stage.foreach ?? []).length) problems.push({ path: ["stages", name, "foreach"], message: "an axis is listed twice" })
  const used = (axis: string, path: Problem["path"], where: string) => {
    if (!axes.has(axis)) problems.push({ path, message: `undeclared axis "${axis}" in ${where}${didYouMean(axis, axes)}` })
    else if (!foreach.has(axis)) problems.push({ path, message: `axis "${axis}" is used in ${where} but stage "${name}" does not vary over it (add it to foreach)` })
  }
  for (const ref of references(stage.params ?? {})) used(ref.name, ["stages", name, "params", ...ref.path], "params")
  ;(stage.overrides ?? []).forEach((o, i) => {
    for (const [axis, value] of Object.entries(o.when)) {
      used(axis, ["stages", name, "overrides", i, "when", axis], "when")
      const values = spec.matrix.find((a) => a.name === axis)?.values
      if (values !== undefined && !values.some((v) => v === value))
        problems.push({ path: ["stages", name, "overrides", i, "when", axis], message: `${JSON.stringify(value)} is not a value of axis "${axis}"` })
    }
    for (const ref of references(o.params)) used(ref.name, ["stages", name, "overrides", i, "params", ...ref.path], "params")
  })
  return problems
}

interface NeedsContext {
  readonly input: AnalyzeInput
  readonly name: string
  readonly stage: StageSpec
  readonly def: AnyStageDefinition
}

const needsProblems = ({ input, name, stage, def }: NeedsContext): Array<Problem> => {
  const problems: Array<Problem> = []
  const needs = stage.needs ?? {}
  for (const [inputName, producer] of Object.entries(needs)) {
    const path = ["stages", name, "needs", inputName]
    const spec = def.inputs[inputName]
    if (spec === undefined) {
      const declared = Object.keys(def.inputs)
      problems.push({ path, atKey: true, message: `kind "${def.kind}" has no input "${inputName}"${didYouMean(inputName, declared)} (inputs: ${declared.join(", ") || "none"})` })
      continue
    }
    if (!input.stageNames.has(producer)) {
      problems.push({ path, message: `needs unknown stage "${producer}"${didYouMean(producer, input.stageNames)}` })
      continue
    }
    const other = input.spec.stages.find((s) => s.name === producer)?.spec
    if (other === undefined) continue
    if (input.kinds.has(other.kind) && !spec.kinds.includes(other.kind))
      problems.push({ path, message: `input "${inputName}" takes ${spec.kinds.join(" or ")}, but stage "${producer}" is ${other.kind}` })
    const extra = (other.foreach ?? []).filter((a) => !(stage.foreach ?? []).includes(a))
    if (extra.length > 0)
      problems.push({ path, message: `ambiguous needs: "${producer}" varies over ${extra.join(", ")} but "${name}" does not; add ${extra.join(", ")} to foreach of "${name}"` })
  }
  for (const [inputName, spec] of Object.entries(def.inputs)) {
    if (spec.optional !== true && !(inputName in needs))
      problems.push({ path: ["stages", name, stage.needs === undefined ? "kind" : "needs"], message: `missing required input "${inputName}" (${spec.description})` })
  }
  return problems
}

export const analyzeStages = (input: AnalyzeInput): { readonly nodes: ReadonlyArray<StageNode>; readonly problems: ReadonlyArray<Problem> } => {
  const problems: Array<Problem> = []
  const nodes = new Map<string, StageNode>()
  const axisOrder = input.spec.matrix.map((a) => a.name)
  for (const { name, spec: stage } of input.spec.stages) {
    problems.push(...axisProblems(input.spec, name, stage))
    const def = input.kinds.get(stage.kind)
    if (def === undefined) {
      problems.push({ path: ["stages", name, "kind"], message: `unknown stage kind "${stage.kind}"${didYouMean(stage.kind, input.kinds.keys())}` })
      continue
    }
    problems.push(...needsProblems({ input, name, stage, def }))
    const foreach = stage.foreach ?? []
    nodes.set(name, {
      name,
      spec: stage,
      def,
      axes: axisOrder.filter((a) => foreach.includes(a)),
      needs: Object.entries(stage.needs ?? {}).map(([i, producer]) => ({ input: i, producer })),
    })
  }
  const needsOf = new Map(input.spec.stages.map((s) => [s.name, Object.values(s.spec.needs ?? {})]))
  const deps = (n: string) => (needsOf.get(n) ?? []).filter((d) => needsOf.has(d))
  const sorted = topoSort(input.spec.stages.map((s) => s.name), deps)
  if (!sorted.ok) {
    const first = sorted.cycle[0] ?? ""
    problems.push({ path: ["stages", first, "needs"], message: `cycle: ${sorted.cycle.join(" → ")}` })
    return { nodes: [], problems }
  }
  return { nodes: sorted.order.flatMap((n) => nodes.get(n) ?? []), problems }
}
