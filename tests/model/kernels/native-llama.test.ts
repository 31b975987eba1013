/**
 * The native Llama kernels (native/llama.c, src/model/kernels/native-llama.ts): RMSNorm, RoPE,
 * SiLU·gate and grouped-query attention without repeat_kv.
 * - each op's value and gradients against llama.ts's tfjs ops under tfjs autodiff on cpu;
 * - a whole tiny Llama (GQA, q/k/v biases, tied head, packed layout too): loss and every
 *   gradient on native against cpu, with the fused kernels seen running (tf.profile);
 * - bad operands are thrown errors, never a crash.
 * Tolerances as in native.test.ts: 2e-5 relative to the largest magnitude (float32 rounding in
 * another order, reductions in double; an indexing or sign mistake is O(1)).
 */
import * as tf from "@tensorflow/tfjs"
import { describe, expect, it } from "vitest"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { disposeGPT, forward, initGPT, maskedCrossEntropy, type LlamaConfig } from "../../../src/model/arch/model.ts"
import { applyRotary, repeatKv, rmsNorm, rotaryFor, silu } from "../../../src/model/arch/llama.ts"
import { attend, type ForwardContext } from "../../../src/model/arch/layers.ts"
import { llamaAddon, llamaKernelsAvailable, nativeGqaAttention, nativeRmsNorm, nativeRope, nativeSwiGlu } from "../../../src/model/kernels/native-llama.ts"
import { matmulPath } from "../../../src/model/kernels/ops.ts"
import { collatePacked, disposePacked, packCompletions } from "../../../src/model/data/packing.ts"
import { packedLogProbs } from "../../../src/model/losses.ts"

const on = async <T extends number[][]>(backend: "cpu" | "native", f: () => T): Promise<T> => {
  await initBackend(backend)
  const before = tf.memory().numTensors
  const out = f()
  expect(tf.memory().numTensors, `tensors left by ${backend}`).toBe(before)
  return out
}

const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let scale = 1e-12
  let diff = 0
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!), Math.abs(b[i]!))
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
  }
  return diff / scale
}

// (maxPositionEmbeddings: the field main's config gains beside blockSize; a cast keeps both compiling.)
const cfg = (over: Partial<LlamaConfig> = {}): LlamaConfig => ({
  arch: "llama", family: "qwen2", vocabSize: 24, blockSize: 8, maxPositionEmbeddings: 8, nLayer: 2, nHead: 6, nKvHead: 2, headDim: 4, nEmbd: 12, intermediateSize: 20,
  tieWeights: true, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: "default" }, qkvBias: true, oBias: false, mlpBias: false, slidingWindow: null, ...over,
}) as LlamaConfig

/** Loss = Σ y·r for a fixed random r (every output element gets its own gradient weight). */
const grads = (f: (xs: tf.Variable[]) => tf.Tensor, shapes: number[][], seed: number): number[][] => {
  const xs = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0.2, 1.5, "float32", seed + i)))
  const { value, grads: g } = tf.variableGrads(() => {
    const y = f(xs)
    return tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, "float32", seed + 99))) as tf.Scalar
  }, xs)
  const out = [[...value.dataSync()], ...xs.map((x) => [...(g[x.name] as tf.Tensor).dataSync()])]
  tf.dispose([value, ...Object.values(g), ...xs])
  return out
}

const kernelsRun = async (f: () => void): Promise<Set<string>> => new Set((await tf.profile(f)).kernels.map((k) => k.name))

