/**
 * Kernels registered on tfjs's wasm backend (4.22) to make GPT training work and be fast:
 *
 * - `UnsortedSegmentSum` is missing on wasm; it is the gradient of `tf.gather`, so without it
 *   an embedding cannot train.
 * - wasm's `Slice` reads its input through `readSync`, which copies the WHOLE input out of
 *   the heap for every slice (200 µs to cut 8 KB from 512 KB). Ours reads a heap view.
 *   Attention's per-head matmuls (ops.batchMatmul) depend on cheap slices.
 * - wasm's `Identity` copies its input. tfjs clones (= Identity) every tensor it saves for
 *   the backward pass, so each step copied hundreds of activations. Ours shares the data
 *   with a reference count, as the cpu backend and wasm's own Reshape do (tensors are
 *   immutable; a Variable's assign switches to new data rather than writing in place).
 */
import * as tf from "@tensorflow/tfjs"

interface WasmBackend {
  incRef(dataId: tf.DataId): void
  readSync(dataId: tf.DataId): ArrayLike<number>
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array | Int32Array): tf.TensorInfo
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array
}

/**
 * out[s, …] = Σ_{i : ids[i] = s} x[i, …] for s < numSegments; ids outside [0, numSegments)
 * are dropped (TensorFlow's semantics). x (N, …), ids (N,) → (numSegments, …).
 */
export const unsortedSegmentSum = (x: Float32Array | Int32Array, ids: ArrayLike<number>, numSegments: number): Float32Array | Int32Array => {
  const inner = ids.length === 0 ? 0 : x.length / ids.length
  const out = x instanceof Int32Array ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner)
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i] ?? -1
    if (s < 0 || s >= numSegments) continue
    const src = i * inner
    const dst = s * inner
    for (let j = 0; j < inner; j++) out[dst + j] = (out[dst + j] ?? 0) + (x[src + j] ?? 0)
  }
  return out
}

const segmentSumKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo }
  const numSegments = (attrs as { numSegments: number }).numSegments
  const b = backend as unknown as WasmBackend
  const xv = b.readSync(x.dataId)
  const values = x.dtype === "int32" ? Int32Array.from(xv) : Float32Array.from(xv)
  const out = unsortedSegmentSum(values, b.readSync(segmentIds.dataId), numSegments)
  return b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype, undefined, out)
}

/** Slice of a rank ≤ 3 numeric tensor by copying rows out of a heap view. */
const sliceKernel =
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] }
    if (x.dtype === "string" || x.shape.length > 3 || x.shape.length === 0) return fallback(args)
    const [b0, s0] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [number[], number[]]
    const shape3 = [...Array(3 - x.shape.length).fill(1), ...x.shape] as [number, number, number]
    const pad = 3 - x.shape.length
    const beg = [...Array(pad).fill(0), ...b0] as [number, number, number]
    const sz = [...Array(pad).fill(1), ...s0] as [number, number, number]
    const backend = args.backend as unknown as WasmBackend
    const out = backend.makeOutput(s0, x.dtype)
    // Views only after makeOutput: allocating may grow (and move) the wasm heap.
    const xv = backend.typedArrayFromHeap(x)
    const ov = backend.typedArrayFromHeap(out)
    const [, d1, d2] = shape3
    let o = 0
    for (let i = beg[0]; i < beg[0] + sz[0]; i++) {
      for (let j = beg[1]; j < beg[1] + sz[1]; j++) {
        const from = (i * d1 + j) * d2 + beg[2]
        ov.set(xv.subarray(from, from + sz[2]), o)
        o += sz[2]
      }
    }
    return out
  }

const identityKernel =
  (fallback: tf.KernelFunc): tf.KernelFunc =>
  (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x
    if (x.dtype === "string") return fallback(args)
    ;(args.backend as unknown as WasmBackend).incRef(x.dataId)
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
  }

const replace = (name: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void => {
  const original = tf.getKernel(name, "wasm")
  if (original === undefined) return
  tf.unregisterKernel(name, "wasm")
  tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) })
}

let registered = false

export const registerWasmKernels = (): void => {
  if (registered) return
  registered = true
  if (tf.getKernel("UnsortedSegmentSum", "wasm") === undefined) {
    tf.registerKernel({ kernelName: "UnsortedSegmentSum", backendName: "wasm", kernelFunc: segmentSumKernel })
  }
  replace("Slice", sliceKernel)
  replace("Identity", identityKernel)
}
