/**
 * plan: fingerprint every instance (dependencies first) and look each up in the cache.
 * Pure given its two lookups; `peftlab status` prints this without running anything.
 */
import type { Field } from "../contracts/fields.ts"
import type { FingerprintContext } from "./fingerprint.ts"
import { diffFields, fingerprintFields, fingerprintOf } from "./fingerprint.ts"
import { codeDigest } from "./code-digest.ts"
import type { CacheHit } from "../store/store.ts"
import type { Pipeline } from "../pipeline/compile.ts"
import type { Instance } from "../pipeline/expand.ts"

export interface PlannedInstance {
  readonly instance: Instance
  readonly fingerprint: string
  readonly fields: ReadonlyArray<Field>
  /** Present when a committed result exists and the instance is not forced. */
  readonly cached: CacheHit | undefined
  /** Why it will run: "new", "forced", "params.rank: 8 → 16", … (undefined when cached). */
  readonly reason: string | undefined
}

export interface PlanOptions {
  readonly context: Omit<FingerprintContext, "fingerprintOf" | "codeOf" | "factorsOf">
  readonly lookup: (fingerprints: ReadonlyArray<string>) => ReadonlyMap<string, CacheHit>
  readonly lastGoodFields: (instanceId: string) => ReadonlyArray<Field> | undefined
  readonly force: (instanceId: string) => boolean
  /** Why a committed result was not a hit (a damaged artifact), when the lookup knows. */
  readonly missReason?: (fingerprint: string) => string | undefined
}

const reasonFor = (instance: Instance, fields: ReadonlyArray<Field>, options: PlanOptions): string => {
  if (options.force(instance.id)) return "forced"
  const before = options.lastGoodFields(instance.id)
  if (before === undefined) return "new"
  const changes = diffFields(before, fields)
  if (changes.length === 0) return "no committed result"
  return changes.length > 2 ? `${changes.slice(0, 2).join("; ")}; +${changes.length - 2} more` : changes.join("; ")
}

export const planPipeline = (pipeline: Pipeline, options: PlanOptions): ReadonlyArray<PlannedInstance> => {
  const fingerprints = new Map<string, string>()
  const code = new Map<string, ReturnType<typeof codeDigest>>()
  /** Per instance: the extra code roots it runs (its own and its producers'), see StageDefinition.code. */
  const extras = new Map<string, ReadonlyArray<string>>()
  const extrasOf = (instance: Instance): ReadonlyArray<string> => {
    const own = instance.def.code?.extra?.(instance.params) ?? []
    const producers = [...Object.values(instance.inputs), ...Object.values(instance.collected).flat()]
    const inherited = producers.flatMap((id) => extras.get(id) ?? [])
    return [...new Set([...own, ...inherited])].sort()
  }
  const codeFor = (instance: Instance, extra: ReadonlyArray<string>) => {
    const cut = instance.def.code?.cut ?? []
    const key = JSON.stringify([instance.def.module, cut, extra])
    return code.get(key) ?? code.set(key, codeDigest(instance.def.module, options.context.projectDir, { cut, extra })).get(key)!
  }
  const fingerprinted = pipeline.instances.map((instance) => {
    const extra = extrasOf(instance)
    extras.set(instance.id, extra)
    const context: FingerprintContext = {
      ...options.context,
      codeOf: () => codeFor(instance, extra),
      fingerprintOf: (id) => fingerprints.get(id) ?? "",
      factorsOf: (id) => pipeline.byId.get(id)?.factors ?? {},
    }
    const fields = fingerprintFields(instance, context)
    const fingerprint = fingerprintOf(fields)
    fingerprints.set(instance.id, fingerprint)
    return { instance, fields, fingerprint }
  })
  const hits = options.lookup(fingerprinted.map((x) => x.fingerprint))
  return fingerprinted.map(({ instance, fields, fingerprint }) => {
    const cached = options.force(instance.id) ? undefined : hits.get(fingerprint)
    const reason = cached === undefined ? (options.force(instance.id) ? undefined : options.missReason?.(fingerprint)) ?? reasonFor(instance, fields, options) : undefined
    return { instance, fingerprint, fields, cached, reason }
  })
}
