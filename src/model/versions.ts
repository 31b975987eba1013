/**
 * The versions of the packages that change numbers, as recorded next to a run's results. The
 * list is src/contracts/packages.ts's FINGERPRINTED_PACKAGES (one list for the cache key and the records).
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FINGERPRINTED_PACKAGES, packageVersion } from "../contracts/packages.ts"

const here = path.dirname(fileURLToPath(import.meta.url))

/** Package → version for the installed tensor packages, in list order. */
export const numericVersions = (): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  for (const p of FINGERPRINTED_PACKAGES.tensors) {
    const v = packageVersion(p, here)
    if (v !== undefined) out[p] = v
  }
  return out
}

/** The tfjs version alone (what a run records next to its backend). */
export const tfjsVersion = (): string => packageVersion("@tensorflow/tfjs-core", here) ?? "unknown"
