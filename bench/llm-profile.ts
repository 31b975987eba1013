/**
 * The profile split of one Llama-family training step (bench/llm-worker.ts), in the categories of
 * bench/llm_torch.py: tf.profile's per-kernel times, each kernel attributed by its name and, for
 * tfjs's generic elementwise kernels, by the shapes it touches (which only one piece of the block
 * has, given the config's sizes):
 *
 *   matmul          every product of q/k/v/o/gate/up/down and the adapters' maths (N·r shapes)
 *   attention       PeftlabAttention(±Backward) (scores, causal softmax, values) and GQA's
 *                   repeat_kv copies and their gradient sums ([N, nKv, g, hd] shapes)
 *   norm            RMSNorm: its reductions and its (N, 1) / (C,) broadcasts, or PeftlabRmsNorm
 *   rope            rotate_half on q and k ([B, T, heads, hd/2] shapes), or PeftlabRope
 *   activation      SiLU and the gate product ((N, F) elementwise), or PeftlabSwiGlu
 *   embedding_head  the embedding gather and its scatter-add, the head product (a V-wide
 *                   operand), the cross-entropy
 *   optimizer       AdamW
 *   other           the rest (residual adds, reshapes, casts)
 * torch's "attention" also holds RoPE: add the two to compare.
 */
import * as tf from "@tensorflow/tfjs"

export interface Dims {
  readonly B: number
  readonly T: number
  readonly C: number
  readonly F: number
  readonly V: number
  readonly nHead: number
  readonly nKv: number
  readonly hd: number
  readonly rank: number
}

export const CATEGORIES = ["matmul", "attention", "norm", "rope", "activation", "embedding_head", "optimizer", "other"] as const
export type Category = (typeof CATEGORIES)[number]

const PRODUCTS = new Set(["BatchMatMul", "_FusedMatMul", "MatMul", "PeftlabDense"])

export const categorize = (name: string, shapes: ReadonlyArray<ReadonlyArray<number>>, d: Dims): Category => {
  const N = d.B * d.T
  const is = (s: ReadonlyArray<number>, ...want: number[]) => s.length === want.length && want.every((w, i) => w < 0 || s[i] === w)
  if (/AdamW/.test(name)) return "optimizer"
  if (/Rms/.test(name)) return "norm"
  if (/Rope/.test(name)) return "rope"
  if (/SwiGlu|Silu/.test(name)) return "activation"
  if (/Attention/.test(name)) return "attention"
  if (/CrossEntropy|GatherV2|UnsortedSegmentSum|OneHot|Softmax/.test(name) || shapes.some((s) => s.includes(d.V))) return "embedding_head"
  if (PRODUCTS.has(name)) return "matmul"
  if (shapes.some((s) => is(s, N, d.rank) || is(s, d.rank, -1) || is(s, -1, d.rank))) return "matmul" // LoRA's scale and its gradient
  if (shapes.some((s) => s.length === 4 && s[1] === d.nKv && s[3] === d.hd && s[0] === N)) return "attention"
  if (shapes.some((s) => s.length === 4 && s[3] === d.hd / 2)) return "rope"
  if (shapes.some((s) => is(s, d.B, d.T, -1, d.hd))) return "rope"
  if (name === "Sigmoid" || shapes.some((s) => is(s, N, d.F))) return "activation"
  if (/Square|Rsqrt|Mean/.test(name) || shapes.some((s) => is(s, N, 1) || is(s, d.C))) return "norm"
  return "other"
}

export interface Split {
  readonly profile_ms: number
  readonly kernels: number
  readonly shares: Record<Category, number>
  /** The largest kernels of "other", to see what the rules leave unattributed. */
  readonly other_top: ReadonlyArray<string>
}

/** Runs `step` once under tf.profile and splits its kernel time. */
export const splitProfile = async (step: () => void, d: Dims): Promise<Split> => {
  const prof = await tf.profile(step)
  const total = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>
  const other = new Map<string, number>()
  for (const k of prof.kernels) {
    const ms = (await k.kernelTimeMs) as number
    const shapes = [...k.inputShapes, ...k.outputShapes].filter((s): s is number[] => Array.isArray(s))
    const c = categorize(k.name, shapes, d)
    total[c] += ms
    if (c === "other") {
      const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join("·")}`
      other.set(key, (other.get(key) ?? 0) + ms)
    }
  }
  const sum = Object.values(total).reduce((a, b) => a + b, 0)
  return {
    profile_ms: Math.round(sum * 10) / 10,
    kernels: prof.kernels.length,
    shares: Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((total[c] / sum) * 1e4) / 1e4])) as Record<Category, number>,
    other_top: [...other].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, ms]) => `${ms.toFixed(1)} ms ${k}`),
  }
}
