/**
 * analyze: stage-level checks on a loaded spec against the stage registry — unknown kinds,
 * undeclared axes, `needs` naming a missing stage / an undeclared input / a wrong kind /
 * an ambiguous producer / a fan-in whose `over` is not exactly the axes it collects, params
 * taken `from` a stage that does not choose them, missing required inputs, cycles.
 * Pure; returns every problem.
 */
import type { AnyStageDefinition } from "../contracts/stage.ts"
import { topoSort } from "./graph.ts"
import { references } from "./interpolate.ts"
import type { Problem } from "./problems.ts"
import { paramRefs } from "./refs.ts"
import type { ParamRef } from "./refs.ts"
import { needOver, needStage } from "./spec.ts"
import type { PipelineSpec, StageSpec } from "./spec.ts"
import { didYouMean } from "./suggest.ts"

export interface StageNode {
  readonly name: string
  readonly spec: StageSpec
  readonly def: AnyStageDefinition
  /** The axes this stage varies over, in matrix order. */
  readonly axes: ReadonlyArray<string>
  /** input name → producer stage name; `over` for a fan-in input (the axes it collects, matrix order) */
  readonly needs: ReadonlyArray<{ readonly input: string; readonly producer: string; readonly over?: ReadonlyArray<string> }>
  /** params taken from a choosing stage at run time (`lr: { from: pick }`) */
  readonly refs: ReadonlyArray<ParamRef>
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
  const axes = input.spec.matrix.map((a) => a.name)
  const foreach = stage.foreach ?? []
  for (const [inputName, need] of Object.entries(needs)) {
    const producer = needStage(need)
    const over = needOver(need)
    const path = ["stages", name, "needs", inputName]
    const at = typeof need === "string" ? path : [...path, "stage"]
    const spec = def.inputs[inputName]
    if (spec === undefined) {
      const declared = Object.keys(def.inputs)
      problems.push({ path, atKey: true, message: `kind "${def.kind}" has no input "${inputName}"${didYouMean(inputName, declared)} (inputs: ${declared.join(", ") || "none"})` })
      continue
    }
    if (!input.stageNames.has(producer)) {
      problems.push({ path: at, message: `needs unknown stage "${producer}"${didYouMean(producer, input.stageNames)}` })
      continue
    }
    const other = input.spec.stages.find((s) => s.name === producer)?.spec
    if (other === undefined) continue
    if (input.kinds.has(other.kind) && !spec.kinds.includes(other.kind))
      problems.push({ path: at, message: `input "${inputName}" takes ${spec.kinds.join(" or ")}, but stage "${producer}" is ${other.kind}` })
    const extra = (other.foreach ?? []).filter((a) => !foreach.includes(a))
    if (spec.many !== true) {
      if (over !== undefined)
        problems.push({ path: [...path, "over"], atKey: true, message: `input "${inputName}" of kind "${def.kind}" takes one instance; "over" is only for inputs that collect several` })
      if (extra.length > 0)
        problems.push({ path: at, message: `ambiguous needs: "${producer}" varies over ${extra.join(", ")} but "${name}" does not; add ${extra.join(", ")} to foreach of "${name}"` })
      continue
    }
    if (over === undefined) {
      problems.push({ path, message: `input "${inputName}" collects every instance of its producer: write { stage: ${producer}, over: [${extra.join(", ")}] }` })
      continue
    }
    over.forEach((axis, i) => {
      const p = [...path, "over", i]
      if (!axes.includes(axis)) problems.push({ path: p, message: `undeclared axis "${axis}"${didYouMean(axis, axes)}` })
      else if (foreach.includes(axis)) problems.push({ path: p, message: `"${name}" varies over ${axis} itself, so it cannot collect over it; remove ${axis} from over or from foreach` })
      else if (!(other.foreach ?? []).includes(axis)) problems.push({ path: p, message: `"${producer}" does not vary over ${axis}${extra.length > 0 ? ` (it varies over ${extra.join(", ")} here)` : ""}` })
    })
    if (new Set(over).size !== over.length) problems.push({ path: [...path, "over"], message: "an axis is listed twice" })
    const uncollected = extra.filter((a) => !over.includes(a))
    if (uncollected.length > 0)
      problems.push({ path: [...path, "over"], message: `ambiguous needs: "${producer}" varies over ${uncollected.join(", ")} but "${name}" neither varies nor collects over it; add ${uncollected.join(", ")} to over or to foreach of "${name}"` })
  }
  for (const [inputName, spec] of Object.entries(def.inputs)) {
    if (spec.optional !== true && !(inputName in needs))
      problems.push({ path: ["stages", name, stage.needs === undefined ? "kind" : "needs"], message: `missing required input "${inputName}" (${spec.description})` })
  }
  return problems
}

