/**
 * The `native` backend (OpenBLAS products and fused kernels on tfjs-wasm's heap):
 * - each kernel against tfjs on the cpu backend, with transposes, batches and broadcasts;
 * - a whole training step (loss and every gradient) against the numpy reference
 *   (tests/model/arch/parity/make_grad_fixture.py, float64, checked by finite differences);
 * - bad operands are thrown errors naming the shapes, never a crash;
 * - same backend ⇒ bit-identical losses, whatever the BLAS thread count;
 * - the tensor count stays flat over training steps.
 *
 * Tolerances: float32 has a relative precision of 6e-8; a dot product of K terms of size ~1
 * accumulates ~√K·6e-8 of rounding in each implementation, and BLAS sums in another order than
 * tfjs-cpu. So products and whole steps are held to 1e-5 relative to the largest magnitude
 * involved (K ≤ 512 here), far above rounding and far below any indexing or transpose mistake
 * (which is O(1)).
 */
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { describe, expect, it } from "vitest"
import { AdamW } from "../../../src/model/adamw.ts"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { clipByGlobalNorm } from "../../../src/model/clip.ts"
import { disposeGPT, forward, initGPT, maskedCrossEntropy, parameterSpecs, type GPT, type GPTConfig } from "../../../src/model/arch/model.ts"
import { coreTypeFor, loadNative, setNativeThreads, type BlasAddon } from "../../../src/model/kernels/native.ts"
import { gelu, layerNorm, matmulPath } from "../../../src/model/kernels/ops.ts"
import { paramGroups } from "../../../src/model/pretrain.ts"
import { readSafetensors } from "../../../src/model/safetensors.ts"
import { collatePacked, disposePacked, packCompletions } from "../../../src/model/data/packing.ts"
import { packedLogProbs } from "../../../src/model/losses.ts"
import { nativeAttention } from "../../../src/model/kernels/native-ops.ts"
import { nativeKernelCalls } from "../../../src/model/kernels/native-kernels.ts"
import { needs } from "../../setup/facilities.ts"

const addon = (): BlasAddon => {
  const s = loadNative()
  if (!s.ok) throw new Error(`${s.reason} (the test suite needs the native backend: see README, prerequisites)`)
  return s.addon
}

