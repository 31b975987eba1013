#!/usr/bin/env node
// Builds the native backend's addon (native/blas.c: sgemm and fused kernels on tfjs-wasm's
// heap) with node-gyp, as `npm install` does for better-sqlite3. Run by the package's `install`
// script; run it by hand after installing a compiler or OpenBLAS.
//
// Which BLAS (native/build/Release/peftlab_blas.node):
//   openblas    where OpenBLAS's cblas.h is found (pkg-config, then the usual places): the first choice
//   accelerate  on macOS without OpenBLAS: Apple's Accelerate (vecLib) CBLAS
//   own         anywhere else with a C compiler: our own GEMM (native/gemm.c)
// PEFTLAB_BLAS=openblas|accelerate|own forces one (and fails, as below, when it cannot build).
// The own GEMM is also built beside any other, as peftlab_gemm.node, so tests and
// bench/train.ts can compare the two on one machine (PEFTLAB_NATIVE_ADDON selects an addon).
//
// It never fails the install: where no addon can build (no compiler) it writes the one-line
// reason to native/build-failure.txt, and peftlab falls back to wasm, saying that reason once
// (`--backend native` then exits 2 with it).
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "native")
const release = join(dir, "build", "Release")
const failure = join(dir, "build-failure.txt")
const HOW = "apt-get install build-essential (and libopenblas-dev for OpenBLAS), then node bin/build-native.mjs"

const fail = (why) => {
  writeFileSync(failure, `${why}\n`)
  console.warn(`peftlab: the native backend was not built: ${why}. peftlab will use wasm; to get native: ${HOW}`)
  process.exit(0)
}

const forced = process.env.PEFTLAB_BLAS || undefined
if (forced !== undefined && !["openblas", "accelerate", "own"].includes(forced)) fail(`PEFTLAB_BLAS=${forced} is none of openblas, accelerate, own`)

const pkgConfig = (flag) => {
  try {
    return execFileSync("pkg-config", [flag, "openblas"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return ""
  }
}

// Where cblas.h and libopenblas are: pkg-config first, then the usual Debian / Fedora places.
const includeDirs = [
  ...pkgConfig("--cflags-only-I").split(/\s+/).filter(Boolean).map((f) => f.replace(/^-I/, "")),
  "/usr/include/x86_64-linux-gnu/openblas-pthread",
  "/usr/include/aarch64-linux-gnu/openblas-pthread",
  "/usr/include/openblas",
  "/usr/include",
  "/opt/homebrew/opt/openblas/include",
  "/usr/local/opt/openblas/include",
]
const include = includeDirs.find((d) => existsSync(join(d, "cblas.h")) && readFileSync(join(d, "cblas.h"), "utf8").includes("openblas"))
const libdir =
  pkgConfig("--libs-only-L").split(/\s+/).filter(Boolean).map((f) => f.replace(/^-L/, ""))[0] ??
  ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/opt/homebrew/opt/openblas/lib"].find((d) => existsSync(d)) ??
  "/usr/lib"

if (forced === "openblas" && include === undefined) fail("PEFTLAB_BLAS=openblas, but no OpenBLAS headers (cblas.h from OpenBLAS) were found")
if (forced === "accelerate" && process.platform !== "darwin") fail("PEFTLAB_BLAS=accelerate, but Accelerate exists on macOS only")
const blas = forced ?? (include !== undefined ? "openblas" : process.platform === "darwin" ? "accelerate" : "own")

// node-gyp: the one npm runs install scripts with, else npm's own copy beside this node.
const gyp =
  process.env.npm_config_node_gyp ??
  [join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js")].find((p) => existsSync(p))
if (gyp === undefined) fail("node-gyp was not found (it ships with npm)")
// Build against the installed headers; without a nodedir node-gyp would try to download them.
const nodedir = process.env.npm_config_nodedir ?? [join(dirname(process.execPath), "..")].find((d) => existsSync(join(d, "include", "node", "node_api.h")))

// No compiler, no addon: say so plainly rather than through make's error.
if (process.platform !== "win32") {
  const cc = process.env.CC || "cc"
  const [command = "cc", ...flags] = cc.trim().split(/\s+/) // CC may carry a launcher or flags ("ccache gcc")
  const probe = spawnSync(command, [...flags, "--version"], { stdio: "ignore" })
  if (probe.error !== undefined || probe.status !== 0) fail(`no C compiler was found (${cc} --version fails)`)
}

/** One node-gyp rebuild; the first line that says what went wrong, or undefined when it built. */
const build = (which, ownToo) => {
  const vars = [`-Dblas=${which}`, `-Down_too=${ownToo ? 1 : 0}`, ...(which === "openblas" ? [`-Dopenblas_include=${include}`, `-Dopenblas_libdir=${libdir}`] : [])]
  const r = spawnSync(process.execPath, [gyp, "rebuild", "--release", ...(nodedir ? [`--nodedir=${nodedir}`] : []), "--", ...vars], { cwd: dir, encoding: "utf8" })
  if (r.status === 0) return undefined
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`
  const line = out.split("\n").find((l) => /error|not found|No such file/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(l))
  return `node-gyp failed${line ? `: ${line.trim()}` : ` (exit ${r.status})`}`
}

// The chosen BLAS with the own GEMM beside it; else the chosen alone; else (not forced) the own GEMM.
let built = blas
let error = build(blas, blas !== "own")
if (error !== undefined && blas !== "own") error = build(blas, false)
if (error !== undefined && forced === undefined && blas !== "own") {
  const fallback = build("own", false)
  if (fallback === undefined) {
    console.warn(`peftlab: ${blas} did not build (${error}); using our own GEMM instead`)
    built = "own"
  }
  error = fallback === undefined ? undefined : `${error}; our own GEMM did not build either (${fallback})`
}
if (error !== undefined) fail(error)
rmSync(failure, { force: true })
// (a rebuild removes native/build, and with it the fallback note)
if (built === "own") copyFileSync(join(release, "peftlab_blas.node"), join(release, "peftlab_gemm.node"))
const why = forced !== undefined ? "PEFTLAB_BLAS" : built === "openblas" ? `headers in ${include}` : built === "accelerate" ? "no OpenBLAS found" : "no OpenBLAS headers found"
const beside = built !== "own" && existsSync(join(release, "peftlab_gemm.node")) ? "; our own GEMM beside it in peftlab_gemm.node" : ""
const name = { openblas: "OpenBLAS", accelerate: "Accelerate", own: "our own GEMM (native/gemm.c)" }[built]
console.log(`peftlab: built the native backend with ${name} (${why})${beside}`)
