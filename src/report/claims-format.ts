/**
 * The claims section as text: a Markdown table (comparison.md) and an indented list that fits
 * 100 columns (comparison.txt). Each line: the method, the claim with its source, what this run
 * measured (the interval the verdict was read from, and the bound it was read against), the verdict.
 */
import { COMPARABLE_MARGIN } from "./claims-table.ts"
import type { Judgement, Part, Unit } from "./claims.ts"
import { markdownTable } from "./table.ts"

const MIB = 1024 * 1024

const signed = (x: number, digits: number): string => (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(digits)
const plain = (x: number, digits: number): string => (x < 0 ? "−" : "") + Math.abs(x).toFixed(digits)
/** A claim's figure as stated: 0, 10, −0.020. */
const figure = (x: number, digits: number): string => (Number.isInteger(x) ? plain(x, 0) : plain(x, digits))

const SHOW: Readonly<Record<Unit, { readonly scale: number; readonly digits: number; readonly suffix: string }>> = {
  accuracy: { scale: 1, digits: 3, suffix: "" },
  loss: { scale: 1, digits: 4, suffix: " nats" },
  bytes: { scale: MIB, digits: 2, suffix: " MiB" },
  ratio: { scale: 1, digits: 2, suffix: "×" },
}

/** `Δ accuracy (dora − lora) = +0.004 ± 0.010 over 3 seeds (claim > 0.000)`. */
export const showPart = (p: Part): string => {
  const s = SHOW[p.unit]
  const bound = `claim ${p.direction === "above" ? (p.test === undefined ? "≥" : ">") : p.test === undefined ? "≤" : "<"} ${figure(p.bound / s.scale, s.digits)}${s.suffix}`
  if (p.value !== undefined) return `${p.statistic} = ${plain(p.value / s.scale, s.digits)}${s.suffix} (${bound})`
  const t = p.test
  if (t === undefined) return p.statistic
  const seeds = `${t.n} seed${t.n === 1 ? "" : "s"}`
  const interval = t.half === undefined ? `${signed(t.meanDiff / s.scale, s.digits)}${s.suffix} (${seeds}: no interval; ${bound})` : `${signed(t.meanDiff / s.scale, s.digits)} ± ${(t.half / s.scale).toFixed(s.digits)}${s.suffix} over ${seeds} (${bound})`
  return `${p.statistic} = ${interval}`
}

/** A part as shown in a claim's row: with its own verdict when the claim has several parts (which one failed). */
const partLines = (j: Judgement): ReadonlyArray<string> => j.parts.map((p) => (j.parts.length > 1 ? `${showPart(p)}: ${p.verdict}` : showPart(p)))

const measured = (j: Judgement): string => (j.verdict === "not measured" ? (j.wanting ?? "") : partLines(j).join("; "))

const source = (j: Judgement): string => `${j.claim.source}, arXiv ${j.claim.arxiv}`

export const CLAIMS_RULES =
  "Each method's published headline, judged on this run: 95 % CI over seeds (Student t), paired by seed. " +
  "**holds**: the CI excludes the null; **does not hold**: the CI excludes the claim; **cannot be told apart**: neither; " +
  "**not measured**: the run lacks what the claim needs (said in its row). " +
  `Convergence = mean training loss over the run's steps (the area under the training-loss curve per step; lower = faster). ` +
  `Comparable accuracy = non-inferior by δ = ${COMPARABLE_MARGIN} (the CI of Δ accuracy lies above −${COMPARABLE_MARGIN}).`

/** The section for comparison.md; empty when the run has no method with a claim. */
export const claimsMarkdown = (js: ReadonlyArray<Judgement>): string =>
  js.length === 0
    ? ""
    : `\n### Claims\n\n${CLAIMS_RULES}\n\n` +
      markdownTable({
        headers: ["method", "claim", "source", "this run", "verdict"],
        rows: js.map((j) => [j.group, j.claim.statement, source(j), measured(j), `**${j.verdict}**`]),
        align: ["left", "left", "left", "left", "left"],
      }) +
      "\n"

/** The section for comparison.txt: one block per claim. */
export const claimsText = (js: ReadonlyArray<Judgement>): string =>
  js.length === 0
    ? ""
    : "\nclaims (95% CI over seeds, paired by seed; holds = CI excludes the null, does not hold = CI excludes the claim):\n" +
      js.map((j) => [`  ${j.group}: ${j.claim.statement} — ${j.verdict.toUpperCase()}`, `      ${source(j)}`, ...(j.verdict === "not measured" ? [`      ${j.wanting ?? ""}`] : partLines(j).map((l) => `      ${l}`))].join("\n")).join("\n") +
      "\n"
