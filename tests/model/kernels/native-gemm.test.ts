/**
 * Our own GEMM (native/gemm.c), as the addon exports it (`sgemm`, `sgemmStrided`): the build
 * the native backend uses where OpenBLAS is missing, and that bin/build-native.mjs also makes
 * beside OpenBLAS (native/build/Release/peftlab_gemm.node), so it is tested on every machine:
 * - against a float64 reference on random data: every transpose combination, odd sizes (1, 7,
 *   13, 129, and past each block edge: K > 256, M > 128, N > 512), padded leading dimensions,
 *   batches with strides (a stride of 0 broadcasting one operand), two batch levels, alpha,
 *   beta (0 never reads C: NaN there stays out), and the bias row;
 * - the same bits for 1, 2 and 3 threads (threads split C, never the K sum);
 * - every micro-kernel this CPU runs (PEFTLAB_GEMM_KERNEL, on a copy of the addon, since one
 *   file loads once per process): the FMA kernels (avx512, avx2, neon) give the same bits as each
 *   other, the portable one agrees within rounding;
 * - against OpenBLAS (where the main addon is OpenBLAS) within rounding.
 *
 * Bound: a K-term float32 dot product (FMA or not) is off from the exact one by at most
 * γ·Σ_k |a_k·b_k| with γ = K·2⁻²⁴/(1 − K·2⁻²⁴) (Higham, "Accuracy and Stability", §3.1), then
 * alpha·, beta·C and + round three more times. The tests hold every element to (K + 3)·2⁻²³
 * of |alpha|·Σ|a·b| + |beta·C| (twice that rigorous bound); an indexing or transpose mistake is O(1).
 */
import { copyFileSync, existsSync, mkdtempSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { BLAS_ADDON_PATH, GEMM_ADDON_PATH, type BlasAddon } from "../../../src/model/kernels/native.ts"

interface GemmAddon extends BlasAddon {
  sgemmStrided(
    heap: ArrayBuffer, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    aOff: number, lda: number, strideA: number, outerA: number, bOff: number, ldb: number, strideB: number, outerB: number,
    beta: number, cOff: number, ldc: number, strideC: number, outerC: number, batch: number, outerBatch: number,
  ): void
}

const requireAddon = createRequire(import.meta.url)
const load = (file: string): GemmAddon => {
  if (!existsSync(file)) throw new Error(`${file} was not built (node bin/build-native.mjs builds it wherever a C compiler exists)`)
  return requireAddon(file) as GemmAddon
}
const own = load(GEMM_ADDON_PATH)

/** A deterministic uniform [-1, 1) stream (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1
}

interface Case {
  readonly tA: boolean
  readonly tB: boolean
  readonly M: number
  readonly N: number
  readonly K: number
  readonly alpha?: number
  readonly beta?: number
  /** Extra floats in each leading dimension beyond the row. */
  readonly pad?: number
  readonly batch?: number
  /** One A (or B) for every batch entry: stride 0. */
  readonly broadcastA?: boolean
  readonly broadcastB?: boolean
  readonly bias?: boolean
}

