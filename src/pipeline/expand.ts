/**
 * expand: stage nodes × the matrix → concrete instances with stable ids, resolved inputs and
 * decoded params (overrides applied, axis values interpolated, the kind's defaults filled in).
 */
import type { AnyStageDefinition } from "../engine/stage.ts"
import type { StageNode } from "./analyze.ts"
import { decodeWithProblems, structKeys } from "./decode.ts"
import { interpolate } from "./interpolate.ts"
import type { Problem } from "./problems.ts"
import type { PipelineSpec, Scalar } from "./spec.ts"

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
}

export const instanceId = (stage: string, axes: ReadonlyArray<string>, factors: Readonly<Record<string, Scalar>>): string =>
  axes.length === 0 ? stage : `${stage}[${axes.map((a) => `${a}=${String(factors[a])}`).join(",")}]`

const cells = (axes: ReadonlyArray<string>, matrix: PipelineSpec["matrix"]): Array<Record<string, Scalar>> =>
  axes.reduce<Array<Record<string, Scalar>>>(
    (acc, axis) => acc.flatMap((cell) => (matrix.find((a) => a.name === axis)?.values ?? []).map((v) => ({ ...cell, [axis]: v }))),
    [{}],
  )

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
      const decoded = decodeWithProblems(node.def.params, raw, {
        basePath: ["stages", node.name, "params"],
        knownKeys: (p) => (p.length === 0 ? knownKeys : []),
      })
      if (!decoded.ok) {
        const where = node.axes.length > 0 ? ` (in ${id})` : ""
        for (const p of decoded.problems) {
          const key = `${p.path.join(".")} ${p.message}`
          if (!problems.has(key)) problems.set(key, { ...p, message: p.message + where })
        }
        continue
      }
      const inputs = Object.fromEntries(node.needs.map(({ input, producer }) => [input, instanceId(producer, axesOf.get(producer) ?? [], factors)]))
      instances.push({ id, stage: node.name, kind: node.def.kind, def: node.def, factors, params: decoded.value, rawParams: raw, inputs })
    }
  }
  return { instances, problems: [...problems.values()] }
}
