/**
 * The Llama family's fused ops on the `native` backend (llama.ts calls them while the native
 * matmul path is on), each a forward kernel that keeps what its backward needs, in tf.customGrad:
 *
 *   rmsNorm     y = x·r·w, r = 1/√(mean x² + ε) (N, 1) kept; backward dx, dw in one pass
 *   rope        rotate_half on (B·T, H·D) in place of 2 slices, 4 products, 2 sums and a concat
 *               (and their 9 gradient kernels); backward = the inverse rotation, same kernel
 *   swiGlu      silu(gate)·up; backward dgate, dup in one pass (SiLU's σ recomputed, not kept)
 *   gqaAttention  grouped-query attention without repeat_kv: query head h reads kv head ⌊h/g⌋
 *               in place. The g query heads h = j, j + g, … that share a group position j are
 *               one strided BLAS batch over the nKv kv heads (column stride g·D in q, D in k/v),
 *               so g calls replace one, and no (N, nHead·D) copy of k and v is made, nor the
 *               sums of its gradient; dk and dv accumulate the g calls with β = 1.
 *
 * The elementwise kernels are C (native/llama.c, a second addon, peftlab_llama.node); the
 * attention is blas.c's strided sgemm and causal softmax. Where the llama addon was not built,
 * `llamaKernelsAvailable()` is false and llama.ts keeps its tfjs ops.
 */
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as tf from "@tensorflow/tfjs"
import { heapOffset, type WasmHeapBackend } from "./native-kernels.ts"
import { loadNative, type BlasAddon } from "./native.ts"

interface LlamaAddon {
  rmsnorm(heap: ArrayBuffer, xOff: number, wOff: number, yOff: number, rOff: number, N: number, C: number, eps: number): void
  rmsnormBackward(heap: ArrayBuffer, dyOff: number, xOff: number, rOff: number, wOff: number, dxOff: number, dwOff: number, N: number, C: number): void
  rope(heap: ArrayBuffer, xOff: number, cosOff: number, sinOff: number, yOff: number, B: number, T: number, H: number, D: number, csBatch: number, inverse: 0 | 1): void
  swiglu(heap: ArrayBuffer, gOff: number, uOff: number, yOff: number, n: number): void
  swigluBackward(heap: ArrayBuffer, dyOff: number, gOff: number, uOff: number, dgOff: number, duOff: number, n: number): void
}

interface StridedBlas extends BlasAddon {
  sgemmStrided(
    heap: ArrayBuffer, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    aOff: number, lda: number, strideA: number, outerA: number, bOff: number, ldb: number, strideB: number, outerB: number,
    beta: number, cOff: number, ldc: number, strideC: number, outerC: number, batch: number, outerBatch: number,
  ): void
  causalSoftmax(heap: ArrayBuffer, sOff: number, pOff: number, G: number, T: number, scale: number): void
  causalSoftmaxBackward(heap: ArrayBuffer, pOff: number, dpOff: number, dsOff: number, G: number, T: number, scale: number): void
  maskedSoftmax(heap: ArrayBuffer, sOff: number, pOff: number, mOff: number, G: number, T: number, H: number, scale: number): void
}

const projectDir = fileURLToPath(new URL("../../../", import.meta.url))
export const LLAMA_ADDON_PATH = process.env.PEFTLAB_LLAMA_ADDON ?? join(projectDir, "native", "build", "Release", "peftlab_llama.node")

let llama: LlamaAddon | null | undefined

const loadLlama = (): LlamaAddon | null => {
  if (llama !== undefined) return llama
  try {
    llama = existsSync(LLAMA_ADDON_PATH) && loadNative().ok ? (createRequire(import.meta.url)(LLAMA_ADDON_PATH) as LlamaAddon) : null
  } catch {
    llama = null
  }
  return llama
}

interface HeapBackend extends WasmHeapBackend {
  disposeData(dataId: tf.DataId): boolean
}

const heapOf = (b: HeapBackend): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer
const off = (b: HeapBackend, t: tf.TensorInfo): number => heapOffset(b, t)
const numel = (t: tf.TensorInfo): number => t.shape.reduce((a, c) => a * c, 1)
const blas = (): StridedBlas => {
  const s = loadNative()
  if (!s.ok) throw new Error(s.reason)
  return s.addon as StridedBlas
}