/** Operands laid out in one heap, and (unless `reference` is false) what the product must be (float64) with its error bound. */
const setup = (c: Case, seed: number, reference = true) => {
  const { tA, tB, M, N, K, alpha = 1, beta = 0, pad = 0, batch = 1 } = c
  const [aRows, aCols] = tA ? [K, M] : [M, K]
  const [bRows, bCols] = tB ? [N, K] : [K, N]
  const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad
  const sA = c.broadcastA ? 0 : aRows * lda, sB = c.broadcastB ? 0 : bRows * ldb, sC = M * ldc
  const nA = Math.max(sA * (batch - 1), 0) + aRows * lda, nB = Math.max(sB * (batch - 1), 0) + bRows * ldb, nC = sC * batch
  const a0 = 8, b0 = a0 + nA + 8, bias0 = b0 + nB + 8, c0 = bias0 + N + 8
  const heap = new Float32Array(c0 + nC + 8)
  const rnd = random(seed)
  for (let i = 0; i < heap.length; i++) heap[i] = rnd()
  // beta = 0 must not read C: NaN there would leak into the result.
  if (beta === 0 && !c.bias) heap.fill(NaN, c0, c0 + nC)
  const A = (g: number, i: number, k: number) => heap[a0 + g * sA + (tA ? k * lda + i : i * lda + k)]!
  const B = (g: number, k: number, j: number) => heap[b0 + g * sB + (tB ? j * ldb + k : k * ldb + j)]!
  const want = new Float64Array(nC).fill(NaN)
  const bound = new Float64Array(nC)
  const gamma = (K + 3) * 2 ** -23
  for (let g = 0; g < (reference ? batch : 0); g++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let dot = 0, abs = 0
        for (let k = 0; k < K; k++) {
          const p = A(g, i, k) * B(g, k, j)
          dot += p
          abs += Math.abs(p)
        }
        const at = g * sC + i * ldc + j
        const start = c.bias ? heap[bias0 + j]! : beta === 0 ? 0 : beta * heap[c0 + at]!
        want[at] = alpha * dot + start
        bound[at] = gamma * (Math.abs(alpha) * abs + Math.abs(start)) + 1e-30
      }
  const args = { lda, ldb, ldc, sA, sB, sC, aOff: 4 * a0, bOff: 4 * b0, cOff: 4 * c0, biasOff: 4 * bias0 }
  return { heap, want, bound, args, c0, nC }
}

/** Runs one case through `addon.sgemm` (on a copy of a prepared heap); returns C and what it must be. */
const run = (addon: BlasAddon, c: Case, seed = 1, s = setup(c, seed)) => {
  const heap = s.heap.slice()
  const { tA, tB, M, N, K, alpha = 1, beta = 0, batch = 1 } = c
  const x = s.args
  const rest = [tA, tB, M, N, K, alpha, x.aOff, x.lda, x.sA, x.bOff, x.ldb, x.sB, beta, x.cOff, x.ldc, x.sC, batch] as const
  if (c.bias) addon.sgemm(heap.buffer, ...rest, x.biasOff)
  else addon.sgemm(heap.buffer, ...rest)
  return { got: heap.slice(s.c0, s.c0 + s.nC), want: s.want, bound: s.bound }
}

/** Indices where |got − want| exceeds the bound (padding, where want is NaN, is skipped). */
const outside = ({ got, want, bound }: ReturnType<typeof run>): string[] => {
  const bad: string[] = []
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) continue
    if (!(Math.abs(got[i]! - want[i]!) <= bound[i]!)) bad.push(`C[${i}] = ${got[i]}, want ${want[i]} ± ${bound[i]!.toExponential(1)}`)
  }
  return bad.slice(0, 3)
}

