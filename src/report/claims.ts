/**
 * The claims section: each paper's headline (claims-table.ts) judged on this run's per-seed
 * results — the cells compare.ts pairs, seed by seed, against the method the paper compares with.
 *
 * A claim is one-sided: "statistic > bound" or "statistic < bound" (Δ accuracy > 0, Δ loss < 0,
 * Δ accuracy > −δ for non-inferiority). It is read off the two-sided 95 % Student-t interval
 * [lo, hi] of the statistic over the paired seeds (stats.ts):
 *
 *   holds                 the interval excludes the null: lo > bound  (or hi < bound)
 *   does not hold         the interval excludes the claim: hi ≤ bound (or lo ≥ bound)
 *   cannot be told apart  neither (the interval straddles the bound, or one seed: no interval)
 *   not measured          the run lacks what the claim needs; says what would measure it
 *
 * Exact quantities (parameter counts) have no interval and are compared as they are. A claim of
 * several parts (VeRA: the count and the accuracy) combines them: one part that does not hold
 * makes the claim not hold; all must hold for it to hold.
 *
 * Convergence is the mean training loss over the run's steps — the area under the training-loss
 * curve divided by its length (the train stage records one loss per step, `loss.json` / the
 * metrics table). Lower = faster: paired by seed, both methods see the same batches in the same
 * order (the seed fixes data order), so batch difficulty cancels in the difference. Chosen over
 * "steps until the loss first falls below a threshold" because that needs a threshold picked
 * after seeing the curves, is undefined for a seed that never reaches it (and a t-interval
 * cannot take a censored value), and hangs on one noisy batch-of-8 step; the mean uses every
 * step. What it also measures: a method that ends lower has a smaller area too.
 */
import type { FactorValue } from "../contracts/events.ts"
import { CLAIMS, type Claim, type ClaimTest } from "./claims-table.ts"
import { covers, groupLabel, METHOD, pairBySeed, partnerOf, seedTable, valueFor, type Cell, type SeedTable } from "./compare.ts"
import type { Factors, ResultRow } from "./results.ts"
import { mean, pairedTest, type PairedTest } from "./stats.ts"

export type Verdict = "holds" | "does not hold" | "cannot be told apart" | "not measured"

/** How a part's numbers are shown (claims-format.ts). */
export type Unit = "accuracy" | "loss" | "bytes" | "ratio"

/** One measured part of a claim. */
export interface Part {
  /** What is measured: "Δ accuracy (dora − lora)". */
  readonly statistic: string
  readonly unit: Unit
  /** The claim reads: statistic > bound ("above") or statistic < bound ("below"). */
  readonly direction: "above" | "below"
  readonly bound: number
  /** The paired interval over seeds; absent for an exact quantity. */
  readonly test?: PairedTest
  /** The exact quantity (a ratio of parameter counts); absent for an interval. */
  readonly value?: number
  readonly verdict: Verdict
}

export interface Judgement {
  readonly claim: Claim
  /** The judged group ("dora", "dora rank=16"). */
  readonly group: string
  readonly verdict: Verdict
  readonly parts: ReadonlyArray<Part>
  /** For `not measured`: why, and what would measure it. */
  readonly wanting?: string
}

/** A train's per-step training loss (loss.json, or the metrics table's `loss` curve). */
export interface LossCurve {
  readonly factors: Factors
  readonly losses: ReadonlyArray<number>
}

export interface ClaimInput {
  /** The result rows compareRows reads (evals, trains, attach-adapters). */
  readonly rows: ReadonlyArray<ResultRow>
  readonly curves: ReadonlyArray<LossCurve>
}

/** A one-sided claim read off a two-sided 95 % interval (see the file comment). */
export const judgeInterval = (t: PairedTest, direction: "above" | "below", bound: number): Verdict => {
  if (t.half === undefined) return "cannot be told apart"
  const [lo, hi] = [t.meanDiff - t.half, t.meanDiff + t.half]
  if (direction === "above") return lo > bound ? "holds" : hi <= bound ? "does not hold" : "cannot be told apart"
  return hi < bound ? "holds" : lo >= bound ? "does not hold" : "cannot be told apart"
}

/** An exact quantity against the claim's figure (inclusive: "≥ 10×" holds at 10). */
export const judgeExact = (value: number, direction: "above" | "below", bound: number): Verdict =>
  (direction === "above" ? value >= bound : value <= bound) ? "holds" : "does not hold"

