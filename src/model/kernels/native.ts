/**
 * The `native` backend's addon: sgemm on tfjs-wasm's heap (native/blas.c, built by `npm install`
 * through bin/build-native.mjs). This file only loads it and says why when it cannot, and which
 * BLAS it multiplies with when it can; `native-kernels.ts` plugs it into tfjs.
 *
 * Two builds: peftlab_blas.node against the system BLAS build-native.mjs found (OpenBLAS where its
 * headers are, else Apple's Accelerate on macOS, else our own GEMM), and peftlab_gemm.node, our
 * own GEMM (native/gemm.c, AVX-512 / AVX2 / NEON micro-kernels picked at load from the CPU's
 * features), built beside it. peftlab runs the own GEMM unless told otherwise (`ADDON_PATH`).
 *
 * OpenBLAS kernel choice (docs/DESIGN.md, "Compute backends"): Debian's OpenBLAS 0.3.21 does not know
 * recent Xeons and falls back to SSE3 kernels ("Prescott", 23–28 GFLOP/s). OpenBLAS reads
 * OPENBLAS_CORETYPE once, when the library loads, so it is set here from the CPU's own
 * features before the addon is required — unless the machine already set it (some do, to
 * avoid kernels that misbehave there), which is respected. The BLAS and the kernels it finally
 * runs are part of the backend's identity (`nativeIdentity`): different kernels, different last bits.
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export interface BlasAddon {
  /** C_g = alpha·op(A_g)·op(B_g) + beta·C_g for g < batch; offsets in bytes, the rest in floats. */
  sgemm(
    heap: ArrayBuffer,
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    aOff: number,
    lda: number,
    strideA: number,
    bOff: number,
    ldb: number,
    strideB: number,
    beta: number,
    cOff: number,
    ldc: number,
    strideC: number,
    batch: number,
    biasOff?: number,
  ): void
  /** out[s] = Σ_{i: ids[i] = s} x[i] (ids outside [0, S) dropped); offsets in bytes. */
  segmentSum(heap: ArrayBuffer, xOff: number, idsOff: number, outOff: number, N: number, inner: number, S: number): void
  /** out[i] = x[ids[i]] for rows of `inner` floats; false (nothing written) when an id is outside [0, S). */
  gatherRows(heap: ArrayBuffer, xOff: number, idsOff: number, outOff: number, S: number, inner: number, N: number): boolean
  /** out = a + b (op 0), a − b (1), a × b (2) on float32; aN and bN are n, or 1 for a scalar. */
  binary(heap: ArrayBuffer, op: 0 | 1 | 2, aOff: number, aN: number, bOff: number, bN: number, outOff: number, n: number): void
  setThreads(n: number): void
  info(): BlasInfo
}

/** Which BLAS the addon was built with, and the kernels it runs (OpenBLAS's core, e.g. "SkylakeX"; the own GEMM's micro-kernel, e.g. "avx512"). */
export interface BlasInfo {
  readonly blas: "openblas" | "accelerate" | "own"
  readonly core: string
  readonly threads: number
  readonly config: string
}

export type NativeStatus = { readonly ok: true; readonly addon: BlasAddon; readonly blas: BlasInfo["blas"]; readonly core: string } | { readonly ok: false; readonly reason: string }

// From import.meta.url, which the CLI bundle keeps as each source file's own (bin/build.mjs).
const projectDir = fileURLToPath(new URL("../../../", import.meta.url))
/** The addon build-native.mjs built against the BLAS it chose (OpenBLAS, Accelerate, or the own GEMM where neither is). */
export const BLAS_ADDON_PATH = join(projectDir, "native", "build", "Release", "peftlab_blas.node")
/** The own GEMM's build, always made beside the chosen BLAS (bin/build-native.mjs). */
export const GEMM_ADDON_PATH = join(projectDir, "native", "build", "Release", "peftlab_gemm.node")

/**
 * The addon peftlab runs. Our own GEMM by default, wherever it was built (beside OpenBLAS too):
 * its results do not depend on the thread count (threads split C, never the K sum), which the
 * engine relies on — a stage resumed or run under Slurm with other threads than locally must
 * give the same bits — and OpenBLAS does not guarantee it: with the Haswell kernels (which this
 * machine forces through OPENBLAS_CORETYPE) 1 and 2 threads gave different pretrained bases.
 * It is also faster than those kernels (bench/README.md, "Our own GEMM"). PEFTLAB_BLAS=openblas
 * (or accelerate) at run time picks the addon build-native.mjs linked to the system BLAS;
 * PEFTLAB_NATIVE_ADDON any file (the fallback tests use a path that does not exist).
 */