describe("native Llama kernels", () => {
  it("are built", () => expect(llamaKernelsAvailable()).toBe(true))

  it("RMSNorm, RoPE (shared and per-sequence tables), SiLU·gate and GQA attention (g = 1, 3; causal and packed masks): values and gradients equal tfjs autodiff on cpu", async () => {
    const [B, T, D] = [2, 5, 6]
    const c = cfg({ headDim: D })
    const cases: Array<[string, () => number[][]]> = [
      ["rmsNorm", () => grads(([x, w]) => rmsNorm(x as tf.Tensor2D, w as tf.Tensor1D, 1e-5), [[7, 12], [12]], 1)],
      ...[1, B].map((rows): [string, () => number[][]] => [
        `rope, ${rows} table rows`,
        () =>
          grads(([x]) => {
            const ctx: ForwardContext = {
              model: { config: c, params: new Map() }, hook: undefined, B, T,
              // A layout's per-token positions: rows of tables (B, T, 1, D/2), not one shared table.
              layout: rows === 1 ? undefined : { positions: tf.tensor2d([[0, 1, 2, 3, 4], [3, 4, 5, 1, 2]], [B, T], "int32"), allowed: tf.ones([B, T, T]) },
            }
            const rot = rotaryFor(ctx, c)
            expect(rot.cos.shape[0]).toBe(rows)
            return applyRotary(ctx, x as tf.Tensor2D, 3, D, rot)
          }, [[B * T, 3 * D]], 2),
      ]),
      ["swiglu", () => grads(([g, u]) => (matmulPath() === "blas" ? nativeSwiGlu(g as tf.Tensor2D, u as tf.Tensor2D) : tf.mul(silu(g!), u!)), [[9, 20], [9, 20]], 3)],
      ...[
        [6, 2, false],
        [6, 6, false],
        [6, 2, true],
      ].map(([nh, nkv, packed]): [string, () => number[][]] => [
        `attention ${nh}/${nkv} heads${packed ? ", packed" : ""}`,
        () => {
          // Causal, the diagonal always kept, a few earlier keys dropped (what packing makes).
          const keep = (i: number) => {
            const [t, s] = [Math.floor(i / T) % T, i % T]
            return s === t || (s < t && i % 3 !== 1) ? 1 : 0
          }
          const allowed = packed ? tf.tensor3d([...Array(B * T * T)].map((_, i) => keep(i)), [B, T, T]) : undefined
          const out = grads(([q, k, v]) => {
            const [nH, nKv] = [nh as number, nkv as number]
            if (matmulPath() === "blas") return nativeGqaAttention(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, B, T, nH, nKv, 0.4, allowed)
            const ctx: ForwardContext = { model: { config: c, params: new Map() }, hook: undefined, B, T, layout: allowed === undefined ? undefined : { positions: tf.zeros([B, T], "int32"), allowed } }
            const g = nH / nKv
            return attend(ctx, q as tf.Tensor2D, repeatKv(k as tf.Tensor2D, nKv, g, D), repeatKv(v as tf.Tensor2D, nKv, g, D), nH, 0.4)
          }, [[B * T, (nh as number) * D], [B * T, (nkv as number) * D], [B * T, (nkv as number) * D]], 4)
          allowed?.dispose()
          return out
        },
      ]),
    ]
    for (const [name, f] of cases) {
      const cpu = await on("cpu", () => tf.tidy(f))
      const native = await on("native", () => tf.tidy(f))
      cpu.forEach((x, i) => expect(maxRelDiff(native[i]!, x), `${name}: tensor ${i}`).toBeLessThan(2e-5))
    }
  })

  it("a whole tiny Llama (GQA, q/k/v biases, tied head): loss and every gradient on native equal cpu, through the fused kernels", async () => {
    const run = () => {
      const model = initGPT(cfg(), 5)
      const idx = tf.randomUniform([2, 8], 0, 24, "int32", 6) as tf.Tensor2D
      const tgt = tf.randomUniform([2, 8], 0, 24, "int32", 7) as tf.Tensor2D
      const vars = [...model.params.values()]
      const { value, grads: g } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt), vars)
      const out = [[...value.dataSync()], ...vars.map((v) => [...(g[v.name] as tf.Tensor).dataSync()])]
      disposeGPT(model)
      tf.dispose([idx, tgt, value, ...Object.values(g)])
      return out
    }
    const cpu = await on("cpu", run)
    const native = await on("native", run)
    const probe = initGPT(cfg(), 5)
    const names = [...probe.params.keys()]
    disposeGPT(probe)
    // ∂loss/∂(key bias) is exactly 0 (softmax ignores a per-row constant): rounding noise, left out.
    cpu.forEach((c, i) => {
      if (i > 0 && names[i - 1]!.endsWith(".k.bias")) return
      expect(maxRelDiff(native[i]!, c), `tensor ${i} ${i > 0 ? names[i - 1] : "loss"}`).toBeLessThan(2e-5)
    })
    const seen = await kernelsRun(() => void run())
    for (const k of ["PeftlabRmsNorm", "PeftlabRmsNormBackward", "PeftlabRope", "PeftlabSwiGlu", "PeftlabSwiGluBackward", "PeftlabGqaAttention", "PeftlabGqaAttentionBackward"]) expect(seen, k).toContain(k)
    expect(seen).not.toContain("Concat") // no repeat_kv, no rotate_half concat
  })

  it("a tiny Llama on packed rows (per-token positions, masked GQA softmax): log-probs and gradients on native equal cpu", async () => {
    const rows = [packCompletions([3, 4, 5, 6], [[7, 8], [9, 10, 11]], 8), packCompletions([12, 13], [[7, 8], [9, 10, 11]], 8)].map((r) => r!)
    const run = () => {
      const model = initGPT(cfg({ family: "llama", qkvBias: false }), 9)
      const p = collatePacked(rows)
      const vars = [...model.params.values()]
      const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(packedLogProbs(model, undefined, p), tf.range(1, p.at.shape[0] + 1))) as tf.Scalar, vars)
      const out = [[...value.dataSync()], ...vars.map((v) => [...(g[v.name] as tf.Tensor).dataSync()])]
      disposeGPT(model)
      disposePacked(p)
      tf.dispose([value, ...Object.values(g)])
      return out
    }
    const cpu = await on("cpu", run)
    const native = await on("native", run)
    cpu.forEach((c, i) => expect(maxRelDiff(native[i]!, c), `tensor ${i}`).toBeLessThan(2e-5))
  })

  it("bad operands are thrown errors naming the shapes, never a crash", async () => {
    await on("native", () =>
      tf.tidy(() => {
        const x = tf.zeros([6, 12]) as tf.Tensor2D
        expect(() => nativeRope(x, tf.zeros([1, 3, 1, 3]), tf.zeros([1, 3, 1, 3]), 2, 3, 3)).toThrow(/native RoPE: x \[6,12\], cos \[1,3,1,3\] do not fit/)
        expect(() => nativeSwiGlu(x, tf.zeros([6, 11]) as tf.Tensor2D)).toThrow(/gate \[6,12\] and up \[6,11\] differ/)
        expect(() => nativeGqaAttention(x, tf.zeros([6, 5]) as tf.Tensor2D, x, 2, 3, 3, 1, 1)).toThrow(/do not split into B=2, T=3, 3 query and 1 kv heads/)
        expect(() => nativeRmsNorm(tf.zeros([6, 12], "int32") as tf.Tensor2D, tf.zeros([12]) as tf.Tensor1D, 1e-5)).toThrow(/expected float32, got int32/)
        return []
      }),
    )
    // The C side checks every region itself: an offset past the heap is a RangeError, not a write.
    const heap = new ArrayBuffer(64)
    expect(() => llamaAddon()!.swiglu(heap, 0, 16, 32, 8)).toThrow(/output y overlaps|lies outside/)
    expect(() => llamaAddon()!.rope(heap, 0, 0, 0, 1 << 20, 1, 1, 1, 4, 0, 0)).toThrow(/y \(offset 1048576 B, 4 elements\) lies outside the 64-byte heap/)
    expect(() => llamaAddon()!.rmsnorm(heap, 0, 0, 32, 48, 2, 4, 1e-5)).toThrow(/output y overlaps|lies outside/)
  })
})
