/**
 * The choice a `select` stage makes, as a pure function: among the collected instances, the
 * one with the best score; equal scores go to the smaller factor values (compared axis by
 * axis in matrix order: numbers by value, anything else as text), so the result never depends
 * on the order instances finished in.
 *
 * A tolerance widens "equal": every score within it of the best is a tie, won by the smaller
 * value. With the tolerance one standard error of the best score (`oneStandardError`), this is
 * the one-standard-error rule of model selection (Breiman et al., CART 1984; Hastie et al., ESL
 * §7.10): among the candidates the validation set cannot tell from the best, take the most
 * conservative — for a learning-rate grid, the smallest rate. Why here: a tuning phase shorter
 * than the final run favours high rates (README, "what the tuning phase chose").
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
  /** How many candidates scored within `tolerance` of the best (> 1: a tie broken by the smaller value). */
  readonly tied: number
  /** The tie tolerance used (0: exact ties only). */
  readonly tolerance: number
  /** What the tolerance is, for the reason: "1 SE" or "". */
  readonly toleranceNote: string
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

/** The best score among candidates with one (undefined when none has). */
export const bestScore = (goal: Goal, candidates: ReadonlyArray<Candidate>): number | undefined => {
  const s = candidates.filter(scored).map((c) => c.score)
  return s.length === 0 ? undefined : goal === "max" ? Math.max(...s) : Math.min(...s)
}

/**
 * One standard error of a proportion p measured on n examples, √(p(1−p)/n): the tolerance of
 * the one-standard-error rule for accuracy-like metrics. undefined unless 0 ≤ p ≤ 1 and n ≥ 1.
 */
export const oneStandardError = (p: number, n: number): number | undefined =>
  p >= 0 && p <= 1 && Number.isInteger(n) && n >= 1 ? Math.sqrt((p * (1 - p)) / n) : undefined

/** undefined when no candidate has a score. `tolerance` ≥ 0 widens a tie (see the header). */
export const choose = (metric: string, goal: Goal, axes: ReadonlyArray<string>, candidates: ReadonlyArray<Candidate>, tolerance = 0, toleranceNote = ""): Choice | undefined => {
  const best = bestScore(goal, candidates)
  if (best === undefined) return undefined
  const near = (x: number) => (goal === "max" ? x >= best - tolerance : x <= best + tolerance)
  const top = candidates.filter(scored).filter((c) => c.score === best || near(c.score)).sort((a, b) => smaller(axes, a, b))
  return { metric, goal, axes, chosen: top[0]!, candidates, tied: top.length, tolerance, toleranceNote }
}

const showOver = (over: Candidate["over"]): string => Object.entries(over).map(([k, v]) => `${k}=${String(v)}`).join(",")

/** `accuracy (max): lr=0.001 0.800, lr=0.01 0.850 ←, lr=0.1 0.850; tie → smaller` */
export const describeChoice = (c: Choice): string => {
  const parts = c.candidates.map((x) => `${showOver(x.over)} ${x.score === undefined || Number.isNaN(x.score) ? "—" : x.score.toFixed(4)}${x === c.chosen ? " ←" : ""}`)
  const tie = c.tolerance > 0 ? `${c.tied} within ${c.tolerance.toFixed(4)}${c.toleranceNote === "" ? "" : ` (${c.toleranceNote})`} of the best` : `${c.tied}-way tie`
  return `${c.metric} (${c.goal}): ${parts.join(", ")}${c.tied > 1 ? `; ${tie} → the smaller ${c.axes.join(",")}` : ""}`
}