export const ADDON_PATH =
  process.env.PEFTLAB_NATIVE_ADDON ??
  (process.env.PEFTLAB_BLAS === "openblas" || process.env.PEFTLAB_BLAS === "accelerate" || !existsSync(GEMM_ADDON_PATH) ? BLAS_ADDON_PATH : GEMM_ADDON_PATH)
/** Written by bin/build-native.mjs when the build fails: the one-line reason. */
export const BUILD_FAILURE_PATH = join(projectDir, "native", "build-failure.txt")
export const HOW_TO_GET_NATIVE = "install a C compiler (Debian: apt-get install build-essential, and libopenblas-dev for OpenBLAS), then `npm rebuild peftlab` or `node bin/build-native.mjs`"

/** The OpenBLAS core for this CPU's features, or undefined to let OpenBLAS decide. */
export const coreTypeFor = (cpuinfo: string): string | undefined => {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "").trim().split(/\s+/))
  const amd = /AuthenticAMD/.test(cpuinfo)
  if (["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].every((f) => flags.has(f))) return "SkylakeX"
  if (flags.has("avx2") && flags.has("fma")) return amd ? "Zen" : "Haswell"
  return undefined
}

let status: NativeStatus | undefined

/** Loads the addon once per process; never throws. */
export const loadNative = (): NativeStatus => {
  if (status !== undefined) return status
  if (!existsSync(ADDON_PATH)) {
    const why = existsSync(BUILD_FAILURE_PATH) ? readFileSync(BUILD_FAILURE_PATH, "utf8").trim() : "the addon was not built"
    return (status = { ok: false, reason: `backend native is unavailable: ${why}; to get it, ${HOW_TO_GET_NATIVE}` })
  }
  if (process.env.OPENBLAS_CORETYPE === undefined && os.platform() === "linux" && existsSync("/proc/cpuinfo")) {
    const core = coreTypeFor(readFileSync("/proc/cpuinfo", "utf8"))
    if (core !== undefined) process.env.OPENBLAS_CORETYPE = core
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as BlasAddon
    // One thread until a stage says otherwise (`setNativeThreads`): workers run side by side.
    addon.setThreads(1)
    const info = addon.info()
    // (an addon built before the BLAS choice existed reports no `blas`: it was OpenBLAS)
    return (status = { ok: true, addon, blas: info.blas ?? "openblas", core: info.core })
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0]
    return (status = { ok: false, reason: `backend native is unavailable: the addon does not load (${first}); to fix it, ${HOW_TO_GET_NATIVE}` })
  }
}

/**
 * The backend's identity for fingerprints: the BLAS and its kernels decide the products' last
 * bits (`native:openblas-skylakex:…`, `native:own-avx512:…`, `native:accelerate-veclib:…`),
 * and our own C is code like any other (the code digest covers TypeScript only), so a digest of
 * the C sources built into the addons (native/llama.c's Llama kernels too) rides along: editing
 * them reruns what ran on native.
 */
export const nativeIdentity = (): string => {
  const s = loadNative()
  if (!s.ok) return "native:unavailable"
  const sources = [...(s.blas === "own" ? ["blas.c", "gemm.c", "gemm.h"] : ["blas.c"]), "llama.c"]
  const hash = createHash("sha256")
  for (const f of sources) {
    const path = join(projectDir, "native", f)
    hash.update(existsSync(path) ? readFileSync(path) : `${f}:nosource`)
  }
  return `native:${s.blas}-${s.core.toLowerCase()}:${hash.digest("hex").slice(0, 12)}`
}

/** Which BLAS the native backend multiplies with, for one line of the first run (backend-probe.ts). */
export const describeNativeBlas = (s: Extract<NativeStatus, { ok: true }>): string => {
  if (s.blas === "openblas") return `OpenBLAS (${s.core} kernels; ${s.addon.info().config.split(" ").slice(0, 2).join(" ")})`
  if (s.blas === "accelerate") return "Apple Accelerate"
  return `peftlab's own GEMM (native/gemm.c, ${s.core} micro-kernel)`
}

/** BLAS threads for the next products (a lone stage takes every core; see engine/threads.ts). */
export const setNativeThreads = (n: number): void => {
  const s = loadNative()
  if (s.ok) s.addon.setThreads(Math.max(1, Math.floor(n)))
}
