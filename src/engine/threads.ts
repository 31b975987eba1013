/**
 * How many BLAS threads each stage instance of a run gets (the native backend; docs/DESIGN.md
 * "Compute backends": BLAS threads = cores / jobs).
 *
 * A stage that can never overlap another one of this run — every other instance that will run
 * is its ancestor or its descendant, like the pretraining of a base that every cell needs —
 * gets every core: nothing else can be scheduled while it runs, so its `--jobs` share would
 * leave cores idle. Every other instance gets cores / jobs (at least 1).
 *
 * Numerics do not depend on it: the native tests prove losses bit-identical for 1 and 2
 * threads, so the thread count is recorded but is not part of the fingerprint.
 */
import type { PlannedInstance } from "./plan.ts"

/** Past this many instances to run, the exact overlap check is skipped (it is quadratic). */
const LONE_CHECK_LIMIT = 2000

const producersOf = (inputs: Readonly<Record<string, unknown>>): string[] =>
  Object.values(inputs).flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is string => typeof v === "string")

export const blasThreads = (plan: ReadonlyArray<PlannedInstance>, jobs: number, cores: number): ((id: string) => number) => {
  const share = Math.max(1, Math.floor(cores / Math.max(1, jobs)))
  const toRun = plan.filter((p) => p.cached === undefined).map((p) => p.instance.id)
  if (share >= cores || toRun.length > LONE_CHECK_LIMIT) return () => share
  const up = new Map<string, string[]>(plan.map((p) => [p.instance.id, producersOf(p.instance.inputs)]))
  const down = new Map<string, string[]>()
  for (const [id, ps] of up) for (const p of ps) down.set(p, [...(down.get(p) ?? []), id])
  const reach = (from: string, edges: Map<string, string[]>): Set<string> => {
    const seen = new Set<string>()
    const stack = [...(edges.get(from) ?? [])]
    while (stack.length > 0) {
      const id = stack.pop()!
      if (seen.has(id)) continue
      seen.add(id)
      stack.push(...(edges.get(id) ?? []))
    }
    return seen
  }
  const lone = new Set<string>()
  for (const id of toRun) {
    const related = new Set([...reach(id, up), ...reach(id, down)])
    if (toRun.every((other) => other === id || related.has(other))) lone.add(id)
  }
  return (id) => (lone.has(id) ? cores : share)
}
