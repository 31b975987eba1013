/**
 * The dashboard grid: one row per matrix cell, one column per stage kind.
 *
 * Cells are the distinct factor combinations of the instances that vary over the most axes
 * (e.g. train[method, seed]). An instance that varies over fewer axes (attach-adapter over
 * method only) appears in every row it feeds; instances with no factors (tokenize,
 * build-model) form the "shared" row.
 */
import type { FactorValue, InstanceInfo } from "../contracts/events.ts"

type Factors = Readonly<Record<string, FactorValue>>

export interface GridRow {
  readonly key: string
  /** Empty for the shared row. */
  readonly factors: Factors
  readonly shared: boolean
  /** Stage kind → instance ids in this row, in topological order. */
  readonly cells: Readonly<Record<string, ReadonlyArray<string>>>
}

export interface GridLayout {
  /** The axes that label rows, in declaration order. */
  readonly axes: ReadonlyArray<string>
  readonly kinds: ReadonlyArray<string>
  readonly rows: ReadonlyArray<GridRow>
}

interface Axis {
  readonly name: string
  readonly values: ReadonlyArray<FactorValue>
}

export const layoutGrid = (axes: ReadonlyArray<Axis>, instances: ReadonlyArray<InstanceInfo>): GridLayout => {
  const kinds = [...new Set(instances.map((i) => i.kind))]
  const shared = instances.filter((i) => Object.keys(i.factors).length === 0)
  const factored = instances.filter((i) => Object.keys(i.factors).length > 0)
  const cells = cellFactors(factored)
  for (const i of factored) {
    if (!cells.some((c) => covers(c, i.factors))) cells.push(i.factors)
  }
  const names = axes.map((a) => a.name).filter((n) => cells.some((c) => n in c))
  const rows: Array<GridRow> = dedupe(cells, names)
    .sort(byAxes(axes))
    .map((factors) => ({
      key: keyOf(factors, names),
      factors,
      shared: false,
      cells: groupByKind(factored.filter((i) => covers(factors, i.factors))),
    }))
  if (shared.length > 0) rows.unshift({ key: "shared", factors: {}, shared: true, cells: groupByKind(shared) })
  return { axes: names, kinds, rows }
}

/** Factor sets of the instances whose axes are not a proper subset of another's. */
const cellFactors = (instances: ReadonlyArray<InstanceInfo>): Array<Factors> => {
  const keySets = instances.map((i) => Object.keys(i.factors))
  const isMaximal = (keys: ReadonlyArray<string>): boolean =>
    !keySets.some((other) => other.length > keys.length && keys.every((k) => other.includes(k)))
  return instances.filter((_, n) => isMaximal(keySets[n] ?? [])).map((i) => i.factors)
}

const covers = (cell: Factors, part: Factors): boolean =>
  Object.entries(part).every(([name, value]) => cell[name] === value)

const keyOf = (factors: Factors, names: ReadonlyArray<string>): string =>
  names.map((n) => `${n}=${JSON.stringify(factors[n] ?? null)}`).join(",")

const dedupe = (cells: ReadonlyArray<Factors>, names: ReadonlyArray<string>): Array<Factors> => {
  const seen = new Map<string, Factors>()
  for (const c of cells) if (!seen.has(keyOf(c, names))) seen.set(keyOf(c, names), c)
  return [...seen.values()]
}

/** Rows follow the matrix's declaration order, axis by axis. */
const byAxes = (axes: ReadonlyArray<Axis>) => (a: Factors, b: Factors): number => {
  for (const axis of axes) {
    const d = rank(axis, a[axis.name]) - rank(axis, b[axis.name])
    if (d !== 0) return d
  }
  return 0
}

/** A row without the axis comes after the rows with it (a tuning row [method, lr] before the seed rows [method, seed]). */
const rank = (axis: Axis, value: FactorValue | undefined): number =>
  value === undefined ? axis.values.length : axis.values.indexOf(value)

const groupByKind = (instances: ReadonlyArray<InstanceInfo>): Record<string, ReadonlyArray<string>> => {
  const out: Record<string, Array<string>> = {}
  for (const i of instances) (out[i.kind] ??= []).push(i.id)
  return out
}
