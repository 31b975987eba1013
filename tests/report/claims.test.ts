/**
 * The claims section on synthetic runs whose truth is built in: per-seed results chosen so that
 * one claim holds, one fails, one is within noise and one cannot be measured, each reaching its
 * verdict; the decision rule at its boundaries; and the rendered Markdown. Values are dyadic
 * fractions (k/64 …), so means and differences are exact in floating point.
 */
import { describe, expect, it } from "vitest"
import { claimsMarkdown, claimsText, showPart } from "../../src/report/claims-format.ts"
import { CLAIMS } from "../../src/report/claims-table.ts"
import { combine, judgeClaims, judgeExact, judgeInterval, meanLoss, type Judgement, type LossCurve } from "../../src/report/claims.ts"
import type { ResultRow } from "../../src/report/results.ts"
import { tCritical } from "../../src/report/stats.ts"

const MIB = 1024 * 1024
const SEEDS = [1, 2, 3] as const

interface MethodRun {
  /** Test accuracy per seed 1..3. */
  readonly accuracy: ReadonlyArray<number>
  /** attach-adapter's recorded numbers (trainable_params, rank, loraplus_ratio …). */
  readonly adapter?: Readonly<Record<string, number>>
  /** train's peak_tensor_bytes per seed. */
  readonly peak?: ReadonlyArray<number>
  /** The per-step training loss per seed. */
  readonly losses?: ReadonlyArray<ReadonlyArray<number>>
  /** Extra factors of the method's cells (a rank axis). */
  readonly factors?: Readonly<Record<string, number>>
}

/** The rows and curves a run of these methods gives (as the report stage builds them from artifacts). */
const synthetic = (runs: ReadonlyArray<readonly [string, MethodRun]>): { rows: ReadonlyArray<ResultRow>; curves: ReadonlyArray<LossCurve> } => {
  let id = 0
  const row = (kind: string, factors: ResultRow["factors"], metrics: Record<string, number>): ResultRow => {
    id += 1
    return { executionId: id, sourceId: id, instanceId: `${kind}#${id}`, stage: kind, kind, factors, params: kind === "eval" ? { split: "test" } : {}, metrics }
  }
  const rows = runs.flatMap(([method, r]) => [
    row("attach-adapter", { method, ...r.factors }, { ...r.adapter }),
    ...SEEDS.flatMap((seed, i) => [
      row("eval", { method, ...r.factors, seed }, { accuracy: r.accuracy[i] ?? Number.NaN }),
      ...(r.peak === undefined ? [] : [row("train", { method, ...r.factors, seed }, { peak_tensor_bytes: r.peak[i] ?? Number.NaN })]),
    ]),
  ])
  const curves = runs.flatMap(([method, r]) => (r.losses ?? []).map((losses, i) => ({ factors: { method, ...r.factors, seed: SEEDS[i] ?? 0 }, losses })))
  return { rows, curves }
}

const T2 = tCritical(2)
const LORA_ACC = [0.75, 0.8125, 0.875]
const plus = (xs: ReadonlyArray<number>, ds: ReadonlyArray<number>) => xs.map((x, i) => x + (ds[i] ?? Number.NaN))
const LORA_CURVE = [1, 0.5, 0.25, 0.25] // mean 0.5

/**
 * One run, four truths:
 * - DoRA = LoRA + (2, 3, 4)/64 at the same rank: Δ = 3/64 ± T2·(1/64)/√3 = 0.0469 ± 0.0388 → lo > 0: holds.
 * - Delta-LoRA = LoRA − (4, 3, 2)/64: hi = −3/64 + 0.0388 < 0: does not hold.
 * - LoRA+ (λ = 16) mean training loss − LoRA's = (−4, +4, −6)/64: straddles 0: cannot be told apart.
 * - rsLoRA at one rank only: not measured.
 * PiSSA, OLoRA, VeRA and LoRA-FA are not in the run: their claims are not listed.
 */
const fourTruths = synthetic([
  ["lora", { accuracy: LORA_ACC, adapter: { rank: 8, trainable_params: 36864 }, losses: [LORA_CURVE, LORA_CURVE, LORA_CURVE] }],
  ["dora", { accuracy: plus(LORA_ACC, [2 / 64, 3 / 64, 4 / 64]), adapter: { rank: 8 } }],
  ["delta-lora", { accuracy: plus(LORA_ACC, [-4 / 64, -3 / 64, -2 / 64]), adapter: { rank: 8 } }],
  ["lora-plus", { accuracy: LORA_ACC, adapter: { rank: 8, loraplus_ratio: 16 }, losses: [[1, 0.25, 0.25, 0.25], [1, 0.75, 0.25, 0.25], [1, 0.25, 0.125, 0.25]] }],
  ["rslora", { accuracy: LORA_ACC, adapter: { rank: 8 } }],
])

