/**
 * `--backend auto|tensorflow|wasm|cpu` → the backend a run will use, decided once in the
 * parent process (it is part of every fingerprint). `auto` prefers tfjs-node-gpu when it
 * loads, then wasm, then cpu.
 *
 * Kept cheap for the parent (DESIGN: start-up is part of the product): tfjs itself is only
 * imported when tfjs-node-gpu is installed and must be tried; wasm and cpu ship with
 * @tensorflow/tfjs and need no probe beyond WebAssembly being there.
 */
import { createRequire } from "node:module"
import type { BackendName } from "../engine/stage.ts"

export type BackendRequest = "auto" | BackendName

const require = createRequire(import.meta.url)

const resolvable = (pkg: string): boolean => {
  try {
    require.resolve(pkg)
    return true
  } catch {
    return false
  }
}

/** The guarded import: a missing or half-installed tfjs-node-gpu (no native binding) throws here. */
const tensorflowLoads = async (): Promise<boolean> => {
  if (!resolvable("@tensorflow/tfjs-node-gpu")) return false
  try {
    const { loadTensorflow } = await import("./backend.ts")
    return await loadTensorflow()
  } catch {
    return false
  }
}

const wasmAvailable = (): boolean =>
  typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === "object" && resolvable("@tensorflow/tfjs-backend-wasm")

export const resolveBackend = async (requested: BackendRequest): Promise<BackendName> => {
  if (requested === "tensorflow") {
    if (!(await tensorflowLoads())) throw new Error("backend tensorflow is not available here: @tensorflow/tfjs-node-gpu does not load")
    return "tensorflow"
  }
  if (requested === "wasm" && !wasmAvailable()) throw new Error("backend wasm is not available here")
  if (requested !== "auto") return requested
  if (await tensorflowLoads()) return "tensorflow"
  return wasmAvailable() ? "wasm" : "cpu"
}
