/**
 * Writes that survive a power loss: file data fsynced before the rename that publishes it, and
 * the directory fsynced after, so a committed SQLite row never points at a file the kernel had
 * not written yet. A write that fails (disk full) removes its partial temporary file.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from "node:fs"
import * as path from "node:path"

/** fsync a file or a directory by path. */
export const fsyncPath = (p: string): void => {
  const fd = openSync(p, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsync every file under `dir`, then every directory bottom-up, `dir` last. */
export const fsyncTree = (dir: string): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) fsyncTree(p)
    else if (entry.isFile()) fsyncPath(p)
  }
  fsyncPath(dir)
}

/** Writes `data` to `file` durably: `file.tmp`, fsync, rename, fsync of the folder. Partial temporaries are removed on failure. */
export const writeFileDurable = (file: string, data: Uint8Array | string): void => {
  const tmp = `${file}.tmp`
  try {
    const fd = openSync(tmp, "w")
    try {
      const bytes = typeof data === "string" ? Buffer.from(data) : data
      for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  } catch (e) {
    rmSync(tmp, { force: true })
    // fd-based writes report no path: name the file, so a "disk full" says where.
    if (typeof e === "object" && e !== null && !("path" in e)) Object.assign(e, { path: file })
    throw e
  }
  fsyncPath(path.dirname(file))
}

/** True when `p` exists and is a directory. */
export const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}
