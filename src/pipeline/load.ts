/**
 * load: YAML text → `PipelineSpec`, or every structural problem with its position.
 * Semantic checks (kinds, needs, axes, cycles, params) are in analyze.ts.
 */
import { KNOWN_KEYS, NAME_PATTERN, PipelineHead, StageSpec } from "./spec.ts"
import type { PipelineSpec } from "./spec.ts"
import { decodeWithProblems } from "./decode.ts"
import type { Problem } from "./problems.ts"

export interface Loaded {
  /** Present when the top level decoded; stages that failed to decode are left out. */
  readonly spec: PipelineSpec | undefined
  /** Names of every stage in the file, decoded or not (so `needs` on a broken stage is not reported twice). */
  readonly stageNames: ReadonlySet<string>
  readonly problems: ReadonlyArray<Problem>
}

const stageKnownKeys = (path: ReadonlyArray<PropertyKey>): ReadonlyArray<string> =>
  path.length === 0
    ? KNOWN_KEYS.stage
    : path[0] === "resources" && path.length === 1
      ? KNOWN_KEYS.resources
      : path[0] === "overrides" && path.length === 2
      ? KNOWN_KEYS.override
      : path[0] === "needs" && path.length === 2
        ? KNOWN_KEYS.need
        : []

const checkName = (what: string, name: string, path: Problem["path"]): ReadonlyArray<Problem> =>
  NAME_PATTERN.test(name) ? [] : [{ path, atKey: true, message: `${what} name "${name}" must match ${NAME_PATTERN.source}` }]

export const loadSpec = (value: unknown): Loaded => {
  const head = decodeWithProblems(PipelineHead, value, {
    basePath: [],
    knownKeys: (p) => (p.length === 0 ? KNOWN_KEYS.top : []),
  })
  if (!head.ok) {
    const names = typeof value === "object" && value !== null && "stages" in value ? value.stages : undefined
    const stageNames = new Set(typeof names === "object" && names !== null ? Object.keys(names) : [])
    return { spec: undefined, stageNames, problems: head.problems }
  }
  const problems: Array<Problem> = []
  const matrix = Object.entries(head.value.matrix ?? {}).map(([name, values]) => {
    problems.push(...checkName("axis", name, ["matrix", name]))
    if (values.length === 0) problems.push({ path: ["matrix", name], message: `axis "${name}" has no values` })
    const seen = new Set<string>()
    values.forEach((v, i) => {
      if (seen.has(String(v))) problems.push({ path: ["matrix", name, i], message: `duplicate value ${JSON.stringify(v)} on axis "${name}"` })
      seen.add(String(v))
    })
    return { name, values }
  })
  const stages: Array<PipelineSpec["stages"][number]> = []
  for (const [name, raw] of Object.entries(head.value.stages)) {
    problems.push(...checkName("stage", name, ["stages", name]))
    const decoded = decodeWithProblems(StageSpec, raw, { basePath: ["stages", name], knownKeys: stageKnownKeys })
    if (decoded.ok) stages.push({ name, spec: decoded.value })
    else problems.push(...decoded.problems)
  }
  if (Object.keys(head.value.stages).length === 0) problems.push({ path: ["stages"], message: "a pipeline needs at least one stage" })
  return {
    spec: { name: head.value.name, matrix, stages },
    stageNames: new Set(Object.keys(head.value.stages)),
    problems,
  }
}
