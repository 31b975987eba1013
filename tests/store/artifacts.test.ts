/** The artifact store and start-up recovery on their own. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { digestFolder, makeTmpDir, placeInStore, storePath } from "../../src/store/artifacts.ts"
import { openDb } from "../../src/store/db.ts"
import { recoverStale } from "../../src/store/recover.ts"
import { tempDir } from "../cli/helpers.ts"

const folder = (runs: string, files: Record<string, string>) => {
  const dir = makeTmpDir(runs)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), text)
  }
  return dir
}

describe("artifact store", () => {
  it("digests content, not names of the temporary folder; equal content lands once", () => {
    const runs = tempDir()
    const a = folder(runs, { "out.txt": "hi", "sub/w.bin": "xyz" })
    const b = folder(runs, { "sub/w.bin": "xyz", "out.txt": "hi" })
    const m = digestFolder(a)
    expect(m.files.map((f) => [f.path, f.bytes])).toEqual([["out.txt", 2], ["sub/w.bin", 3]])
    expect(digestFolder(b).digest).toBe(m.digest)
    expect(placeInStore(runs, a, m)).toEqual({ rel: storePath(m.digest), placed: true })
    expect(placeInStore(runs, b, digestFolder(b))).toEqual({ rel: storePath(m.digest), placed: false })
    expect(existsSync(b)).toBe(false)
    expect(readdirSync(path.join(runs, "store", m.digest.slice(0, 2)))).toEqual([m.digest])
  })

  it("start-up removes dead runs' temporary folders and store folders no row names", () => {
    const runs = tempDir()
    const db = openDb(runs, { create: true })!
    mkdirSync(path.join(runs, "tmp", "999999999-dead"), { recursive: true })
    const orphan = folder(runs, { "x.txt": "partial commit" })
    const d = digestFolder(orphan).digest
    placeInStore(runs, orphan, digestFolder(orphan))
    db.prepare(`INSERT INTO runs (pipeline, pipeline_path, started_at, status, backend, jobs, environment, pid) VALUES ('p', 'p.yaml', 'now', 'running', 'wasm', 1, '{}', 999999999)`).run()
    expect(recoverStale(db, runs)).toEqual({ otherLiveRuns: 0 })
    expect(readdirSync(path.join(runs, "tmp"))).toEqual([])
    expect(existsSync(path.join(runs, storePath(d)))).toBe(false)
    expect(db.prepare(`SELECT status FROM runs`).get()).toEqual({ status: "interrupted" })
    db.close()
  })
})
