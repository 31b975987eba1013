/**
 * `--backend` resolution, decided once in the parent (the backend is part of every
 * fingerprint). The probe lives with the model code: `auto` = tfjs-node-gpu when it loads,
 * else native (wasm + OpenBLAS), else wasm, else cpu.
 */
import type { BackendRequest } from "../model/backend-probe.ts"
export { BackendUnavailable, backendIdentity, resolveBackend } from "../model/backend-probe.ts"

/** `"auto" | BackendName`, defined once, beside the probe that resolves it. */
export type { BackendRequest }

export const BACKEND_REQUESTS: ReadonlyArray<BackendRequest> = ["auto", "tensorflow", "native", "wasm", "cpu"]