/** Parts → claim: any part that does not hold decides; then any not measured; all hold → holds. */
export const combine = (verdicts: ReadonlyArray<Verdict>): Verdict =>
  verdicts.includes("does not hold")
    ? "does not hold"
    : verdicts.includes("not measured")
      ? "not measured"
      : verdicts.length > 0 && verdicts.every((v) => v === "holds")
        ? "holds"
        : "cannot be told apart"

/** Mean loss of the first `steps` steps: the area under the curve per step. */
export const meanLoss = (losses: ReadonlyArray<number>, steps: number): number => mean(losses.slice(0, steps))

/** The curve of the train that feeds a cell (the most specific one whose factors the cell's cover). */
const curveOf = (curves: ReadonlyArray<LossCurve>, cell: Cell): ReadonlyArray<number> | undefined =>
  curves
    .filter((c) => c.losses.length > 0 && covers(cell.factors, c.factors))
    .sort((a, b) => Object.keys(b.factors).length - Object.keys(a.factors).length)[0]?.losses

const groupFactors = (cells: ReadonlyArray<Cell>, table: SeedTable): Factors =>
  Object.fromEntries(table.groupBy.flatMap((n): Array<[string, FactorValue]> => {
    const v = cells[0]?.factors[n]
    return v === undefined ? [] : [[n, v]]
  }))

/** A part read off the paired differences, or undefined when no seed gave one. */
const pairedPart = (
  statistic: string,
  unit: Unit,
  diffs: ReadonlyArray<number>,
  direction: "above" | "below",
  bound: number,
): Part | undefined => {
  const test = pairedTest(diffs)
  return test === undefined ? undefined : { statistic, unit, direction, bound, test, verdict: judgeInterval(test, direction, bound) }
}

const notMeasured = (claim: Claim, group: string, wanting: string): Judgement => ({ claim, group, verdict: "not measured", parts: [], wanting })

const TRAINS = "the report stage's `trains` input"

/** One group of the claim's method against its partner group, seed by seed. */
const judgePaired = (claim: Claim, against: string, own: ReadonlyArray<Cell>, input: ClaimInput, table: SeedTable): Judgement => {
  const group = groupLabel(groupFactors(own, table))
  const partner = partnerOf(groupFactors(own, table), table, against)
  if (partner === undefined) return notMeasured(claim, group, `needs ${against} in the same run, on the same seeds`)
  const setting = (cells: ReadonlyArray<Cell>, name: string) => (cells[0] === undefined ? undefined : valueFor(input.rows, cells[0].factors, "attach-adapter", name))
  for (const c of claim.at ?? []) {
    const mine = setting(own, c.setting)
    const wanted = c.value === "partner" ? setting(partner, c.setting) : c.value
    if (mine === undefined || wanted === undefined) return notMeasured(claim, group, `the run does not record ${c.setting}; the claim is at ${c.words}`)
    if (mine !== wanted) return notMeasured(claim, group, `${claim.method} ran at ${c.setting} = ${mine}; the claim is at ${c.words}: a run at ${c.setting} = ${wanted} would measure it`)
  }
  const pairs = pairBySeed(own, partner)
  if (pairs.length === 0) return notMeasured(claim, group, `no seed in common with ${against}`)
  const diffsOf = (value: (c: Cell) => number | undefined): ReadonlyArray<number> =>
    pairs.flatMap(([m, b]) => {
      const [x, y] = [value(m), value(b)]
      return x === undefined || y === undefined ? [] : [x - y]
    })
  const accuracy = () => pairedPart(`Δ accuracy (${claim.method} − ${against})`, "accuracy", diffsOf((c) => c.values.accuracy), "above", 0)
  const done = (parts: ReadonlyArray<Part | undefined>, wanting: string): Judgement => {
    if (parts.some((p) => p === undefined)) return notMeasured(claim, group, wanting)
    const ps = parts.flatMap((p) => (p === undefined ? [] : [p]))
    return { claim, group, verdict: combine(ps.map((p) => p.verdict)), parts: ps }
  }
  const test: ClaimTest = claim.test
  switch (test.kind) {
    case "more-accurate":
      return done([accuracy()], "needs test accuracies of both methods")
    case "fewer-params": {
      const count = (cells: ReadonlyArray<Cell>) => {
        const xs = cells.flatMap((c) => (c.values.trainable_params === undefined ? [] : [c.values.trainable_params]))
        return xs.length === 0 ? undefined : mean(xs)
      }
      const [mine, theirs] = [count(own), count(partner)]
      const ratio: Part | undefined =
        mine === undefined || theirs === undefined || mine <= 0
          ? undefined
          : { statistic: `trainable params ${against} / ${claim.method}`, unit: "ratio", direction: "above", bound: test.factor, value: theirs / mine, verdict: judgeExact(theirs / mine, "above", test.factor) }
      const comparable = pairedPart(`Δ accuracy (${claim.method} − ${against})`, "accuracy", diffsOf((c) => c.values.accuracy), "above", -test.margin)
      return done([ratio, comparable], `needs both methods' trainable parameter counts (${TRAINS}) and test accuracies`)
    }
    case "less-memory":
      return done(
        [pairedPart(`Δ peak tensor bytes of a training step (${claim.method} − ${against})`, "bytes", diffsOf((c) => c.values.peak_tensor_bytes), "below", 0)],
        `needs the peak tensor bytes of both methods' trains (${TRAINS})`,
      )
    case "faster-convergence": {
      const diffs = pairs.flatMap(([m, b]) => {
        const [x, y] = [curveOf(input.curves, m), curveOf(input.curves, b)]
        if (x === undefined || y === undefined) return []
        const steps = Math.min(x.length, y.length) // the common steps (a pipeline gives both the same)
        return [meanLoss(x, steps) - meanLoss(y, steps)]
      })
      return done(
        [pairedPart(`Δ mean training loss over the run (${claim.method} − ${against})`, "loss", diffs, "below", 0)],
        `needs both methods' per-step training losses (${TRAINS})`,
      )
    }
    case "rank-keeps-helping":
      return notMeasured(claim, group, "a claim about ranks is judged across ranks, not against another method")
  }
}