/** Runs f on a backend and returns plain arrays (tensors are disposed). */
const on = async <T extends number[][]>(backend: "cpu" | "native" | "wasm", f: () => T): Promise<T> => {
  await initBackend(backend)
  const before = tf.memory().numTensors
  const out = f()
  expect(tf.memory().numTensors, `tensors left by ${backend}`).toBe(before) // f disposes what it makes
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

describe("native backend", () => {
  needs("native")
  it("loads, with the OpenBLAS core chosen from the CPU's features", () => {
    expect(addon().info().core.length).toBeGreaterThan(0)
    expect(coreTypeFor("vendor_id : GenuineIntel\nflags : fpu sse avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd\n")).toBe("SkylakeX")
    expect(coreTypeFor("vendor_id : AuthenticAMD\nflags : fpu sse avx2 fma\n")).toBe("Zen")
    expect(coreTypeFor("vendor_id : GenuineIntel\nflags : fpu sse avx2 fma\n")).toBe("Haswell")
    expect(coreTypeFor("vendor_id : GenuineIntel\nflags : fpu sse sse2\n")).toBeUndefined()
  })

  it("matMul with every transpose flag, batches and broadcast batches equals the cpu backend", async () => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[33, 64], [64, 17], false, false],
      [[64, 33], [64, 17], true, false],
      [[33, 64], [17, 64], false, true],
      [[64, 33], [17, 64], true, true],
      [[6, 9, 31], [6, 31, 5], false, false],
      [[6, 31, 9], [6, 5, 31], true, true],
      [[6, 9, 31], [31, 5], false, false], // one B for every batch (stride 0)
      [[9, 31], [6, 31, 5], false, false], // one A for every batch
      [[2, 3, 9, 31], [2, 3, 5, 31], false, true],
      [[2, 1, 4, 6], [1, 3, 6, 4], false, false], // a general broadcast: wasm's own kernel
      [[256, 512], [512, 128], false, false],
    ]
    const run = () =>
      cases.map(([sa, sb, ta, tb], i) => tf.tidy(() => [...tf.matMul(tf.randomNormal(sa, 0, 1, "float32", i + 1), tf.randomNormal(sb, 0, 1, "float32", i + 100), ta, tb).dataSync()]))
    const cpu = await on("cpu", run)
    const native = await on("native", run)
    cases.forEach((c, i) => expect(maxRelDiff(native[i]!, cpu[i]!), JSON.stringify(c)).toBeLessThan(1e-5))
  })

  it("fused GELU, LayerNorm, attention (causal softmax, strided heads) and cross-entropy: values and gradients equal tfjs autodiff on cpu", async () => {
    const run = () => {
      const variable = (t: tf.Tensor) => {
        const v = tf.variable(t)
        t.dispose()
        return v
      }
      const x = variable(tf.randomNormal([12, 24], 0.3, 2, "float32", 3))
      const g = variable(tf.randomNormal([24], 1, 0.3, "float32", 4))
      const b = variable(tf.randomNormal([24], 0, 0.3, "float32", 5))
      const model = initGPT({ vocabSize: 24, blockSize: 6, nLayer: 1, nHead: 2, nEmbd: 8, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }, 7)
      const idx = tf.randomUniform([2, 6], 0, 24, "int32", 8) as tf.Tensor2D
      const tgt = tf.randomUniform([2, 6], 0, 24, "int32", 9) as tf.Tensor2D
      const mask = tf.tensor2d([[0, 1, 1, 1, 0, 1], [1, 1, 0, 0, 1, 1]])
      const vars = [x, g, b, ...model.params.values()]
      const { value, grads } = tf.variableGrads(() => {
        const h = gelu(layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5)) // LayerNorm + GELU
        const lm = maskedCrossEntropy(forward(model, idx), tgt, mask) // causal softmax + cross-entropy
        return tf.add(tf.mean(tf.mul(h, h)), lm) as tf.Scalar
      }, vars)
      // ∂loss/∂(key bias) is exactly 0 (softmax ignores a per-row constant): rounding noise, left out.
      const checked = vars.filter((v) => ![...model.params].some(([n, p]) => p === v && n.endsWith("attn.k.bias")))
      const out = [[...value.dataSync()], ...checked.map((v) => [...(grads[v.name] as tf.Tensor).dataSync()])]
      disposeGPT(model)
      tf.dispose([x, g, b, idx, tgt, mask, value, ...Object.values(grads)])
      return out
    }
    const cpu = await on("cpu", run)
    const native = await on("native", run)
    expect(matmulPath()).toBe("blas")
    cpu.forEach((c, i) => expect(maxRelDiff(native[i]!, c), `tensor ${i}`).toBeLessThan(2e-5))
  })

  it("attention under a packed layout (masked softmax in C): values and gradients equal tfjs on cpu", async () => {
    // Two prompts with two-token and three-token completions packed after them (packing.ts):
    // branch tokens see the prompt and their own branch only; the second row is padded.
    const rows = [packCompletions([3, 4, 5, 6], [[7, 8], [9, 10, 11]], 8), packCompletions([12, 13], [[7, 8], [9, 10, 11]], 8)].map((r) => r!)
    const run = () => {
      const model = initGPT({ vocabSize: 24, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }, 11)
      const p = collatePacked(rows)
      const vars = [...model.params.values()]
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(packedLogProbs(model, undefined, p), tf.range(1, p.at.shape[0] + 1))) as tf.Scalar, vars)
      const checked = [...model.params].filter(([n]) => !n.endsWith("attn.k.bias")).map(([, v]) => v)
      const out = [[...value.dataSync()], ...checked.map((v) => [...(grads[v.name] as tf.Tensor).dataSync()])]
      disposeGPT(model)
      disposePacked(p)
      tf.dispose([value, ...Object.values(grads)])
      return out
    }
    const cpu = await on("cpu", run)
    const native = await on("native", run)
    cpu.forEach((c, i) => expect(maxRelDiff(native[i]!, c), `tensor ${i}`).toBeLessThan(2e-5))
    // A mask of the wrong shape is refused before any memory is touched.
    await on("native", () =>
      tf.tidy(() => {
        const q = tf.zeros([8, 4]) as tf.Tensor2D
        expect(() => nativeAttention(q, q, q, 2, 4, 2, 1, tf.ones([2, 4, 3]) as tf.Tensor3D)).toThrow(/allowed \[2,4,3\] is not \[2,4,4\]/)
        return []
      }),
    )
  })

  const fixture = (name: string) => {
    const { tensors, metadata } = readSafetensors(join(import.meta.dirname, "..", "arch", "parity", `fixture-grads-${name}.safetensors`))
    const config = JSON.parse(metadata.config ?? "{}") as GPTConfig
    const get = (k: string) => {
      const t = tensors.get(k)
      if (t === undefined) throw new Error(`fixture lacks ${k}`)
      return t
    }
    return { config, get }
  }

  for (const backend of ["native", "wasm", "cpu"] as const) {
    for (const name of ["tied", "untied"]) {
      it(`a whole training step on ${backend} (${name} head): loss and every gradient equal the numpy reference`, async () => {
        const f = fixture(name)
        await initBackend(backend)
        const specs = parameterSpecs(f.config)
        const model: GPT = { config: f.config, params: new Map(specs.map((s) => [s.name, tf.variable(tf.tensor(f.get(`weights/${s.name}`).data, [...s.shape]))])) }
        const t2 = (k: string, dtype: "int32" | "float32") => tf.tensor2d(f.get(k).data, [...f.get(k).shape] as [number, number], dtype)
        const [idx, tgt, mask] = [t2("idx", "int32"), t2("targets", "int32"), t2("mask", "float32")]
        const vars = [...model.params.values()]
        const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt, mask), vars)
        expect(Math.abs((value.dataSync()[0] ?? NaN) - (f.get("loss").data[0] ?? NaN))).toBeLessThan(1e-5 * 5)
        specs.forEach((s) => {
          const ours = (grads[model.params.get(s.name)!.name] as tf.Tensor).dataSync()
          // ∂loss/∂(key bias) is exactly 0 (softmax ignores a per-row constant): both sides are
          // rounding noise, so it is held to an absolute bound instead.
          if (s.name.endsWith("attn.k.bias")) expect(Math.max(...ours.map(Math.abs)), s.name).toBeLessThan(1e-6)
          else expect(maxRelDiff(ours, f.get(`grads/${s.name}`).data), s.name).toBeLessThan(1e-4)
        })
        tf.dispose([idx, tgt, mask, value, ...Object.values(grads)])
        disposeGPT(model)
      })
    }
  }

  /** Five AdamW steps of a small GPT; the losses as float32 bit patterns. */
  const trainLosses = (threads: number): number[] => {
    setNativeThreads(threads)
    const cfg = { vocabSize: 256, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 128, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }
    const model = initGPT(cfg, 3)
    const opt = new AdamW(paramGroups(model, 0.1))
    const vars = [...model.params.values()]
    const losses: number[] = []
    const counts: number[] = []
    for (let i = 0; i < 5; i++) {
      const ids = tf.randomUniform([16, 33], 0, cfg.vocabSize, "int32", 50 + i) as tf.Tensor2D
      const idx = tf.slice(ids, [0, 0], [16, 32]) as tf.Tensor2D
      const tgt = tf.slice(ids, [0, 1], [16, 32]) as tf.Tensor2D
      const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt), vars)
      losses.push(value.dataSync()[0]!)
      const c = clipByGlobalNorm(new Map(Object.entries(grads)), 1)
      opt.step(c.grads, 1e-3)
      tf.dispose([ids, idx, tgt, value, ...c.grads.values(), ...Object.values(grads)])
      counts.push(tf.memory().numTensors)
    }
    opt.dispose()
    disposeGPT(model)
    setNativeThreads(1)
    expect(new Set(counts.slice(1)).size, `tensor count per step: ${counts.join(", ")}`).toBe(1)
    return losses.map((l) => new Uint32Array(new Float32Array([l]).buffer)[0]!)
  }

  it("same backend ⇒ bit-identical losses across runs and across 1 or 2 BLAS threads; flat tensor count", async () => {
    await initBackend("native")
    const a = trainLosses(1)
    expect(trainLosses(1)).toEqual(a)
    expect(trainLosses(2)).toEqual(a)
  })

  /** Float32 bit patterns, so NaN payloads, −0 and denormals are compared exactly. */
  const bitsOf = (t: tf.Tensor): number[] => [...new Uint32Array(new Float32Array(t.dataSync()).buffer)]
  /** Special values as bit patterns: NaNs with payloads (one signalling), ±∞, ±0, denormals, extremes. */
  const SPECIALS = [0x7fc00000, 0xffc00123, 0x7fa00001, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x3eaaaaab]
  const fromBits = (bits: number[], shape: number[]): tf.Tensor => tf.tensor(new Float32Array(new Uint32Array(bits).buffer), shape, "float32")
  /** n floats: random normals with every special value (and every pair of them, when n allows) mixed in. */
  const mixed = (n: number, seed: number, shape: number[]): tf.Tensor =>
    tf.tidy(() => {
      const bits = bitsOf(tf.randomNormal([n], 0, 3, "float32", seed))
      for (let i = 0; i < n; i += 3) bits[i] = SPECIALS[(i / 3 + seed) % SPECIALS.length]!
      return fromBits(bits, shape)
    })

  it("GatherV2, Add, Sub and Multiply in C give wasm's bits (NaN payloads, ±∞, −0, denormals); other cases fall back", async () => {
    const S = SPECIALS.length
    const run = (): number[][] => {
      const out: number[][] = []
      const keep = (t: tf.Tensor) => out.push(bitsOf(t))
      tf.tidy(() => {
        // Every pair of special values, both ways round, for each op.
        const a = fromBits(SPECIALS.flatMap((x) => SPECIALS.map(() => x)), [S, S])
        const b = fromBits(SPECIALS.flatMap(() => SPECIALS), [S, S])
        const x = mixed(1032 * 128, 1, [1032, 128])
        const y = mixed(1032 * 128, 2, [1032, 128])
        const scalars = SPECIALS.map((v) => fromBits([v], []))
        for (const op of [tf.add, tf.sub, tf.mul]) {
          keep(op(a, b))
          keep(op(x, y))
          for (const c of [...scalars, tf.scalar(0.1), tf.scalar(-3)]) {
            keep(op(a, c)) // scalar second
            keep(op(c, a)) // scalar first
          }
          keep(op(x, 0.5))
          keep(op(tf.reshape(scalars[0]!, [1, 1]), tf.reshape(x, [1032, 1, 128]))) // size-1 operand of another rank
          keep(op(tf.scalar(2), tf.scalar(3)))
          keep(op(tf.reshape(x, [1032, 1, 128]).slice([0, 0, 0], [4, 1, 128]), tf.reshape(y, [1, 1032, 128]).slice([0, 0, 0], [1, 3, 128]))) // a true broadcast: wasm's
          keep(op(tf.reshape(x.slice([0, 0], [1, 128]), [128]), x)) // a row against every row: wasm's
          keep(op(tf.zeros([0, 3]), tf.zeros([0, 3])))
          keep(tf.cast(op(tf.tensor1d([1, -2, 3], "int32"), tf.tensor1d([4, 5, -6], "int32")), "float32")) // int32: wasm's
        }
        // Embedding lookups: token and position tables, 2-D indices, negative axis, a 1-D table.
        const wte = mixed(1024 * 128, 3, [1024, 128])
        const ids = tf.randomUniform([8, 129], 0, 1024, "int32", 4)
        keep(tf.gather(wte, ids))
        keep(tf.gather(wte.slice([0, 0], [129, 128]), tf.tile(tf.range(0, 129, 1, "int32"), [8])))
        keep(tf.gather(wte, tf.tensor1d([1023, 0, 5, 5], "int32"), -2))
        keep(tf.gather(tf.reshape(wte, [1024 * 128]), tf.tensor1d([7, 0, 131071], "int32")))
        keep(tf.gather(wte, tf.tensor1d([3, 1], "int32"), 1)) // axis 1: wasm's
        keep(tf.cast(tf.gather(tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"), tf.tensor1d([1, 1, 0], "int32")), "float32")) // int32 table: wasm's
        keep(tf.gather(wte, tf.zeros([0], "int32")))
        for (const bad of [1024, -1]) expect(() => tf.gather(wte, tf.tensor1d([0, bad], "int32"))).toThrow(`GatherV2: the index value ${bad} is not in [0, 1023]`)
      })
      return out
    }
    const wasm = await on("wasm", run)
    const names = ["Add", "Sub", "Multiply", "GatherV2"]
    const before = names.map(nativeKernelCalls)
    const native = await on("native", run)
    const [add, sub, mul, gather] = names.map((k, i) => nativeKernelCalls(k) - before[i]!)
    expect(native.length).toBe(wasm.length)
    wasm.forEach((w, i) => expect(native[i], `output ${i}`).toEqual(w))
    // The C kernels did run: per op 2 same-shape, 2 × 18 with a scalar, x·0.5, [1,1] against
    // [1032,1,128], scalar with scalar (tidy's other ops add none: casts, reshapes, slices); and
    // the 4 lookups on axis 0 (out of range: C refuses, wasm raises its error).
    for (const n of [add, sub, mul]) expect(n).toBe(2 + 2 * (S + 2) + 3)
    expect(gather).toBe(4)
  })

  it("bad operands are thrown errors with the shapes, never a crash or a write", () => {
    const blas = addon()
    const heap = new ArrayBuffer(4096) // 1024 floats
    const view = new Float32Array(heap)
    view.fill(7)
    const sgemm = (over: Partial<Record<"M" | "N" | "K" | "aOff" | "lda" | "bOff" | "cOff" | "batch" | "strideC", number>>) => {
      const a = { M: 4, N: 4, K: 4, aOff: 0, lda: 4, bOff: 64, cOff: 128, batch: 1, strideC: 16, ...over }
      return () => blas.sgemm(heap, false, false, a.M, a.N, a.K, 1, a.aOff, a.lda, 16, a.bOff, 4, 16, 0, a.cOff, 4, a.strideC, a.batch)
    }
    expect(sgemm({})).not.toThrow()
    expect(sgemm({ cOff: 4096 - 32 })).toThrow(/reaches past the end of the heap.*C 4×4/)
    expect(sgemm({ batch: 100 })).toThrow(/past the end of the heap.*batch 1×100/)
    expect(sgemm({ aOff: 2 })).toThrow(/multiples of 4 bytes/)
    expect(sgemm({ lda: 2 })).toThrow(/leading dimension/)
    expect(sgemm({ cOff: 32 })).toThrow(/output overlaps an input/)
    expect(sgemm({ batch: 2, strideC: 8 })).toThrow(/output batches overlap/)
    expect(sgemm({ M: -1 })).toThrow(/M must be an integer/)
    expect(sgemm({ K: 1.5 })).toThrow(/K must be an integer/)
    const strided = (blas as unknown as Record<string, (...args: unknown[]) => unknown>).sgemmStrided!
    // Two heads side by side in a (4, 8) block (ld 8, stride 4): legal; a third one would not fit in the row.
    expect(() => strided(heap, false, false, 4, 4, 4, 1, 0, 4, 16, 64, 512, 4, 16, 64, 0, 1024, 8, 4, 32, 2, 2)).not.toThrow()
    expect(() => strided(heap, false, false, 4, 4, 4, 1, 0, 4, 16, 64, 512, 4, 16, 64, 0, 1024, 8, 4, 32, 3, 1)).toThrow(/output batches overlap/)
    expect(() => strided(heap, false, false, 4, 4, 4, 1, 0, 4, 16, 64, 512, 4, 16, 64, 0, 1024, 8, 4, 16, 2, 2)).toThrow(/outer strideC too small/)
    expect(() => strided(heap, false, false, 4, 4, 4, 1, 0, 4, 16, 64, 512, 4, 16, 64, 0, 1024, 8, 4, 32, 2, 200)).toThrow(/past the end of the heap/)
    expect(() => blas.sgemm(new Float32Array(4) as unknown as ArrayBuffer, false, false, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1)).toThrow(/ArrayBuffer/)
    expect(view[900]).toBe(7) // nothing beyond the legal call's output was written
    const fused = blas as unknown as Record<string, (...args: unknown[]) => unknown>
    expect(() => fused.gelu!(heap, 0, 4032, 2048, 32)).toThrow(/gelu: y .* outside the 4096-byte heap/)
    expect(() => fused.gelu!(heap, 0, 32, 2048, 16)).toThrow(/output y overlaps x/)
    expect(() => fused.layernorm!(heap, 0, 512, 640, 1024, 2048, 4088, 8, 16, 1e-5)).toThrow(/layernorm: r .* outside/)
    expect(() => fused.segmentSum!(heap, 0, 512, 1024, 8, 16, 1000)).toThrow(/segment_sum: out .* outside/)
    const ids = new Int32Array(heap, 512, 4)
    ids.set([0, 1, 99, 2])
    expect(() => fused.xent!(heap, 0, 512, 600, 1024, 4, 8)).toThrow(/target 99 at row 2 is outside the vocabulary \[0, 8\)/)
    // Row gather: an id outside the table is a refusal (false), nothing written; regions are checked.
    view.fill(7, 256, 512)
    expect(fused.gatherRows!(heap, 0, 512, 1024, 8, 4, 4)).toBe(false)
    expect(view[256]).toBe(7)
    expect(() => fused.gatherRows!(heap, 0, 512, 4048, 8, 4, 4)).toThrow(/gather_rows: out .* outside the 4096-byte heap/)
    expect(() => fused.gatherRows!(heap, 0, 512, 16, 8, 4, 4)).toThrow(/output out overlaps x/)
    expect(() => fused.binary!(heap, 3, 0, 4, 64, 4, 128, 4)).toThrow(/op must be 0, 1 or 2/)
    expect(() => fused.binary!(heap, 0, 0, 3, 64, 4, 128, 4)).toThrow(/each operand n elements or 1/)
    expect(() => fused.binary!(heap, 0, 0, 4, 64, 1, 4, 4)).toThrow(/output out overlaps a/)
    expect(() => fused.binary!(heap, 2, 0, 8, 64, 8, 4080, 8)).toThrow(/binary: out .* outside/)
    const adamw = (pOut: number, n: number) => () => fused.adamw!(heap, 0, 64, 128, 192, pOut, 2048, 2304, n, 1, 0.01, 0.9, 0.1, 0.999, 0.001, 0.1, 0.001, 1e-8, 0.1)
    expect(adamw(1024, 16)).not.toThrow()
    expect(adamw(4064, 16)).toThrow(/adamw: pOut .* outside/)
    expect(adamw(96, 16)).toThrow(/output pOut overlaps m/)
    expect(() => fused.adamw!(heap, 0, 64, 128, 192, 1024, 2048, 2304, 16, 1, 0.01, 0.9, 0.1, 0.999, 0.001, 0.1, 0.001, 1e-8, "lr")).toThrow(/hyperparameters must be numbers/)
  })

  it("tfjs reports a shape mismatch in a native product as it does on wasm", async () => {
    await initBackend("native")
    expect(() => tf.tidy(() => tf.matMul(tf.ones([3, 4]), tf.ones([5, 2])))).toThrow(/inner shapes \(4\) and \(5\)/)
  })
})
