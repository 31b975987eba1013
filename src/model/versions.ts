/**
 * Versions of the packages that change numbers (kernels, initializers, random streams), read
 * from their installed package.json files: part of every fingerprint that computes with tfjs.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

const versionOf = (pkg: string): string | null => {
  try {
    const path = require.resolve(`${pkg}/package.json`)
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version
  } catch {
    return null // not installed (tfjs-node-gpu usually is not)
  }
}

const NUMERIC_PACKAGES = [
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-backend-cpu",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-node-gpu",
] as const

/** Package → version for the installed ones, in a fixed order. */
export const numericVersions = (): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const p of NUMERIC_PACKAGES) {
    const v = versionOf(p)
    if (v !== null) out[p] = v
  }
  return out
}

/** The tfjs version alone (what a run records next to its backend). */
export const tfjsVersion = (): string => versionOf("@tensorflow/tfjs-core") ?? "unknown"
