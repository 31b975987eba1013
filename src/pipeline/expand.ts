/**
 * expand: stage nodes × the matrix → concrete instances with stable ids, resolved inputs
 * (one producer instance each, or the list a fan-in collects) and decoded params (overrides
 * applied, axis values interpolated, the kind's defaults filled in). A param taken from a
 * choosing stage is decoded once per value it may take, so a bad candidate fails at plan time.
 */
import type { AnyStageDefinition } from "../contracts/stage.ts"
import type { StageNode } from "./analyze.ts"
import { decodeWithProblems, structKeys } from "./decode.ts"
import { interpolate } from "./interpolate.ts"
import type { Problem } from "./problems.ts"
import { refsOfParams } from "./refs.ts"
import type { BoundRef } from "./refs.ts"
import type { PipelineSpec, Scalar } from "./spec.ts"
import type { Resources } from "./resources.ts"

export interface Instance {
  /** `stage` or `stage[axis=value,...]` with axes in matrix order. */
  readonly id: string
  readonly stage: string
  readonly kind: string
  readonly def: AnyStageDefinition
  readonly factors: Readonly<Record<string, Scalar>>
  /** Decoded by the kind's schema. */
  readonly params: unknown
  /** Before decoding (after overrides and interpolation): what a worker decodes again. */
  readonly rawParams: unknown
  /** input name → producer instance id */
  readonly inputs: Readonly<Record<string, string>>
  /** fan-in input name → every collected producer instance id, in matrix order */
  readonly collected: Readonly<Record<string, ReadonlyArray<string>>>
  /** param → the choosing instance whose summary gives its value at run time */
  readonly refs: Readonly<Record<string, BoundRef>>
  /** The stage's `resources` (cluster executors only; not fingerprinted). */
  readonly resources?: Resources
}

/** Every instance this one waits for (inputs, collected inputs, choosers), without repeats. */
export const dependenciesOf = (instance: Instance): ReadonlyArray<string> => [
  ...new Set([...Object.values(instance.inputs), ...Object.values(instance.collected).flat(), ...Object.values(instance.refs).map((r) => r.producer)]),
]

export const instanceId = (stage: string, axes: ReadonlyArray<string>, factors: Readonly<Record<string, Scalar>>): string =>
  axes.length === 0 ? stage : `${stage}[${axes.map((a) => `${a}=${String(factors[a])}`).join(",")}]`

const cells = (axes: ReadonlyArray<string>, matrix: PipelineSpec["matrix"]): Array<Record<string, Scalar>> =>
  axes.reduce<Array<Record<string, Scalar>>>(
    (acc, axis) => acc.flatMap((cell) => (matrix.find((a) => a.name === axis)?.values ?? []).map((v) => ({ ...cell, [axis]: v }))),
    [{}],
  )

const valuesOf = (spec: PipelineSpec, axis: string): ReadonlyArray<Scalar> => spec.matrix.find((a) => a.name === axis)?.values ?? []

const rawParams = (node: StageNode, factors: Readonly<Record<string, Scalar>>): unknown => {
  let params: Record<string, unknown> = { ...(node.spec.params ?? {}) }
  for (const o of node.spec.overrides ?? []) {
    if (Object.entries(o.when).every(([axis, v]) => factors[axis] === v)) params = { ...params, ...o.params }
  }
  return interpolate(params, factors)
}

export const expandInstances = (
  spec: PipelineSpec,
  nodes: ReadonlyArray<StageNode>,
): { readonly instances: ReadonlyArray<Instance>; readonly problems: ReadonlyArray<Problem> } => {
  const instances: Array<Instance> = []
  const problems = new Map<string, Problem>()
  const axesOf = new Map(nodes.map((n) => [n.name, n.axes]))
  const ids = new Set<string>()
  for (const node of nodes) {
    const knownKeys = structKeys(node.def.params)
    for (const factors of cells(node.axes, spec.matrix)) {
      const id = instanceId(node.name, node.axes, factors)
      if (ids.has(id)) problems.set(`dup ${id}`, { path: ["stages", node.name], message: `duplicate instance id "${id}"` })
      ids.add(id)
      const raw = rawParams(node, factors)
      const refs = refsOfParams(raw)
      // One decode per value a referenced factor may take (the others at their first value).
      const candidates = refs.length === 0 ? [{ raw, note: "" }] : refs.flatMap((ref) => (valuesOf(spec, ref.factor)).map((v) => ({
        raw: { ...(raw as Record<string, unknown>), ...Object.fromEntries(refs.map((r) => [r.param, r === ref ? v : valuesOf(spec, r.factor)[0]])) },
        note: ` (when "${ref.stage}" chooses ${ref.factor}=${String(v)})`,
      })))
      let params: unknown
      let failed = false
      for (const candidate of candidates) {
        const decoded = decodeWithProblems(node.def.params, candidate.raw, {
          basePath: ["stages", node.name, "params"],
          knownKeys: (p) => (p.length === 0 ? knownKeys : []),
        })
        if (!decoded.ok) {
          failed = true
          const where = node.axes.length > 0 ? ` (in ${id})` : ""
          for (const p of decoded.problems) {
            const key = `${p.path.join(".")} ${p.message}`
            if (!problems.has(key)) problems.set(key, { ...p, message: p.message + candidate.note + where })
          }
        } else params ??= decoded.value
      }
      if (failed) continue
      // The fingerprint sees the reference itself (and, through `refs`, the chooser's fingerprint).
      if (refs.length > 0) params = { ...(params as Record<string, unknown>), ...Object.fromEntries(refs.map((r) => [r.param, { from: r.stage, factor: r.factor }])) }
      const inputs: Record<string, string> = {}
      const collected: Record<string, ReadonlyArray<string>> = {}
      for (const { input, producer, over } of node.needs) {
        const producerAxes = axesOf.get(producer) ?? []
        if (over === undefined) inputs[input] = instanceId(producer, producerAxes, factors)
        else collected[input] = cells(over, spec.matrix).map((cell) => instanceId(producer, producerAxes, { ...factors, ...cell }))
      }
      const bound = Object.fromEntries(refs.map((r) => [r.param, { stage: r.stage, factor: r.factor, producer: instanceId(r.stage, axesOf.get(r.stage) ?? [], factors) }]))
      instances.push({ id, stage: node.name, kind: node.def.kind, def: node.def, factors, params, rawParams: raw, inputs, collected, refs: bound, ...(node.spec.resources ? { resources: node.spec.resources } : {}) })
    }
  }
  return { instances, problems: [...problems.values()] }
}
