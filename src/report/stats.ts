/**
 * Small-sample statistics for seed aggregation: Student-t confidence intervals and the
 * paired t-test. Quantiles and the CDF come from stdlib (maintained, tested against
 * reference tables); this file only does the arithmetic around them.
 */
import tCdf from "@stdlib/stats-base-dists-t-cdf"
import tQuantile from "@stdlib/stats-base-dists-t-quantile"

export const CONFIDENCE = 0.95

/** A mean over seeds with its 95% interval `mean ± half`; `half` is undefined when n < 2. */
export interface Estimate {
  readonly n: number
  readonly mean: number
  readonly sd?: number
  readonly half?: number
}

/** Paired comparison of a method against the baseline on their shared seeds (method − baseline). */
export interface PairedTest {
  readonly n: number
  readonly meanDiff: number
  /** Half-width of the 95% interval of the mean difference (undefined when n < 2). */
  readonly half?: number
  readonly t?: number
  /** Two-sided p-value of H0: mean difference = 0 (undefined when n < 2 or every difference is 0). */
  readonly p?: number
}

export const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** Sample standard deviation (n − 1 in the denominator). */
export const sampleSd = (xs: ReadonlyArray<number>): number => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / (xs.length - 1))
}

/** The two-sided critical value t_{1−α/2, df}. */
export const tCritical = (df: number, confidence = CONFIDENCE): number => tQuantile(1 - (1 - confidence) / 2, df)

export const estimate = (xs: ReadonlyArray<number>): Estimate | undefined => {
  if (xs.length === 0) return undefined
  if (xs.length === 1) return { n: 1, mean: xs[0] ?? Number.NaN }
  const sd = sampleSd(xs)
  return { n: xs.length, mean: mean(xs), sd, half: (tCritical(xs.length - 1) * sd) / Math.sqrt(xs.length) }
}

/** Two-sided p-value of a t statistic; `cdf(−|t|)` keeps precision in the far tail. */
export const twoSidedP = (t: number, df: number): number => Math.min(1, 2 * tCdf(-Math.abs(t), df))

export const pairedTest = (diffs: ReadonlyArray<number>): PairedTest | undefined => {
  const e = estimate(diffs)
  if (e === undefined) return undefined
  if (e.sd === undefined || e.half === undefined) return { n: e.n, meanDiff: e.mean }
  if (e.sd === 0) {
    // Identical differences: no spread to test against. Equal methods → no evidence (p = 1);
    // a constant non-zero shift → t = ±∞, p = 0.
    return e.mean === 0
      ? { n: e.n, meanDiff: 0, half: 0, p: 1 }
      : { n: e.n, meanDiff: e.mean, half: 0, t: Math.sign(e.mean) * Infinity, p: 0 }
  }
  const t = e.mean / (e.sd / Math.sqrt(e.n))
  return { n: e.n, meanDiff: e.mean, half: e.half, t, p: twoSidedP(t, e.n - 1) }
}
