/**
 * Puts tfjs on a compute backend, with the fixes the wasm backend needs to train a GPT
 * (DESIGN.md, "Compute backends"):
 * - wasm has no `UnsortedSegmentSum`, the gradient of `tf.gather`, so an embedding cannot
 *   train; we register a small one (below).
 * - wasm's matmul is only fast without transpose flags; `ops.matmul` then routes 2-D matmuls
 *   through a custom gradient with explicit transposes (`setMatmulFastPath`).
 *
 * Workers call `initBackend` before running a stage; calling it again is cheap.
 */
import * as tf from "@tensorflow/tfjs"
import type { BackendName } from "../engine/stage.ts"
import { setMatmulFastPath } from "./ops.ts"

// tfjs warns "install tfjs-node" on first use of the cpu backend and on platform switches;
// PROD only gates those console warnings in tfjs-core 4.22 (checked), nothing numeric.
tf.env().set("PROD", true)

let wasmLoaded = false
let segmentSumRegistered = false

const loadWasm = async (): Promise<void> => {
  if (wasmLoaded) return
  await import("@tensorflow/tfjs-backend-wasm")
  wasmLoaded = true
}

/**
 * loadTensorflow: tfjs-node(-gpu) registers a "tensorflow" backend on import. It is an
 * optionalDependency that usually fails to install; any failure to load means "not here".
 */
export const loadTensorflow = async (): Promise<boolean> => {
  if (tf.findBackend("tensorflow") !== null) return true
  try {
    const name = "@tensorflow/tfjs-node-gpu"
    await import(/* @vite-ignore */ name)
    return tf.findBackend("tensorflow") !== null
  } catch {
    return false
  }
}

export const initBackend = async (name: BackendName): Promise<void> => {
  if (name === "tensorflow" && !(await loadTensorflow())) throw new Error("backend tensorflow: @tensorflow/tfjs-node-gpu does not load here")
  if (name === "wasm") {
    await loadWasm()
    registerUnsortedSegmentSum()
  }
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialize`)
  await tf.ready()
  setMatmulFastPath(name === "wasm")
}

/**
 * out[s, …] = Σ_{i : ids[i] = s} x[i, …] for s < numSegments; ids outside [0, numSegments)
 * are dropped (TensorFlow's semantics). x (N, …), ids (N,) int32 → (numSegments, …).
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

interface WasmBackendLike {
  readSync(dataId: tf.DataId): ArrayLike<number>
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array | Int32Array): tf.TensorInfo
}

const registerUnsortedSegmentSum = (): void => {
  if (segmentSumRegistered || tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined) return
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo }
      const numSegments = (attrs as { numSegments: number }).numSegments
      const b = backend as unknown as WasmBackendLike
      // The gradient of gather passes x reshaped to (N, inner) and ids (N,) int32.
      const xv = b.readSync(x.dataId)
      const values = x.dtype === "int32" ? Int32Array.from(xv) : Float32Array.from(xv)
      const out = unsortedSegmentSum(values, b.readSync(segmentIds.dataId), numSegments)
      return b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype, undefined, out)
    },
  })
  segmentSumRegistered = true
}
