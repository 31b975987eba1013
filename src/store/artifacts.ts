/**
 * The content-addressed artifact store. A stage writes into `tmp/<pid>-<random>/`; the folder is
 * digested (sha256 of its manifest: relative paths, sizes, file digests) and renamed to
 * `store/<d[:2]>/<d>/`. A rename is atomic, and only the SQLite commit that follows makes the
 * folder a cache entry; a folder in `store/` without its row is an orphan that start-up removes.
 * Every file and folder is fsynced before the rename and the parent folders after it, so the
 * commit never points at data still in the page cache (durable.ts). A cache hit checks the
 * folder against its manifest (`verifyArtifact`, sizes only: cheap) and is a miss when damaged.
 */
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { fsyncPath, fsyncTree } from "./durable.ts"
import { ownStart } from "./liveness.ts"
import * as path from "node:path"
import { canonicalJson } from "../contracts/canonical.ts"

export interface ManifestEntry {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

export interface Manifest {
  readonly digest: string
  readonly bytes: number
  readonly files: ReadonlyArray<ManifestEntry>
}

const walk = (root: string, rel: string, out: Array<ManifestEntry>): void => {
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const relPath = rel === "" ? name : `${rel}/${name}`
    const abs = path.join(root, relPath)
    const st = statSync(abs)
    if (st.isDirectory()) walk(root, relPath, out)
    else out.push({ path: relPath, bytes: st.size, sha256: createHash("sha256").update(readFileSync(abs)).digest("hex") })
  }
}

export const digestFolder = (dir: string): Manifest => {
  const files: Array<ManifestEntry> = []
  walk(dir, "", files)
  return {
    digest: createHash("sha256").update(canonicalJson(files)).digest("hex"),
    bytes: files.reduce((s, f) => s + f.bytes, 0),
    files,
  }
}

export const storePath = (digest: string): string => `store/${digest.slice(0, 2)}/${digest}`

/**
 * Moves a finished output folder into the store; returns its path relative to the runs directory
 * and whether this call placed it (false: the same content was already there and verified).
 * A folder already there that fails its manifest (damaged) is replaced.
 */
export const placeInStore = (runsDir: string, tmpDir: string, manifest: Manifest): { readonly rel: string; readonly placed: boolean } => {
  const rel = storePath(manifest.digest)
  const target = path.join(runsDir, rel)
  if (existsSync(target)) {
    if (verifyArtifact(target, manifest.files) === undefined) {
      rmSync(tmpDir, { recursive: true, force: true })
      return { rel, placed: false }
    }
    rmSync(target, { recursive: true, force: true })
  }
  fsyncTree(tmpDir)
  mkdirSync(path.dirname(target), { recursive: true })
  try {
    renameSync(tmpDir, target)
  } catch (e) {
    // Another run placed the same content between our check and the rename.
    if (!existsSync(target)) throw e
    rmSync(tmpDir, { recursive: true, force: true })
    return { rel, placed: false }
  }
  fsyncPath(path.dirname(target))
  fsyncPath(path.dirname(path.dirname(target)))
  return { rel, placed: true }
}

/**
 * Checks a stored folder against its manifest by file sizes (a stat per file: cheap enough for
 * every cache hit). Returns what is wrong, or undefined when it matches.
 */
export const verifyArtifact = (dir: string, files: ReadonlyArray<Pick<ManifestEntry, "path" | "bytes">>): string | undefined => {
  for (const f of files) {
    let size: number
    try {
      size = statSync(path.join(dir, f.path)).size
    } catch {
      return `${f.path} is missing`
    }
    if (size !== f.bytes) return `${f.path} is ${size} bytes, its manifest says ${f.bytes}`
  }
  return undefined
}

/** A fresh temporary output folder, named by our pid and start time so start-up can tell whose it is. */
export const makeTmpDir = (runsDir: string): string => {
  const dir = path.join(runsDir, "tmp", `${process.pid}-${ownStart() ?? "0"}-${randomBytes(6).toString("hex")}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

export const scratchDir = (runsDir: string, fingerprint: string): string => path.join(runsDir, "scratch", fingerprint)