/** Params taken `from` a choosing stage: it exists, chooses, chooses that factor, and is not ambiguous. */
const refProblems = ({ input, name, stage }: NeedsContext, refs: ReadonlyArray<ParamRef>): Array<Problem> => {
  const problems: Array<Problem> = []
  const foreach = stage.foreach ?? []
  for (const ref of refs) {
    const other = input.spec.stages.find((s) => s.name === ref.stage)?.spec
    if (other === undefined) {
      if (!input.stageNames.has(ref.stage))
        problems.push({ path: [...ref.path, "from"], message: `takes ${ref.param} from unknown stage "${ref.stage}"${didYouMean(ref.stage, input.stageNames)}` })
      continue
    }
    const kind = input.kinds.get(other.kind)
    if (kind === undefined) continue
    if (kind.chooses !== true) {
      const choosers = [...input.kinds.values()].filter((k) => k.chooses === true).map((k) => k.kind)
      problems.push({ path: [...ref.path, "from"], message: `stage "${ref.stage}" is ${other.kind}, which chooses nothing; a param can come from a ${choosers.join(" or ")} stage` })
      continue
    }
    const chosen = Object.entries(other.needs ?? {}).flatMap(([i, n]) => (kind.inputs[i]?.many === true ? [...(needOver(n) ?? [])] : []))
    if (!chosen.includes(ref.factor))
      problems.push({ path: ref.path, message: `"${ref.stage}" chooses ${chosen.length > 0 ? chosen.join(", ") : "no axis"}, not "${ref.factor}"${didYouMean(ref.factor, chosen)}` })
    if (foreach.includes(ref.factor))
      problems.push({ path: ref.path, message: `"${name}" varies over ${ref.factor} itself; take it from the axis or from "${ref.stage}", not both` })
    const extra = (other.foreach ?? []).filter((a) => !foreach.includes(a))
    if (extra.length > 0)
      problems.push({ path: [...ref.path, "from"], message: `ambiguous: "${ref.stage}" varies over ${extra.join(", ")} but "${name}" does not; add ${extra.join(", ")} to foreach of "${name}"` })
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
    const ctx = { input, name, stage, def }
    const refs = paramRefs(name, stage)
    problems.push(...needsProblems(ctx), ...refProblems(ctx, refs))
    const foreach = stage.foreach ?? []
    nodes.set(name, {
      name,
      spec: stage,
      def,
      axes: axisOrder.filter((a) => foreach.includes(a)),
      needs: Object.entries(stage.needs ?? {}).map(([i, need]) => {
        const over = needOver(need)
        return over === undefined ? { input: i, producer: needStage(need) } : { input: i, producer: needStage(need), over: axisOrder.filter((a) => over.includes(a)) }
      }),
      refs,
    })
  }
  const needsOf = new Map(input.spec.stages.map((s) => [s.name, [...Object.values(s.spec.needs ?? {}).map(needStage), ...paramRefs(s.name, s.spec).map((r) => r.stage)]]))
  const deps = (n: string) => (needsOf.get(n) ?? []).filter((d) => needsOf.has(d))
  const sorted = topoSort(input.spec.stages.map((s) => s.name), deps)
  if (!sorted.ok) {
    const first = sorted.cycle[0] ?? ""
    problems.push({ path: ["stages", first, "needs"], message: `cycle: ${sorted.cycle.join(" → ")}` })
    return { nodes: [], problems }
  }
  return { nodes: sorted.order.flatMap((n) => nodes.get(n) ?? []), problems }
}
