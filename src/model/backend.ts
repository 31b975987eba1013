/**
 * Puts tfjs on a compute backend, with the fixes the wasm backend needs to train a GPT
 * (DESIGN.md, "Compute backends"):
 * - wasm has no `UnsortedSegmentSum` (the gradient of `tf.gather`) and a `Slice` that copies
 *   its whole input; `wasm-kernels.ts` registers replacements.
 * - wasm's matmul is only fast without transpose flags; `ops.matmul` then routes 2-D matmuls
 *   through a custom gradient with explicit transposes (`setMatmulFastPath`).
 *
 * Workers call `initBackend` before running a stage; calling it again is cheap.
 */
import * as tf from "@tensorflow/tfjs"
import type { BackendName } from "../engine/stage.ts"
import { setMatmulFastPath } from "./ops.ts"
import { registerWasmKernels } from "./wasm-kernels.ts"

export { unsortedSegmentSum } from "./wasm-kernels.ts"

// tfjs warns "install tfjs-node" on first use of the cpu backend and on platform switches;
// PROD only gates those console warnings in tfjs-core 4.22 (checked), nothing numeric.
tf.env().set("PROD", true)

let wasmLoaded = false

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
    registerWasmKernels()
  }
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialize`)
  await tf.ready()
  setMatmulFastPath(name === "wasm")
}
