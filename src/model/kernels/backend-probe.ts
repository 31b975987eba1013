/**
 * `--backend auto|tensorflow|native|wasm|cpu` → the backend a run will use, decided once in
 * the parent process (it is part of every fingerprint). `auto` prefers tfjs-node-gpu when it
 * loads, then native (wasm + a BLAS: OpenBLAS, Accelerate or our own GEMM), then wasm, then cpu.
 *
 * Kept cheap for the parent (docs/DESIGN.md, "Start-up is part of the product"): tfjs itself is only
 * imported when tfjs-node-gpu is installed and must be tried; the native probe loads the
 * BLAS addon (~5 ms); wasm and cpu ship with @tensorflow/tfjs.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import type { BackendName } from "../../contracts/stage.ts"
import { ADDON_PATH, describeNativeBlas, loadNative, nativeIdentity, type NativeStatus } from "./native.ts"

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
export const tensorflowLoads = async (): Promise<boolean> => {
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

/** A backend asked for by name that this machine cannot run: an input error (exit 2). */
export class BackendUnavailable extends Error {
  readonly _tag = "BackendUnavailable"
}

/** Says `line` the first time on this build (the note sits beside the addon, so rebuilding it resets the note), then stays quiet. */
const noteOnce = (name: string, line: string, say: (line: string) => void): void => {
  const marker = join(dirname(ADDON_PATH), name)
  if (existsSync(marker)) return
  say(line)
  try {
    mkdirSync(dirname(marker), { recursive: true })
    writeFileSync(marker, `${line}\n`)
  } catch {
    // A read-only install says it every time instead.
  }
}

/** `auto` falling back from native says why once, in one line. */
const noteNativeFallback = (reason: string, say: (line: string) => void): void =>
  noteOnce("fallback-noted", `peftlab: using wasm, ${reason.replace(/^backend native is unavailable: /, "native is unavailable: ")}`, say)

/** The first run on native says which BLAS it multiplies with (OpenBLAS, Accelerate or our own GEMM), in one line. */
const noteNativeBlas = (native: Extract<NativeStatus, { ok: true }>, say: (line: string) => void): void =>
  noteOnce(`${basename(ADDON_PATH)}.noted`, `peftlab: backend native multiplies with ${describeNativeBlas(native)}`, say)

export const resolveBackend = async (requested: BackendRequest, say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<BackendName> => {
  if (requested === "tensorflow") {
    if (!(await tensorflowLoads())) throw new BackendUnavailable("backend tensorflow is not available here: @tensorflow/tfjs-node-gpu does not load")
    return "tensorflow"
  }
  if (requested === "native") {
    const native = loadNative()
    if (!native.ok) throw new BackendUnavailable(native.reason)
    if (!wasmAvailable()) throw new BackendUnavailable("backend native is not available here: it runs on tfjs-wasm, which does not load")
    noteNativeBlas(native, say)
    return "native"
  }
  if (requested === "wasm" && !wasmAvailable()) throw new BackendUnavailable("backend wasm is not available here")
  if (requested !== "auto") return requested
  if (await tensorflowLoads()) return "tensorflow"
  if (!wasmAvailable()) return "cpu"
  const native = loadNative()
  if (native.ok) {
    noteNativeBlas(native, say)
    return "native"
  }
  noteNativeFallback(native.reason, say)
  return "wasm"
}

/**
 * The backend as the fingerprint records it: native adds the BLAS and its kernels (OpenBLAS's
 * core, the own GEMM's micro-kernel), since other kernels round differently. (BLAS threads are not in it: the native tests prove losses
 * bit-identical for 1 and 2 threads, so a lone stage may use every core and still hit the
 * cache of a run that gave it one.)
 */
export const backendIdentity = (name: BackendName): string => (name === "native" ? nativeIdentity() : name)
