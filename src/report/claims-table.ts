/**
 * Each method's published headline as a checkable statement: what the paper claims, where, and
 * which of the report's measurements judges it (claims.ts does the judging). Data only.
 *
 * A claim names its method by registry name (src/adapters/specs/); the report lists a claim
 * only when the run has that method (a method the run never trained says nothing about its paper).
 * `against` is the method it is paired with, seed by seed.
 */

/** Non-inferiority margin for "comparable accuracy": the accuracy difference's CI must lie above −δ. */
export const COMPARABLE_MARGIN = 0.02

/** What a claim is judged on (claims.ts, `judgeClaim`). */
export type ClaimTest =
  /**
   * At least `factor` × fewer trainable parameters than `against` (exact counts: no interval),
   * at accuracy non-inferior by `margin` (the paired Δ accuracy's CI lies above −margin).
   */
  | { readonly kind: "fewer-params"; readonly factor: number; readonly margin: number }
  /** A lower mean training loss over the run's steps (area under the training-loss curve), paired by seed. */
  | { readonly kind: "faster-convergence" }
  /** A lower peak of tensor bytes during a training step (the train stage's `peak_tensor_bytes`), paired by seed. */
  | { readonly kind: "less-memory" }
  /** A higher test accuracy, paired by seed. */
  | { readonly kind: "more-accurate" }
  /** Accuracy rises with every higher rank the run trains the method at, paired by seed across ranks. */
  | { readonly kind: "rank-keeps-helping" }

/**
 * A setting the claim is stated at (attach-adapter's recorded value): a number, or "partner" for
 * "the same as the method it is compared with" (DoRA vs LoRA at equal rank).
 */
export interface ClaimCondition {
  readonly setting: string
  readonly value: number | "partner"
  /** How to say it: "B's learning rate 16 × A's (loraplus_ratio)". */
  readonly words: string
}

export interface Claim {
  /** The method the paper proposes (registry name). */
  readonly method: string
  /** The method it is compared with; absent for a claim about the method alone. */
  readonly against?: string
  /** The checkable statement. */
  readonly statement: string
  /** Authors, venue, year. */
  readonly source: string
  readonly arxiv: string
  readonly test: ClaimTest
  readonly at?: ReadonlyArray<ClaimCondition>
}

export const CLAIMS: ReadonlyArray<Claim> = [
  {
    method: "vera",
    against: "lora",
    statement: "≥ 10× fewer trainable parameters than LoRA at comparable accuracy",
    source: "Kopiczko et al., ICLR 2024",
    arxiv: "2310.11454",
    test: { kind: "fewer-params", factor: 10, margin: COMPARABLE_MARGIN },
  },
  {
    method: "lora-plus",
    against: "lora",
    statement: "converges faster than LoRA with B's learning rate 16× A's",
    source: "Hayou et al., ICML 2024",
    arxiv: "2402.12354",
    test: { kind: "faster-convergence" },
    at: [{ setting: "loraplus_ratio", value: 16, words: "loraplus_ratio = 16" }],
  },
  {
    method: "lora-fa",
    against: "lora",
    statement: "less activation memory than LoRA (A frozen: x need not be kept for A's gradient)",
    source: "Zhang et al., 2023",
    arxiv: "2308.03303",
    test: { kind: "less-memory" },
  },
  {
    method: "dora",
    against: "lora",
    statement: "more accurate than LoRA at equal rank",
    source: "Liu et al., ICML 2024",
    arxiv: "2402.09353",
    test: { kind: "more-accurate" },
    at: [{ setting: "rank", value: "partner", words: "the same rank as LoRA" }],
  },
  {
    method: "rslora",
    statement: "a higher rank keeps helping (with s = α/√r; LoRA's α/r stalls)",
    source: "Kalajdzievski, 2023",
    arxiv: "2312.03732",
    test: { kind: "rank-keeps-helping" },
  },
  {
    method: "pissa",
    against: "lora",
    statement: "converges faster than LoRA",
    source: "Meng et al., NeurIPS 2024",
    arxiv: "2404.02948",
    test: { kind: "faster-convergence" },
  },
  {
    method: "olora",
    against: "lora",
    statement: "converges faster than LoRA",
    source: "Büyükakyüz, 2024",
    arxiv: "2406.01775",
    test: { kind: "faster-convergence" },
  },
  {
    method: "delta-lora",
    against: "lora",
    statement: "more accurate than LoRA",
    source: "Zi et al., 2023",
    arxiv: "2309.02411",
    test: { kind: "more-accurate" },
  },
]