/**
 * The method alone at every rank the run trains it at (attach-adapter's recorded `rank`, however
 * the pipeline varies it), paired by seed between consecutive ranks: each step up must help.
 */
const judgeRanks = (claim: Claim, groups: ReadonlyArray<ReadonlyArray<Cell>>, input: ClaimInput): Judgement => {
  const ranked = groups.flatMap((cells) => {
    const rank = cells[0] === undefined ? undefined : valueFor(input.rows, cells[0].factors, "attach-adapter", "rank")
    return rank === undefined ? [] : [{ rank, cells }]
  })
  // One group per rank (the first, in result order), ascending.
  const byRank = ranked.filter((g, i) => ranked.findIndex((h) => h.rank === g.rank) === i).sort((a, b) => a.rank - b.rank)
  if (byRank.length < 2) {
    const at = byRank[0] === undefined ? "" : ` (r = ${byRank[0].rank})`
    return notMeasured(claim, claim.method, `this run trains ${claim.method} at one rank${at}: a pipeline that trains it at several ranks (a \`rank\` matrix axis on the attach-adapter, train and eval stages, e.g. method: [${claim.method}, lora] × rank: [8, 32, 128]) would measure it`)
  }
  const parts = byRank.slice(1).map((higher, i): Part | undefined => {
    const lower = byRank[i]
    if (lower === undefined) return undefined
    const diffs = pairBySeed(higher.cells, lower.cells).flatMap(([hi, lo]) =>
      hi.values.accuracy === undefined || lo.values.accuracy === undefined ? [] : [hi.values.accuracy - lo.values.accuracy])
    return pairedPart(`Δ accuracy (r = ${higher.rank} − r = ${lower.rank})`, "accuracy", diffs, "above", 0)
  })
  if (parts.some((p) => p === undefined)) return notMeasured(claim, claim.method, "needs test accuracies on common seeds at each rank")
  const ps = parts.flatMap((p) => (p === undefined ? [] : [p]))
  return { claim, group: claim.method, verdict: combine(ps.map((p) => p.verdict)), parts: ps }
}

/** Every claim whose method the run has, judged; claims of methods the run lacks are left out. */
export const judgeClaims = (input: ClaimInput, claims: ReadonlyArray<Claim> = CLAIMS): ReadonlyArray<Judgement> => {
  const table = seedTable(input.rows)
  return claims.flatMap((claim) => {
    const groups = [...table.groups.values()].filter((cells) => cells[0]?.factors[METHOD] === claim.method)
    if (groups.length === 0) return []
    if (claim.test.kind === "rank-keeps-helping") return [judgeRanks(claim, groups, input)]
    const against = claim.against
    if (against === undefined) return groups.map((cells) => notMeasured(claim, groupLabel(groupFactors(cells, table)), "the claim names no method to compare with"))
    return groups.map((cells) => judgePaired(claim, against, cells, input, table))
  })
}