type Body = (b: HeapBackend, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, number>) => tf.TensorInfo[]
const kernel =
  (body: Body): tf.KernelFunc =>
  ({ inputs, backend, attrs }) =>
    body(backend as unknown as HeapBackend, inputs as Record<string, tf.TensorInfo>, (attrs ?? {}) as unknown as Record<string, number>)

const L = (): LlamaAddon => {
  const a = loadLlama()
  if (a === null) throw new Error(`the native Llama kernels are not built (${LLAMA_ADDON_PATH}): run node bin/build-native.mjs`)
  return a
}

/**
 * Grouped-query heads in the (B·T, width) activations: query head h is columns [h·D, (h+1)·D)
 * of q, kv head j columns [j·D, (j+1)·D) of k and v; scores and probabilities (B·nh, T, T).
 * `part(j)` is the strided view of the query heads j, j + g, … (one per kv head) of an operand.
 */
interface Gqa {
  readonly B: number
  readonly T: number
  readonly nh: number
  readonly nkv: number
  readonly D: number
}

type Operand = "q" | "kv" | "tt"
/** [leading dimension, batch stride (next kv head), outer stride (next sequence)], in floats, and the group offset of position j. */
const layout = (h: Gqa, kind: Operand, j: number): [number, number, number, number] => {
  const g = h.nh / h.nkv
  if (kind === "q") return [h.nh * h.D, g * h.D, h.T * h.nh * h.D, j * h.D]
  if (kind === "kv") return [h.nkv * h.D, h.D, h.T * h.nkv * h.D, 0]
  return [h.T, g * h.T * h.T, h.nh * h.T * h.T, j * h.T * h.T]
}

/** For each group position j: C[·, j] = op(A[·, j])·op(B[·, j]) (+ C when accumulating across j), one strided sgemm per j. */
const gqaProduct = (b: HeapBackend, h: Gqa, M: number, N: number, K: number, a: [tf.TensorInfo, Operand, boolean], bb: [tf.TensorInfo, Operand, boolean], c: [tf.TensorInfo, Operand], accumulate: boolean): void => {
  const g = h.nh / h.nkv
  for (let j = 0; j < g; j++) {
    const [lda, sA, oA, jA] = layout(h, a[1], j)
    const [ldb, sB, oB, jB] = layout(h, bb[1], j)
    const [ldc, sC, oC, jC] = layout(h, c[1], j)
    blas().sgemmStrided(heapOf(b), a[2], bb[2], M, N, K, 1, off(b, a[0]) + 4 * jA, lda, sA, oA, off(b, bb[0]) + 4 * jB, ldb, sB, oB, accumulate && j > 0 ? 1 : 0, off(b, c[0]) + 4 * jC, ldc, sC, oC, h.nkv, h.B)
  }
}

const gqaOf = (q: tf.TensorInfo, k: tf.TensorInfo, attrs: Record<string, number>): Gqa => {
  const { B, T, nh, nkv } = attrs as { B: number; T: number; nh: number; nkv: number }
  const [N, Cq] = q.shape as [number, number]
  const D = Cq / nh
  if (N !== B * T || !Number.isInteger(D) || nh % nkv !== 0 || k.shape[0] !== N || k.shape[1] !== nkv * D)
    throw new Error(`native GQA attention: q [${q.shape}], k [${k.shape}] do not split into B=${B}, T=${T}, ${nh} query and ${nkv} kv heads`)
  return { B, T, nh, nkv, D }
}

