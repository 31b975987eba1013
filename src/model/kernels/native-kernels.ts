/**
 * The `native` backend = tfjs-wasm for every op, with matrix products in a BLAS: OpenBLAS, or
 * Accelerate, or our own GEMM (native/gemm.c), whichever the addon was built with (native.ts).
 *
 * tfjs runs every matmul (2-D, batched, and both products of each gradient) through one
 * kernel, `BatchMatMul`. On wasm it goes to XNNPACK, fast only without transpose flags, and to
 * a naive loop with them or with a batch. Ours calls `sgemm` on the operands where they lie in
 * the wasm heap: transposes become BLAS flags, a batch is one call that loops in C, and a
 * broadcast operand (batch 1 against G) is a zero stride. Nothing is copied.
 *
 * The same goes for `UnsortedSegmentSum` (the embedding's gradient: a scatter-add in C),
 * `GatherV2` (the embedding lookup: a row copy), float32 `Add`/`Sub`/`Multiply` of one shape or
 * with a scalar (plain C loops, exactly rounded as wasm's), and `PeftlabDense` is a product with
 * its bias in one sgemm (C starts as the bias rows).
 *
 * The replacements are registered on tfjs's "wasm" backend (native IS wasm plus these kernels)
 * and only act while `setNativeMatmul(true)` holds: a process can run wasm and native one after the
 * other (the tests do), each with its own numerics.
 */
import * as tf from "@tensorflow/tfjs"
import { loadNative, type BlasAddon } from "./native.ts"

/** The tfjs-wasm backend internals we read (tfjs-backend-wasm 4.22, backend_wasm.ts). */
export interface WasmHeapBackend {
  readonly wasm: { readonly HEAPU8: Uint8Array }
  readonly dataIdMap: { get(dataId: tf.DataId): { readonly memoryOffset: number } | undefined }
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo
}

let addon: BlasAddon | undefined

/** Byte offset of a tensor's data in the wasm heap. */
export const heapOffset = (backend: WasmHeapBackend, t: tf.TensorInfo): number => {
  const entry = backend.dataIdMap.get(t.dataId)
  if (entry === undefined) throw new Error(`native matmul: tensor of shape [${t.shape.join(",")}] has no data on the wasm backend`)
  return entry.memoryOffset
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** How often each replaced kernel ran in C rather than falling back (the tests check the C path is taken). */
const cCalls = new Map<string, number>()
const counted = (name: string): void => void cCalls.set(name, (cCalls.get(name) ?? 0) + 1)
export const nativeKernelCalls = (name: string): number => cCalls.get(name) ?? 0

const batchMatMulKernel =
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    if (addon === undefined) return fallback(args)
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean }
    if (a.dtype !== "float32" || b.dtype !== "float32") return fallback(args)
    const ar = a.shape.length
    const br = b.shape.length
    // op(A) is M×K, op(B) is K×N (row-major storage, tfjs's layout).
    const M = transposeA ? a.shape[ar - 1]! : a.shape[ar - 2]!
    const K = transposeA ? a.shape[ar - 2]! : a.shape[ar - 1]!
    const Kb = transposeB ? b.shape[br - 1]! : b.shape[br - 2]!
    const N = transposeB ? b.shape[br - 2]! : b.shape[br - 1]!
    if (K !== Kb)
      throw new Error(`Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`)
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2))
    const batchA = size(a.shape.slice(0, -2))
    const batchB = size(b.shape.slice(0, -2))
    const batch = size(outer)
    // Broadcasts other than "same batch" or "one against many" (e.g. [1,6] vs [6,1]), and
    // empty inner products, are rare: wasm's own kernel handles them.
    if (batch !== Math.max(batchA, batchB) || (batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1) || K === 0) return fallback(args)
    const backend = args.backend as unknown as WasmHeapBackend
    const out = backend.makeOutput([...outer, M, N], "float32")
    if (M === 0 || N === 0 || batch === 0) return out
    // The heap's buffer is read only after makeOutput: an allocation may grow (replace) it.
    addon.sgemm(
      backend.wasm.HEAPU8.buffer as ArrayBuffer,
      transposeA,
      transposeB,
      M,
      N,
      K,
      1,
      heapOffset(backend, a),
      transposeA ? M : K,
      batchA === 1 ? 0 : M * K,
      heapOffset(backend, b),
      transposeB ? K : N,
      batchB === 1 ? 0 : K * N,
      0,
      heapOffset(backend, out),
      N,
      M * N,
      batch,
    )
    return out
  }

/** x (n, k) · w (k, m) + b (m,) → (n, m) in one sgemm: native only (ops.blasDense). */
const denseKernel: tf.KernelFunc = (args) => {
  if (addon === undefined) throw new Error("PeftlabDense runs on the native backend only")
  const { x, w, b } = args.inputs as { x: tf.TensorInfo; w: tf.TensorInfo; b: tf.TensorInfo }
  const [n, k] = x.shape as [number, number]
  const [k2, m] = w.shape as [number, number]
  if (x.shape.length !== 2 || w.shape.length !== 2 || k !== k2 || b.shape.length !== 1 || b.shape[0] !== m || [x, w, b].some((t) => t.dtype !== "float32"))
    throw new Error(`PeftlabDense: expected float32 x (n, k), w (k, m), b (m,), got x [${x.shape}], w [${w.shape}], b [${b.shape}]`)
  const backend = args.backend as unknown as WasmHeapBackend
  const out = backend.makeOutput([n, m], "float32")
  if (n === 0 || m === 0) return out
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer
  addon.sgemm(heap, false, false, n, m, k, 1, heapOffset(backend, x), k, 0, heapOffset(backend, w), m, 0, 1, heapOffset(backend, out), m, 0, 1, heapOffset(backend, b))
  return out
}

