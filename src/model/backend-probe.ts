/**
 * `--backend auto|tensorflow|wasm|cpu` → the backend a run will use, decided once in the
 * parent process (it is part of every fingerprint). `auto` prefers tfjs-node-gpu when it
 * loads, then wasm, then cpu; an explicit name must work or the run stops here.
 */
import type { BackendName } from "../engine/stage.ts"

export type BackendRequest = "auto" | BackendName

const loads = async (name: BackendName): Promise<boolean> => {
  try {
    const { initBackend } = await import("./backend.ts")
    await initBackend(name)
    return true
  } catch {
    return false
  }
}

/**
 * Probing initializes the backend in this process (a failed tfjs-node-gpu import is cheap:
 * the native binding is missing, so it throws at once; a half-installed copy throws too).
 */
export const resolveBackend = async (requested: BackendRequest): Promise<BackendName> => {
  if (requested !== "auto") {
    if (!(await loads(requested))) throw new Error(`backend ${requested} is not available here`)
    return requested
  }
  for (const name of ["tensorflow", "wasm", "cpu"] as const) if (await loads(name)) return name
  throw new Error("no tfjs backend initializes here")
}