const KERNELS: ReadonlyArray<readonly [string, tf.KernelFunc]> = [
  [
    "PeftlabRmsNorm",
    kernel((b, { x, w }, { eps }) => {
      const [N, C] = x!.shape as [number, number]
      const y = b.makeOutput([N, C], "float32")
      const r = b.makeOutput([N, 1], "float32")
      L().rmsnorm(heapOf(b), off(b, x!), off(b, w!), off(b, y), off(b, r), N, C, eps!)
      return [y, r]
    }),
  ],
  [
    "PeftlabRmsNormBackward",
    kernel((b, { dy, x, r, w }) => {
      const [N, C] = x!.shape as [number, number]
      const dx = b.makeOutput([N, C], "float32")
      const dw = b.makeOutput([C], "float32")
      L().rmsnormBackward(heapOf(b), off(b, dy!), off(b, x!), off(b, r!), off(b, w!), off(b, dx), off(b, dw), N, C)
      return [dx, dw]
    }),
  ],
  [
    "PeftlabRope",
    kernel((b, { x, cos, sin }, { B, T, H, inverse }) => {
      const D = x!.shape[1]! / H!
      const y = b.makeOutput([...x!.shape], "float32")
      const csBatch = cos!.shape[0] === 1 ? 0 : T! * (D / 2)
      L().rope(heapOf(b), off(b, x!), off(b, cos!), off(b, sin!), off(b, y), B!, T!, H!, D, csBatch, inverse ? 1 : 0)
      return [y]
    }),
  ],
  [
    "PeftlabSwiGlu",
    kernel((b, { gate, up }) => {
      const y = b.makeOutput([...gate!.shape], "float32")
      L().swiglu(heapOf(b), off(b, gate!), off(b, up!), off(b, y), numel(gate!))
      return [y]
    }),
  ],
  [
    "PeftlabSwiGluBackward",
    kernel((b, { dy, gate, up }) => {
      const dg = b.makeOutput([...gate!.shape], "float32")
      const du = b.makeOutput([...gate!.shape], "float32")
      L().swigluBackward(heapOf(b), off(b, dy!), off(b, gate!), off(b, up!), off(b, dg), off(b, du), numel(gate!))
      return [dg, du]
    }),
  ],
  [
    "PeftlabGqaAttention",
    kernel((b, { q, k, v, allowed }, attrs) => {
      const h = gqaOf(q!, k!, attrs)
      const { B, T, nh, D } = h
      const s = b.makeOutput([B * nh, T, T], "float32")
      gqaProduct(b, h, T, T, D, [q!, "q", false], [k!, "kv", true], [s, "tt"], false) // q·kᵀ
      const att = b.makeOutput([B * nh, T, T], "float32")
      if (allowed === undefined) blas().causalSoftmax(heapOf(b), off(b, s), off(b, att), B * nh, T, attrs.scale!)
      else blas().maskedSoftmax(heapOf(b), off(b, s), off(b, att), off(b, allowed), B * nh, T, nh, attrs.scale!)
      b.disposeData(s.dataId)
      const y = b.makeOutput([B * T, nh * D], "float32")
      gqaProduct(b, h, T, D, T, [att, "tt", false], [v!, "kv", false], [y, "q"], false) // att·v
      return [y, att]
    }),
  ],
  [
    "PeftlabGqaAttentionBackward",
    kernel((b, { dy, q, k, v, att }, attrs) => {
      const h = gqaOf(q!, k!, attrs)
      const { B, T, nh, nkv, D } = h
      const datt = b.makeOutput([B * nh, T, T], "float32")
      gqaProduct(b, h, T, T, D, [dy!, "q", false], [v!, "kv", true], [datt, "tt"], false) // dy·vᵀ
      const dv = b.makeOutput([B * T, nkv * D], "float32")
      gqaProduct(b, h, T, D, T, [att!, "tt", true], [dy!, "q", false], [dv, "kv"], true) // Σ_j attᵀ·dy
      const ds = b.makeOutput([B * nh, T, T], "float32")
      blas().causalSoftmaxBackward(heapOf(b), off(b, att!), off(b, datt), off(b, ds), B * nh, T, attrs.scale!)
      b.disposeData(datt.dataId)
      const dq = b.makeOutput([B * T, nh * D], "float32")
      gqaProduct(b, h, T, D, T, [ds, "tt", false], [k!, "kv", false], [dq, "q"], false) // ds·k
      const dk = b.makeOutput([B * T, nkv * D], "float32")
      gqaProduct(b, h, T, D, T, [ds, "tt", true], [q!, "q", false], [dk, "kv"], true) // Σ_j dsᵀ·q
      b.disposeData(ds.dataId)
      return [dq, dk, dv]
    }),
  ],
]

let registered = false
const register = (): void => {
  if (registered) return
  for (const [kernelName, kernelFunc] of KERNELS) tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc })
  registered = true
}

/** The addon itself (tests call it with bad offsets), or null where it was not built. */
export const llamaAddon = (): LlamaAddon | null => loadLlama()

/** True when the native Llama kernels can run (the addon built); llama.ts asks before each use. */
export const llamaKernelsAvailable = (): boolean => loadLlama() !== null

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number> = {}): tf.Tensor[] => {
  register()
  const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap)
  return Array.isArray(out) ? out : [out as tf.Tensor]
}

