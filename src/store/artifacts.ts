/**
 * The content-addressed artifact store. A stage writes into `tmp/<pid>-<random>/`; the folder is
 * digested (sha256 of its manifest: relative paths, sizes, file digests) and renamed to
 * `store/<d[:2]>/<d>/`. A rename is atomic, and only the SQLite commit that follows makes the
 * folder a cache entry; a folder in `store/` without its row is an orphan that start-up removes.
 */
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import * as path from "node:path"
import { canonicalJson } from "../engine/canonical.ts"

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

/** Moves a finished output folder into the store; returns its path relative to the runs directory. */
export const placeInStore = (runsDir: string, tmpDir: string, digest: string): string => {
  const rel = storePath(digest)
  const target = path.join(runsDir, rel)
  if (existsSync(target)) {
    rmSync(tmpDir, { recursive: true, force: true })
    return rel
  }
  mkdirSync(path.dirname(target), { recursive: true })
  try {
    renameSync(tmpDir, target)
  } catch (e) {
    // Another run placed the same content between our check and the rename.
    if (!existsSync(target)) throw e
    rmSync(tmpDir, { recursive: true, force: true })
  }
  return rel
}

/** A fresh temporary output folder, named by our pid so start-up can tell whose it is. */
export const makeTmpDir = (runsDir: string): string => {
  const dir = path.join(runsDir, "tmp", `${process.pid}-${randomBytes(6).toString("hex")}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

export const scratchDir = (runsDir: string, fingerprint: string): string => path.join(runsDir, "scratch", fingerprint)
