/**
 * `--backend` resolution. TODO(model): switch to `resolveBackend` from src/model/backend-probe.ts
 * (which probes tfjs-node-gpu) once it exists; until then `auto` means wasm.
 */
import type { BackendName } from "./stage.ts"

export type BackendRequest = "auto" | BackendName

export const BACKEND_REQUESTS: ReadonlyArray<BackendRequest> = ["auto", "tensorflow", "wasm", "cpu"]

export const resolveBackend = async (requested: BackendRequest): Promise<BackendName> => (requested === "auto" ? "wasm" : requested)
