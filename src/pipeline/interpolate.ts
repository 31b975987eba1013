/** `${axis}` interpolation of axis values into params. */
import type { Scalar } from "./spec.ts"

const WHOLE = /^\$\{([^}]*)\}$/
const ANY = /\$\{([^}]*)\}/g

/** Every axis name referenced by `${...}` anywhere in a params value, with the path where it occurs. */
export const references = (value: unknown, path: ReadonlyArray<string | number> = []): Array<{ readonly name: string; readonly path: ReadonlyArray<string | number> }> => {
  if (typeof value === "string") return [...value.matchAll(ANY)].map((m) => ({ name: m[1] ?? "", path }))
  if (Array.isArray(value)) return value.flatMap((v, i) => references(v, [...path, i]))
  if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([k, v]) => references(v, [...path, k]))
  return []
}

/** Replace references by the instance's factor values; a whole-string reference keeps the value's type. */
export const interpolate = (value: unknown, factors: Readonly<Record<string, Scalar>>): unknown => {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value)
    if (whole !== null && whole[1] !== undefined && whole[1] in factors) return factors[whole[1]]
    return value.replace(ANY, (m, name: string) => (name in factors ? String(factors[name]) : m))
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, factors))
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, factors)]))
  return value
}