const byMethod = (js: ReadonlyArray<Judgement>, method: string): Judgement => {
  const j = js.find((x) => x.claim.method === method)
  if (j === undefined) throw new Error(`no judgement for ${method}`)
  return j
}

describe("judgeInterval: a one-sided claim on a two-sided interval", () => {
  it("holds only when the interval excludes the null, fails only when it excludes the claim", () => {
    // claim Δ > 0
    expect(judgeInterval({ n: 3, meanDiff: 0.5, half: 0.25 }, "above", 0)).toBe("holds") // [0.25, 0.75]
    expect(judgeInterval({ n: 3, meanDiff: 0.5, half: 0.5 }, "above", 0)).toBe("cannot be told apart") // [0, 1]: touches the null
    expect(judgeInterval({ n: 3, meanDiff: -0.5, half: 0.5 }, "above", 0)).toBe("does not hold") // [−1, 0]: excludes Δ > 0
    expect(judgeInterval({ n: 3, meanDiff: 0, half: 0 }, "above", 0)).toBe("does not hold") // identical methods
    // claim Δ < 0 (a loss, a memory figure)
    expect(judgeInterval({ n: 3, meanDiff: -0.5, half: 0.25 }, "below", 0)).toBe("holds")
    expect(judgeInterval({ n: 3, meanDiff: 0.5, half: 0.5 }, "below", 0)).toBe("does not hold") // [0, 1]
    // non-inferiority: Δ > −δ
    expect(judgeInterval({ n: 3, meanDiff: -0.25, half: 0.5 }, "above", -1)).toBe("holds") // [−0.75, 0.25]
    expect(judgeInterval({ n: 3, meanDiff: -1.5, half: 0.5 }, "above", -1)).toBe("does not hold") // [−2, −1]
    // one seed: no interval, whatever the difference
    expect(judgeInterval({ n: 1, meanDiff: 5 }, "above", 0)).toBe("cannot be told apart")
  })

  it("exact quantities are compared as they are (≥ 10× holds at 10); parts combine", () => {
    expect(judgeExact(10, "above", 10)).toBe("holds")
    expect(judgeExact(36864 / 5376, "above", 10)).toBe("does not hold")
    expect(combine(["holds", "holds"])).toBe("holds")
    expect(combine(["holds", "cannot be told apart"])).toBe("cannot be told apart")
    expect(combine(["cannot be told apart", "does not hold"])).toBe("does not hold")
    expect(combine(["holds", "not measured"])).toBe("not measured")
    expect(combine(["not measured", "does not hold"])).toBe("does not hold")
  })

  it("convergence is the mean loss over the common steps", () => {
    expect(meanLoss([1, 0.5, 0.25, 0.25], 4)).toBe(0.5)
    expect(meanLoss([1, 0.5, 0.25, 0.25], 2)).toBe(0.75)
  })
})

describe("judgeClaims on a run whose truth is built in", () => {
  const js = judgeClaims(fourTruths)

  it("lists the claims of the methods the run has, in the table's order", () => {
    expect(js.map((j) => [j.group, j.verdict])).toEqual([
      ["lora-plus", "cannot be told apart"],
      ["dora", "holds"],
      ["rslora", "not measured"],
      ["delta-lora", "does not hold"],
    ])
  })

  it("DoRA above LoRA at equal rank: holds, on the paired interval", () => {
    const [part] = byMethod(js, "dora").parts
    expect(part?.test).toEqual({ n: 3, meanDiff: 3 / 64, half: (T2 * (1 / 64)) / Math.sqrt(3), t: expect.any(Number), p: expect.any(Number) })
    expect(part?.test?.t).toBeCloseTo(3 * Math.sqrt(3), 12) // (3/64) / ((1/64)/√3)
    expect(part).toMatchObject({ statistic: "Δ accuracy (dora − lora)", direction: "above", bound: 0, verdict: "holds" })
  })

  it("Delta-LoRA above LoRA: does not hold, the interval lies below 0", () => {
    const [part] = byMethod(js, "delta-lora").parts
    expect(part?.test?.meanDiff).toBe(-3 / 64)
    expect(part?.test?.half).toBe((T2 * (1 / 64)) / Math.sqrt(3))
    expect((part?.test?.meanDiff ?? 0) + (part?.test?.half ?? 0)).toBeLessThan(0)
  })

  it("LoRA+ faster convergence: within noise, the interval straddles 0", () => {
    const [part] = byMethod(js, "lora-plus").parts
    // mean losses 0.4375, 0.5625, 0.40625 vs 0.5: Δ = (−4, +4, −6)/64, mean −2/64, s = √(0.0068359375)
    expect(part?.test?.meanDiff).toBe(-2 / 64)
    expect(part?.test?.half).toBeCloseTo((T2 * Math.sqrt(0.0068359375)) / Math.sqrt(3), 14)
    expect(part).toMatchObject({ statistic: "Δ mean training loss over the run (lora-plus − lora)", direction: "below", bound: 0, verdict: "cannot be told apart" })
  })

  it("rsLoRA at one rank: not measured, saying what would measure it", () => {
    expect(byMethod(js, "rslora")).toEqual({
      claim: CLAIMS.find((c) => c.method === "rslora"),
      group: "rslora",
      verdict: "not measured",
      parts: [],
      wanting: "this run trains rslora at one rank (r = 8): a pipeline that trains it at several ranks (a `rank` matrix axis on the attach-adapter, train and eval stages, e.g. method: [rslora, lora] × rank: [8, 32, 128]) would measure it",
    })
  })
})