const segmentSumKernel =
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo }
    if (addon === undefined || x.dtype !== "float32" || segmentIds.dtype !== "int32" || segmentIds.shape.length !== 1 || x.shape[0] !== segmentIds.shape[0]) return fallback(args)
    const S = (args.attrs as { numSegments: number }).numSegments
    const N = segmentIds.shape[0]!
    const inner = size(x.shape.slice(1))
    const backend = args.backend as unknown as WasmHeapBackend
    const out = backend.makeOutput([S, ...x.shape.slice(1)], "float32")
    if (S * inner === 0) return out
    addon.segmentSum(backend.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(backend, x), heapOffset(backend, segmentIds), heapOffset(backend, out), N, inner, S)
    return out
  }

/**
 * tf.gather on axis 0 (an embedding lookup): a row copy in C. wasm's GatherV2 took 3.5 ms for
 * 1032 rows of a [128,128] or [1024,128] table (a [1032,128]×[128,128] product takes 0.33 ms),
 * twice a step. Anything but float32 rows, int32 indices, axis 0 and batchDims 0 is wasm's.
 * An index outside the table is wasm's too: its kernel raises tfjs's own error.
 */
const gatherKernel =
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo }
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number }
    if (addon === undefined || x.dtype !== "float32" || indices.dtype !== "int32" || x.shape.length === 0 || batchDims !== 0) return fallback(args)
    if (tf.util.parseAxisParam(axis, x.shape)[0] !== 0 || size(x.shape) === 0 || size(indices.shape) === 0) return fallback(args)
    const S = x.shape[0]!
    const inner = size(x.shape.slice(1))
    const N = size(indices.shape)
    const backend = args.backend as unknown as WasmHeapBackend & { disposeData(dataId: tf.DataId): boolean }
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], "float32")
    if (addon.gatherRows(backend.wasm.HEAPU8.buffer as ArrayBuffer, heapOffset(backend, x), heapOffset(backend, indices), heapOffset(backend, out), S, inner, N)) {
      counted("GatherV2")
      return out
    }
    backend.disposeData(out.dataId)
    return fallback(args)
  }

/**
 * Add, Sub and Multiply on float32 in C, for operands of one shape or with one of them a
 * scalar (size 1): ~100 µs each on wasm for [1032,128] (XNNPACK's dispatch), ~250 a step
 * (residuals, gradient sums, scalings, AdamW). The C loop rounds as wasm does (see blas.c), so
 * results keep their bits. Every other broadcast and dtype is wasm's.
 */
const binaryKernel =
  (name: string, op: 0 | 1 | 2) =>
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
    if (addon === undefined || a.dtype !== "float32" || b.dtype !== "float32") return fallback(args)
    const aN = size(a.shape)
    const bN = size(b.shape)
    const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])
    if (!same && aN !== 1 && bN !== 1) return fallback(args)
    const shape = same ? [...a.shape] : tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape)
    const n = size(shape)
    const backend = args.backend as unknown as WasmHeapBackend
    const out = backend.makeOutput(shape, "float32")
    if (n === 0) return out // (not counted: nothing for C to do)
    addon.binary(backend.wasm.HEAPU8.buffer as ArrayBuffer, op, heapOffset(backend, a), aN, heapOffset(backend, b), bN, heapOffset(backend, out), n)
    counted(name)
    return out
  }

const wrap = (name: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void => {
  const original = tf.getKernel(name, "wasm")
  if (original === undefined) throw new Error(`native: tfjs-wasm has no ${name} kernel to replace`)
  tf.unregisterKernel(name, "wasm")
  tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) })
}

let registered = false

/**
 * Puts the BLAS kernels on tfjs's wasm backend (once per process, after wasm-kernels.ts has
 * added UnsortedSegmentSum), inactive until `setNativeMatmul(true)`.
 */
export const registerNativeKernels = (): void => {
  if (registered) return
  wrap("BatchMatMul", batchMatMulKernel)
  wrap("UnsortedSegmentSum", segmentSumKernel)
  wrap("GatherV2", gatherKernel)
  wrap("Add", binaryKernel("Add", 0))
  wrap("Sub", binaryKernel("Sub", 1))
  wrap("Multiply", binaryKernel("Multiply", 2))
  tf.registerKernel({ kernelName: "PeftlabDense", backendName: "wasm", kernelFunc: denseKernel })
  registered = true
}

/** x (n, k) · w (k, m) + b (m,) as one kernel (native backend only). */
export const nativeDenseForward = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D =>
  tf.engine().runKernel("PeftlabDense", { x, w, b }) as tf.Tensor2D

/** Routes wasm's matrix products to the addon's sgemm (true) or back to XNNPACK (false). */
export const setNativeMatmul = (on: boolean): void => {
  if (!on) {
    addon = undefined
    return
  }
  const s = loadNative()
  if (!s.ok) throw new Error(s.reason)
  addon = s.addon
}

export const nativeMatmulActive = (): boolean => addon !== undefined
