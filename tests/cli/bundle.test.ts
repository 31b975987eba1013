/**
 * The bundled CLI (dist/, what `npm start` and `peftlab` run after `npm install`) on the
 * commands that load modules lazily. A namespace import of a CommonJS package behaves
 * differently in the bundle than under tsx: `compare <pipeline.yaml>` once failed only there.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { migrations } from "../../src/store/migrations.ts"
import { ablationDb } from "../report/fixture-db.ts"
import { ROOT, tempDir } from "./helpers.ts"

describe("bundled CLI", () => {
  const out = "node_modules/.cache/peftlab-bundle-test"
  execFileSync(process.execPath, [path.join(ROOT, "bin/build.mjs"), `--outdir=${out}`], { cwd: ROOT, stdio: "ignore" })
  const cli = path.join(ROOT, out, "peftlab.mjs")
  const dir = tempDir()
  mkdirSync(path.join(dir, "runs"))
  const db = ablationDb()
  db.pragma(`user_version = ${migrations.length}`) // as the store's migrator leaves it
  writeFileSync(path.join(dir, "runs", "peftlab.db"), db.serialize())
  writeFileSync(path.join(dir, "quick.yaml"), "name: quick\nstages: {}\n")
  const cliRun = (...argv: string[]) => spawnSync(process.execPath, [cli, ...argv], { cwd: dir, encoding: "utf8" })

  it("compare with a pipeline file reads that pipeline's runs", () => {
    const r = cliRun("compare", "quick.yaml", "--runs-dir", "runs", "--format", "csv")
    expect(r.stderr).toBe("")
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^group,method,n,accuracy,/)
    expect(r.stdout).toContain("vera")
  })

  it("compare with a missing pipeline file: exit 2 and what is missing", () => {
    const r = cliRun("compare", "nope.yaml", "--runs-dir", "runs")
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("nope.yaml: cannot read pipeline: no such file")
  })
})