describe("judgeClaims: the other tests", () => {
  it("VeRA: a 6.86× count fails the ≥ 10× claim whatever the accuracy; 12× with non-inferior accuracy holds", () => {
    const run = (veraParams: number, diffs: ReadonlyArray<number>) =>
      byMethod(judgeClaims(synthetic([
        ["lora", { accuracy: LORA_ACC, adapter: { trainable_params: 36864 } }],
        ["vera", { accuracy: plus(LORA_ACC, diffs), adapter: { trainable_params: veraParams } }],
      ])), "vera")
    const small = run(5376, [0, 1 / 64, -1 / 64]) // Δ 0 ± T2·(1/64)/√3 = ±0.0388: lo −0.0388 < −0.02 → cannot tell
    expect(small.verdict).toBe("does not hold")
    expect(small.parts.map((p) => [p.value, p.verdict])).toEqual([[36864 / 5376, "does not hold"], [undefined, "cannot be told apart"]])
    const fewer = run(3072, [2 / 256, 0, 1 / 256]) // 12×; Δ 1/256 ± T2·(1/256)/√3 = 0.0039 ± 0.0097: lo > −0.02
    expect(fewer.verdict).toBe("holds")
    expect(fewer.parts.map((p) => [p.value, p.bound, p.verdict])).toEqual([[12, 10, "holds"], [undefined, -0.02, "holds"]])
    // Two parts: each row says which part decided.
    expect(claimsMarkdown([small]).split("\n").at(-2)).toBe(
      "| vera | ≥ 10× fewer trainable parameters than LoRA at comparable accuracy | Kopiczko et al., ICLR 2024, arXiv 2310.11454 | trainable params lora / vera = 6.86× (claim ≥ 10×): does not hold; Δ accuracy (vera − lora) = +0.000 ± 0.039 over 3 seeds (claim > −0.020): cannot be told apart | **does not hold** |",
    )
  })

  it("LoRA-FA: a constant 1 MiB less at every seed holds (a zero-width interval below 0)", () => {
    const j = byMethod(judgeClaims(synthetic([
      ["lora", { accuracy: LORA_ACC, peak: [100 * MIB, 104 * MIB, 102 * MIB] }],
      ["lora-fa", { accuracy: LORA_ACC, peak: [99 * MIB, 103 * MIB, 101 * MIB] }],
    ])), "lora-fa")
    expect(j.verdict).toBe("holds")
    expect(j.parts[0]?.test).toEqual({ n: 3, meanDiff: -MIB, half: 0, t: -Infinity, p: 0 })
    expect(showPart(j.parts[0]!)).toBe("Δ peak tensor bytes of a training step (lora-fa − lora) = −1.00 ± 0.00 MiB over 3 seeds (claim < 0 MiB)")
  })

  it("not measured when the run lacks what the claim needs: the memory column, the curves, the claimed setting, the partner", () => {
    const noTrains = judgeClaims(synthetic([["lora", { accuracy: LORA_ACC }], ["lora-fa", { accuracy: LORA_ACC }], ["pissa", { accuracy: LORA_ACC }]]))
    expect(noTrains.map((j) => [j.group, j.verdict, j.wanting])).toEqual([
      ["lora-fa", "not measured", "needs the peak tensor bytes of both methods' trains (the report stage's `trains` input)"],
      ["pissa", "not measured", "needs both methods' per-step training losses (the report stage's `trains` input)"],
    ])
    const ratio4 = judgeClaims(synthetic([["lora", { accuracy: LORA_ACC }], ["lora-plus", { accuracy: LORA_ACC, adapter: { loraplus_ratio: 4 } }]]))
    expect(ratio4[0]?.wanting).toBe("lora-plus ran at loraplus_ratio = 4; the claim is at loraplus_ratio = 16: a run at loraplus_ratio = 16 would measure it")
    const ranks = judgeClaims(synthetic([["lora", { accuracy: LORA_ACC, adapter: { rank: 8 } }], ["dora", { accuracy: LORA_ACC, adapter: { rank: 16 } }]]))
    expect(ranks[0]?.wanting).toBe("dora ran at rank = 16; the claim is at the same rank as LoRA: a run at rank = 8 would measure it")
    const alone = judgeClaims(synthetic([["olora", { accuracy: LORA_ACC }]]))
    expect(alone.map((j) => [j.verdict, j.wanting])).toEqual([["not measured", "needs lora in the same run, on the same seeds"]])
  })

  it("rsLoRA across ranks: each step up must help (8 → 32 helps, 32 → 128 within noise)", () => {
    const at = (rank: number, diffs: ReadonlyArray<number>) =>
      ["rslora", { accuracy: plus(LORA_ACC, diffs), adapter: { rank }, factors: { rank } }] as const
    const j = byMethod(judgeClaims(synthetic([at(8, [0, 0, 0]), at(32, [2 / 64, 3 / 64, 4 / 64]), at(128, [2 / 64, 5 / 64, 2 / 64])])), "rslora")
    expect(j.group).toBe("rslora")
    expect(j.parts.map((p) => [p.statistic, p.test?.meanDiff, p.verdict])).toEqual([
      ["Δ accuracy (r = 32 − r = 8)", 3 / 64, "holds"],
      ["Δ accuracy (r = 128 − r = 32)", 0, "cannot be told apart"],
    ])
    expect(j.verdict).toBe("cannot be told apart")
  })
})