const f32 = (...ts: tf.Tensor[]): void => {
  for (const t of ts) if (t.dtype !== "float32") throw new Error(`native Llama op: expected float32, got ${t.dtype} of shape [${t.shape.join(",")}]`)
}

type Args = Array<tf.Tensor | tf.GradSaveFunc>

/** RMSNorm of x (N, C) over C with weight w (C,). */
export const nativeRmsNorm = (x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D => {
  f32(x, w)
  const f = tf.customGrad((...args: Args) => {
    const [xi, wi, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc]
    const [y, r] = run("PeftlabRmsNorm", { x: xi, w: wi }, { eps }) as [tf.Tensor2D, tf.Tensor2D]
    save([xi, r, wi])
    return { value: y, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => run("PeftlabRmsNormBackward", { dy, x: s[0]!, r: s[1]!, w: s[2]! }) }
  })
  return f(x, w) as tf.Tensor2D
}

/** rotate_half RoPE of x (B·T, H·D) with tables cos, sin (B or 1, T, 1, D/2) (llama.ts's Rotary). */
export const nativeRope = (x: tf.Tensor2D, cos: tf.Tensor, sin: tf.Tensor, B: number, T: number, H: number): tf.Tensor2D => {
  f32(x, cos, sin)
  const D = x.shape[1] / H
  const rows = cos.shape[0]!
  if (x.shape[0] !== B * T || !Number.isInteger(D) || cos.size !== rows * T * (D / 2) || (rows !== 1 && rows !== B) || sin.size !== cos.size)
    throw new Error(`native RoPE: x [${x.shape}], cos [${cos.shape}] do not fit B=${B}, T=${T}, ${H} heads`)
  const f = tf.customGrad((...args: Args) => {
    const [xi, save] = args as [tf.Tensor2D, tf.GradSaveFunc]
    const [y] = run("PeftlabRope", { x: xi, cos, sin }, { B, T, H, inverse: 0 })
    save([cos, sin]) // the tables are built inside the forward pass: kept for the backward
    return { value: y!, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => run("PeftlabRope", { x: dy, cos: s[0]!, sin: s[1]! }, { B, T, H, inverse: 1 })[0]! }
  })
  return f(x) as tf.Tensor2D
}

/** silu(gate)·up, both (N, F). */
export const nativeSwiGlu = (gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D => {
  f32(gate, up)
  if (gate.shape.join(",") !== up.shape.join(",")) throw new Error(`native SwiGLU: gate [${gate.shape}] and up [${up.shape}] differ`)
  const f = tf.customGrad((...args: Args) => {
    const [g, u, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc]
    const [y] = run("PeftlabSwiGlu", { gate: g, up: u })
    save([g, u])
    return { value: y!, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => run("PeftlabSwiGluBackward", { dy, gate: s[0]!, up: s[1]! }) }
  })
  return f(gate, up) as tf.Tensor2D
}

/**
 * Causal grouped-query attention: q (B·T, nh·D), k and v (B·T, nkv·D) → y (B·T, nh·D), query head
 * h attending with kv head ⌊h/(nh/nkv)⌋. `allowed` (B, T, T) narrows the causal mask (packed rows).
 */
export const nativeGqaAttention = (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, B: number, T: number, nh: number, nkv: number, scale: number, allowed?: tf.Tensor3D): tf.Tensor2D => {
  f32(q, k, v)
  if (allowed !== undefined && (allowed.dtype !== "float32" || allowed.shape.join(",") !== [B, T, T].join(",")))
    throw new Error(`native GQA attention: allowed [${allowed.shape}] is not float32 [${B},${T},${T}]`)
  const attrs = { B, T, nh, nkv, scale }
  const f = tf.customGrad((...args: Args) => {
    const [qi, ki, vi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc]
    const [y, att] = run("PeftlabGqaAttention", allowed === undefined ? { q: qi, k: ki, v: vi } : { q: qi, k: ki, v: vi, allowed }, attrs) as [tf.Tensor2D, tf.Tensor3D]
    save([qi, ki, vi, att])
    return { value: y, gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => run("PeftlabGqaAttentionBackward", { dy, q: s[0]!, k: s[1]!, v: s[2]!, att: s[3]! }, attrs) }
  })
  return f(q, k, v) as tf.Tensor2D
}
