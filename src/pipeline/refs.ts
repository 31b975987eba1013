/**
 * Params whose value a choosing stage (`select`) decides at run time:
 *
 * ```yaml
 * train:
 *   foreach: [method, seed]
 *   params: { lr: { from: pick } }            # pick's chosen lr for this method
 *   # or { from: pick, factor: lr } to name the factor when the param is called otherwise
 * ```
 *
 * A reference is a top-level param whose value is a mapping with `from` (and optionally
 * `factor`) and nothing else. The engine substitutes the chosen value just before the stage
 * runs (`resolveRefs`); the fingerprint holds the reference and the chooser's fingerprint.
 */
import type { Scalar, StageSpec } from "./spec.ts"
import type { YamlPath } from "./problems.ts"

export interface ParamRef {
  /** The param it fills, e.g. `lr`. */
  readonly param: string
  /** The choosing stage. */
  readonly stage: string
  /** The factor whose chosen value it takes (default: the param's name). */
  readonly factor: string
  /** Where it is written (for messages). */
  readonly path: YamlPath
}

/** The reference an instance's param holds after expansion, with the chooser's instance id. */
export interface BoundRef {
  readonly stage: string
  readonly factor: string
  readonly producer: string
}

const asRef = (value: unknown): { readonly from: string; readonly factor?: string } | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const keys = Object.keys(value)
  const v = value as Record<string, unknown>
  if (!keys.includes("from") || !keys.every((k) => k === "from" || k === "factor")) return undefined
  if (typeof v["from"] !== "string" || (v["factor"] !== undefined && typeof v["factor"] !== "string")) return undefined
  return v["factor"] === undefined ? { from: v["from"] } : { from: v["from"], factor: v["factor"] as string }
}

const refsIn = (params: Readonly<Record<string, unknown>> | undefined, at: YamlPath): Array<ParamRef> =>
  Object.entries(params ?? {}).flatMap(([param, value]) => {
    const ref = asRef(value)
    return ref === undefined ? [] : [{ param, stage: ref.from, factor: ref.factor ?? param, path: [...at, param] }]
  })

/** Every reference in a stage's params and overrides. */
export const paramRefs = (name: string, stage: StageSpec): ReadonlyArray<ParamRef> => [
  ...refsIn(stage.params, ["stages", name, "params"]),
  ...(stage.overrides ?? []).flatMap((o, i) => refsIn(o.params, ["stages", name, "overrides", i, "params"])),
]

/** The references left in an instance's params after overrides (param → reference). */
export const refsOfParams = (raw: unknown): ReadonlyArray<{ readonly param: string; readonly stage: string; readonly factor: string }> =>
  typeof raw === "object" && raw !== null
    ? Object.entries(raw).flatMap(([param, value]) => {
        const ref = asRef(value)
        return ref === undefined ? [] : [{ param, stage: ref.from, factor: ref.factor ?? param }]
      })
    : []

/** `chosen.<factor>`: where a choosing stage's summary holds each chosen value. */
export const chosenKey = (factor: string): string => `chosen.${factor}`

/** The params with every reference replaced by the value its chooser's summary holds. */
export const resolveRefs = (
  raw: unknown,
  refs: Readonly<Record<string, BoundRef>>,
  summaryOf: (producer: string) => Readonly<Record<string, Scalar>> | undefined,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string } => {
  if (Object.keys(refs).length === 0 || typeof raw !== "object" || raw === null) return { ok: true, value: raw }
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) }
  for (const [param, ref] of Object.entries(refs)) {
    const value = summaryOf(ref.producer)?.[chosenKey(ref.factor)]
    if (value === undefined) return { ok: false, message: `${param}: ${ref.producer} chose no ${ref.factor} (its summary lacks ${chosenKey(ref.factor)})` }
    out[param] = value
  }
  return { ok: true, value: out }
}
