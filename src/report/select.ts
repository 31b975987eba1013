/**
 * The choice a `select` stage makes, as a pure function: among the collected instances, the
 * one with the best score; equal scores go to the smaller factor values (compared axis by
 * axis in matrix order: numbers by value, anything else as text), so the result never depends
 * on the order instances finished in.
 */
import type { FactorValue } from "../contracts/events.ts"

export type Goal = "max" | "min"

export interface Candidate {
  readonly id: string
  /** The values of the axes the choice is over (e.g. { lr: 0.01 }). */
  readonly over: Readonly<Record<string, FactorValue>>
  /** NaN or undefined: the candidate has no score (it never wins over one that has). */
  readonly score: number | undefined
}

export interface Choice {
  readonly metric: string
  readonly goal: Goal
  readonly axes: ReadonlyArray<string>
  readonly chosen: Candidate
  /** Every candidate, in the order given, with its score: the reason for the choice. */
  readonly candidates: ReadonlyArray<Candidate>
  /** How many candidates shared the best score (> 1: a tie broken by the smaller value). */
  readonly tied: number
}

const compareValues = (a: FactorValue | undefined, b: FactorValue | undefined): number =>
  typeof a === "number" && typeof b === "number" ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0

const smaller = (axes: ReadonlyArray<string>, a: Candidate, b: Candidate): number => {
  for (const axis of axes) {
    const c = compareValues(a.over[axis], b.over[axis])
    if (c !== 0) return c
  }
  return 0
}

const scored = (c: Candidate): c is Candidate & { readonly score: number } => c.score !== undefined && !Number.isNaN(c.score)

/** undefined when no candidate has a score. */
export const choose = (metric: string, goal: Goal, axes: ReadonlyArray<string>, candidates: ReadonlyArray<Candidate>): Choice | undefined => {
  const withScore = candidates.filter(scored)
  if (withScore.length === 0) return undefined
  const best = goal === "max" ? Math.max(...withScore.map((c) => c.score)) : Math.min(...withScore.map((c) => c.score))
  const top = withScore.filter((c) => c.score === best).sort((a, b) => smaller(axes, a, b))
  return { metric, goal, axes, chosen: top[0]!, candidates, tied: top.length }
}

const showOver = (over: Candidate["over"]): string => Object.entries(over).map(([k, v]) => `${k}=${String(v)}`).join(",")

/** `accuracy (max): lr=0.001 0.800, lr=0.01 0.850 ←, lr=0.1 0.850; tie → smaller` */
export const describeChoice = (c: Choice): string => {
  const parts = c.candidates.map((x) => `${showOver(x.over)} ${x.score === undefined || Number.isNaN(x.score) ? "—" : x.score.toFixed(4)}${x === c.chosen ? " ←" : ""}`)
  return `${c.metric} (${c.goal}): ${parts.join(", ")}${c.tied > 1 ? `; ${c.tied}-way tie → the smaller ${c.axes.join(",")}` : ""}`
}
