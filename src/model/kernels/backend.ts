/**
 * Puts tfjs on a compute backend, with the fixes the wasm backend needs to train a GPT
 * (docs/DESIGN.md, "Compute backends"):
 * - wasm has no `UnsortedSegmentSum` (the gradient of `tf.gather`) and a `Slice` that copies
 *   its whole input; `wasm-kernels.ts` registers replacements.
 * - wasm's matmul is only fast without transpose flags; `ops.matmul` then routes 2-D matmuls
 *   through a custom gradient with explicit transposes (`setMatmulPath("xnnpack")`).
 * - `native` is the wasm backend whose matrix products run in OpenBLAS (native-kernels.ts);
 *   tfjs itself still calls the backend "wasm".
 *
 * Workers call `initBackend` before running a stage; calling it again is cheap.
 */
import * as tf from "@tensorflow/tfjs"
import type { BackendName } from "../../contracts/stage.ts"
import { registerNativeKernels, setNativeMatmul } from "./native-kernels.ts"
import { registerNativeOps } from "./native-ops.ts"
import { setNativeThreads } from "./native.ts"
import { setMatmulPath } from "./ops.ts"
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

/** The tfjs backend a peftlab backend runs on. */
const tfjsBackend = (name: BackendName): string => (name === "native" ? "wasm" : name)

/** `threads`: BLAS threads for the native backend's products (ignored elsewhere). */
export const initBackend = async (name: BackendName, threads = 1): Promise<void> => {
  if (name === "tensorflow" && !(await loadTensorflow())) throw new Error("backend tensorflow: @tensorflow/tfjs-node-gpu does not load here")
  if (name === "wasm" || name === "native") {
    await loadWasm()
    registerWasmKernels()
    registerNativeKernels()
    registerNativeOps()
  }
  const tfName = tfjsBackend(name)
  if (tf.getBackend() !== tfName && !(await tf.setBackend(tfName))) throw new Error(`backend ${name} failed to initialize`)
  await tf.ready()
  setNativeMatmul(name === "native")
  if (name === "native") setNativeThreads(threads)
  setMatmulPath(name === "native" ? "blas" : name === "wasm" ? "xnnpack" : "tfjs")
}