/** Where two results first differ in their bits ("" when they are identical). */
const firstDiff = (x: Float32Array, y: Float32Array): string => {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length), b = new Uint32Array(y.buffer, y.byteOffset, y.length)
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`
  const i = a.findIndex((v, j) => v !== b[j])
  return i < 0 ? "" : `C[${i}]: ${x[i]} vs ${y[i]}`
}

const SIZES = [1, 7, 13, 129]
const flags = [false, true]
/** Every transpose combination × odd sizes, and the shapes that cross each block edge. */
const CASES: Case[] = [
  ...flags.flatMap((tA) =>
    flags.flatMap((tB) =>
      SIZES.flatMap((M, i) => [
        { tA, tB, M, N: SIZES[(i + 1) % 4]!, K: SIZES[(i + 2) % 4]! },
        { tA, tB, M, N: SIZES[(i + 3) % 4]!, K: SIZES[(i + 1) % 4]!, pad: 3, alpha: -0.5, beta: 1 },
        { tA, tB, M: SIZES[(i + 2) % 4]!, N: M, K: M, pad: 1, alpha: 2, beta: 0.75 },
      ]),
    ),
  ),
  { tA: false, tB: false, M: 129, N: 129, K: 129, pad: 5 },
  { tA: false, tB: true, M: 300, N: 530, K: 300, pad: 2, beta: 1 }, // 3 M blocks, 2 N blocks, 2 K blocks
  { tA: true, tB: false, M: 130, N: 40, K: 513, alpha: 0.25, beta: -1 }, // 3 K blocks
  { tA: true, tB: true, M: 17, N: 33, K: 257 },
]

describe("own GEMM (native/gemm.c)", () => {
  it(`reports itself: the own BLAS and the micro-kernel this CPU runs (${own.info().core})`, () => {
    const info = own.info()
    expect(info.blas).toBe("own")
    expect(["avx512", "avx2", "neon", "portable"]).toContain(info.core)
    expect(info.config).toContain(`${info.core} micro-kernel`)
  })

  it("equals a float64 reference: every transpose, odd sizes, padded leading dimensions, alpha and beta, across block edges", () => {
    CASES.forEach((c, i) => expect(outside(run(own, c, i + 1)), JSON.stringify(c)).toEqual([]))
  })

  it("batches with strides (0 broadcasts one operand), and the bias row (C starts as the bias)", () => {
    const cases: Case[] = [
      { tA: false, tB: true, M: 64, N: 64, K: 32, batch: 8 }, // attention's scores, one head per entry
      { tA: true, tB: false, M: 13, N: 7, K: 129, batch: 3, pad: 2, beta: 0.5 },
      { tA: false, tB: false, M: 7, N: 129, K: 13, batch: 5, broadcastB: true }, // one weight for every batch
      { tA: true, tB: true, M: 129, N: 13, K: 7, batch: 4, broadcastA: true, alpha: -1, beta: 1 },
      { tA: false, tB: false, M: 129, N: 130, K: 129, bias: true }, // a dense layer x·W + b
      { tA: false, tB: false, M: 1, N: 7, K: 300, bias: true, pad: 1 },
    ]
    cases.forEach((c, i) => expect(outside(run(own, c, 100 + i)), JSON.stringify(c)).toEqual([]))
  })

  it("two batch levels (sgemmStrided: heads as column blocks of (B·T, C) activations)", () => {
    // q·kᵀ per head: q and k are (B·T, C) with C = H·hs; head h of sequence b starts at b·T·C + h·hs.
    const B = 3, T = 17, H = 4, hs = 8, C = H * hs
    const heap = new Float32Array(2 * B * T * C + B * H * T * T + 16)
    const rnd = random(7)
    for (let i = 0; i < heap.length; i++) heap[i] = rnd()
    const q0 = 0, k0 = B * T * C, s0 = 2 * B * T * C
    own.sgemmStrided(heap.buffer, false, true, T, T, hs, 0.5, 4 * q0, C, hs, T * C, 4 * k0, C, hs, T * C, 0, 4 * s0, T, T * T, H * T * T, H, B)
    let worst = 0
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++)
          for (let j = 0; j < T; j++) {
            let dot = 0
            for (let d = 0; d < hs; d++) dot += heap[q0 + (b * T + i) * C + h * hs + d]! * heap[k0 + (b * T + j) * C + h * hs + d]!
            worst = Math.max(worst, Math.abs(heap[s0 + ((b * H + h) * T + i) * T + j]! - 0.5 * dot))
          }
    expect(worst).toBeLessThan((hs + 3) * 2 ** -23 * hs)
  })

  it("the same bits for 1, 2 and 3 threads (threads split C, never the K sum)", () => {
    const cases: Case[] = [
      { tA: false, tB: false, M: 300, N: 530, K: 300, beta: 1 },
      { tA: true, tB: false, M: 129, N: 257, K: 1030, pad: 1 },
      { tA: false, tB: true, M: 64, N: 64, K: 32, batch: 16, bias: false },
      { tA: false, tB: false, M: 1024, N: 128, K: 128, bias: true },
    ]
    const heaps = cases.map((c, i) => setup(c, 200 + i, false))
    const results = [1, 2, 3].map((t) => {
      own.setThreads(t)
      expect(own.info().threads).toBe(t)
      return cases.map((c, i) => run(own, c, 0, heaps[i]).got)
    })
    own.setThreads(1)
    for (const r of results.slice(1)) r.forEach((got, i) => expect(firstDiff(got, results[0]![i]!), JSON.stringify(cases[i])).toBe(""))
  })

  it("every micro-kernel this CPU runs: the FMA ones give the same bits, the portable one agrees within rounding", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "peftlab-gemm-"))
    const kernels = ["avx512", "avx2", "neon", "portable"].flatMap((name) => {
      // A copy per kernel: an addon file loads once per process, and picks its kernel when it loads.
      const file = path.join(dir, `gemm-${name}.node`)
      copyFileSync(GEMM_ADDON_PATH, file)
      const before = process.env.PEFTLAB_GEMM_KERNEL
      process.env.PEFTLAB_GEMM_KERNEL = name
      try {
        const addon = load(file)
        return addon.info().core === name ? [{ name, addon }] : [] // a kernel this CPU lacks falls back
      } finally {
        if (before === undefined) delete process.env.PEFTLAB_GEMM_KERNEL
        else process.env.PEFTLAB_GEMM_KERNEL = before
      }
    })
    expect(kernels.map((k) => k.name)).toContain("portable")
    expect(kernels.map((k) => k.name)).toContain(own.info().core)
    const cases = CASES.filter((_, i) => i % 5 === 0).concat([{ tA: false, tB: false, M: 129, N: 33, K: 300, bias: true, batch: 2, broadcastB: true }])
    const heaps = cases.map((c, i) => setup(c, 300 + i))
    const fma = kernels.filter((k) => k.name !== "portable").map((k) => ({ name: k.name, out: cases.map((c, i) => run(k.addon, c, 0, heaps[i])) }))
    for (const k of kernels) cases.forEach((c, i) => expect(outside(run(k.addon, c, 0, heaps[i])), `${k.name} ${JSON.stringify(c)}`).toEqual([]))
    for (const k of fma.slice(1)) k.out.forEach((r, i) => expect(firstDiff(r.got, fma[0]!.out[i]!.got), `${k.name} vs ${fma[0]!.name}`).toBe(""))
  })

  const main = existsSync(BLAS_ADDON_PATH) ? load(BLAS_ADDON_PATH) : undefined
  it.skipIf(main?.info().blas !== "openblas")("agrees with OpenBLAS within rounding (where the main addon is OpenBLAS)", () => {
    const openblas = main!
    for (const [i, c] of CASES.entries()) {
      const s = setup(c, 400 + i)
      const ours = run(own, c, 0, s)
      const theirs = run(openblas, c, 0, s)
      expect(outside(theirs), `OpenBLAS itself, ${JSON.stringify(c)}`).toEqual([])
      // Both within the bound of the exact product, so within twice it of each other.
      const apart = [...ours.got.keys()].filter((j) => !Number.isNaN(ours.want[j]) && !(Math.abs(ours.got[j]! - theirs.got[j]!) <= 2 * ours.bound[j]!))
      expect(apart, JSON.stringify(c)).toEqual([])
    }
  })

  it("bad operands are a thrown error naming the shapes, as with OpenBLAS", () => {
    const heap = new Float32Array(1024).buffer
    expect(() => own.sgemm(heap, false, false, 4, 4, 4, 1, 0, 4, 0, 64, 4, 0, 0, 4096 - 32, 4, 0, 1)).toThrow(/reaches past the end of the heap.*C 4×4/)
    expect(() => own.sgemm(heap, false, false, 4, 4, 4, 1, 0, 4, 0, 64, 4, 0, 0, 32, 4, 0, 1)).toThrow(/output overlaps an input/)
  })
})