describe("the rendered section", () => {
  it("is a Markdown table after the rules, one row per claim, with its source and the interval it was read from", () => {
    const md = claimsMarkdown(judgeClaims(fourTruths))
    const half = ((T2 * (1 / 64)) / Math.sqrt(3)).toFixed(3)
    expect(half).toBe("0.039")
    expect(md.split("\n").slice(0, 3)).toEqual(["", "### Claims", ""])
    expect(md.split("\n").slice(5)).toEqual([
      "| method | claim | source | this run | verdict |",
      "|:---|:---|:---|:---|:---|",
      "| lora-plus | converges faster than LoRA with B's learning rate 16× A's | Hayou et al., ICML 2024, arXiv 2402.12354 | Δ mean training loss over the run (lora-plus − lora) = −0.0313 ± 0.2054 nats over 3 seeds (claim < 0 nats) | **cannot be told apart** |",
      "| dora | more accurate than LoRA at equal rank | Liu et al., ICML 2024, arXiv 2402.09353 | Δ accuracy (dora − lora) = +0.047 ± 0.039 over 3 seeds (claim > 0) | **holds** |",
      "| rslora | a higher rank keeps helping (with s = α/√r; LoRA's α/r stalls) | Kalajdzievski, 2023, arXiv 2312.03732 | this run trains rslora at one rank (r = 8): a pipeline that trains it at several ranks (a `rank` matrix axis on the attach-adapter, train and eval stages, e.g. method: [rslora, lora] × rank: [8, 32, 128]) would measure it | **not measured** |",
      "| delta-lora | more accurate than LoRA | Zi et al., 2023, arXiv 2309.02411 | Δ accuracy (delta-lora − lora) = −0.047 ± 0.039 over 3 seeds (claim > 0) | **does not hold** |",
      "",
    ])
    expect(md.split("\n")[3]).toContain("**holds**: the CI excludes the null; **does not hold**: the CI excludes the claim; **cannot be told apart**: neither")
  })

  it("is empty when no method of the run has a claim", () => {
    const none = judgeClaims(synthetic([["lora", { accuracy: LORA_ACC }], ["full", { accuracy: LORA_ACC }]]))
    expect(none).toEqual([])
    expect(claimsMarkdown(none)).toBe("")
    expect(claimsText(none)).toBe("")
  })

  it("as text: one block per claim", () => {
    const txt = claimsText(judgeClaims(fourTruths)).split("\n")
    expect(txt.slice(2, 5)).toEqual([
      "  lora-plus: converges faster than LoRA with B's learning rate 16× A's — CANNOT BE TOLD APART",
      "      Hayou et al., ICML 2024, arXiv 2402.12354",
      "      Δ mean training loss over the run (lora-plus − lora) = −0.0313 ± 0.2054 nats over 3 seeds (claim < 0 nats)",
    ])
  })
})
