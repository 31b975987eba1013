/**
 * Deterministic train / validation / test splits: a pure function of (examples, seed,
 * fractions). Stratified by completion when the completions are a small label set, so every
 * split keeps the class ratio (SpamAssassin is 69 % ham).
 */
import { createHash } from "node:crypto"
import { mulberry32 } from "../../mulberry32.ts"

export interface Example {
  readonly prompt: string
  readonly completion: string
}

export interface SplitOptions {
  readonly splitSeed: number
  readonly valFraction: number
  readonly testFraction: number
}

export interface Splits {
  readonly train: ReadonlyArray<Example>
  readonly validation: ReadonlyArray<Example>
  readonly test: ReadonlyArray<Example>
}


/** Fisher–Yates with a seeded stream. */
export const shuffled = <A>(items: ReadonlyArray<A>, seed: number): A[] => {
  const out = [...items]
  const next = mulberry32(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[out[i], out[j]] = [out[j] as A, out[i] as A]
  }
  return out
}

/** Up to this many distinct completions count as class labels. */
export const MAX_LABELS = 32

export const labelsOf = (examples: ReadonlyArray<Example>): string[] => {
  const distinct = [...new Set(examples.map((e) => e.completion))].sort()
  return distinct.length <= MAX_LABELS ? distinct : []
}

export const splitExamples = (examples: ReadonlyArray<Example>, opts: SplitOptions): Splits => {
  const { valFraction, testFraction } = opts
  if (!(valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1)) {
    throw new Error(`split fractions must be ≥ 0 and sum below 1 (validation ${valFraction}, test ${testFraction})`)
  }
  const labels = labelsOf(examples)
  const strata = labels.length > 0 ? labels.map((l) => examples.filter((e) => e.completion === l)) : [examples]
  const out = { train: [] as Example[], validation: [] as Example[], test: [] as Example[] }
  // Cumulative rounding: each split's total is round(N·fraction), shared out across strata.
  let before = 0
  strata.forEach((group, k) => {
    const order = shuffled(group, opts.splitSeed * 1009 + k)
    const after = before + group.length
    const share = (f: number) => Math.round(after * f) - Math.round(before * f)
    const [nTest, nVal] = [share(testFraction), share(valFraction)]
    before = after
    out.test.push(...order.slice(0, nTest))
    out.validation.push(...order.slice(nTest, nTest + nVal))
    out.train.push(...order.slice(nTest + nVal))
  })
  // Interleave classes again so a prefix of a split is not all one label.
  return {
    train: shuffled(out.train, opts.splitSeed + 1),
    validation: shuffled(out.validation, opts.splitSeed + 2),
    test: shuffled(out.test, opts.splitSeed + 3),
  }
}

/** sha256 of the examples in order: names a dataset by content. */
export const digestExamples = (examples: ReadonlyArray<Example>): string => {
  const h = createHash("sha256")
  for (const e of examples) h.update(JSON.stringify([e.prompt, e.completion])).update("\n")
  return h.digest("hex")
}
