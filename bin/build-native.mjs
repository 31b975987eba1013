#!/usr/bin/env node
// Builds the native backend's addon (native/blas.c: OpenBLAS sgemm and fused kernels on
// tfjs-wasm's heap) with node-gyp, as `npm install` does for better-sqlite3. Run by the
// package's `install` script; run it by hand after installing OpenBLAS to get `native` later.
//
// It never fails the install: where the addon cannot build (no OpenBLAS headers, no compiler)
// it writes the one-line reason to native/build-failure.txt, and peftlab falls back to wasm,
// saying that reason once (`--backend native` then exits 2 with it).
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "native")
const failure = join(dir, "build-failure.txt")
const HOW = "apt-get install libopenblas-dev build-essential, then node bin/build-native.mjs"

const fail = (why) => {
  writeFileSync(failure, `${why}\n`)
  console.warn(`peftlab: the native backend (OpenBLAS) was not built: ${why}. peftlab will use wasm; to get native: ${HOW}`)
  process.exit(0)
}

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
if (include === undefined) fail("no OpenBLAS headers (cblas.h from OpenBLAS) were found")
const libdir =
  pkgConfig("--libs-only-L").split(/\s+/).filter(Boolean).map((f) => f.replace(/^-L/, ""))[0] ??
  ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/opt/homebrew/opt/openblas/lib"].find((d) => existsSync(d)) ??
  "/usr/lib"

// node-gyp: the one npm runs install scripts with, else npm's own copy beside this node.
const gyp =
  process.env.npm_config_node_gyp ??
  [join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js")].find((p) => existsSync(p))
if (gyp === undefined) fail("node-gyp was not found (it ships with npm)")
// Build against the installed headers; without a nodedir node-gyp would try to download them.
const nodedir = process.env.npm_config_nodedir ?? [join(dirname(process.execPath), "..")].find((d) => existsSync(join(d, "include", "node", "node_api.h")))
const args = [gyp, "rebuild", "--release", ...(nodedir ? [`--nodedir=${nodedir}`] : []), "--", `-Dopenblas_include=${include}`, `-Dopenblas_libdir=${libdir}`]
const r = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8" })
if (r.status !== 0) {
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`
  const line = out.split("\n").find((l) => /error|not found|No such file/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(l))
  fail(`node-gyp failed${line ? `: ${line.trim()}` : ` (exit ${r.status})`}`)
}
rmSync(failure, { force: true })
// (a rebuild removes native/build, and with it the fallback note)
console.log(`peftlab: built the native backend (OpenBLAS headers in ${include})`)
