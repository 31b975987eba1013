/**
 * Caching through the real CLI and worker processes, with the fake kinds: a second run is all
 * hits; a param change reruns exactly its dependents; editing a kind's code (on a temporary copy
 * of the fake stages) reruns that kind; `why` names the changed field.
 */
import { copyFileSync, mkdirSync, rmSync, readFileSync, readdirSync, writeFileSync, appendFileSync } from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import Database from "better-sqlite3"
import { describe, expect, it, onTestFinished } from "vitest"
import type { Registry } from "../../src/engine/registry.ts"
import type { AnyStageDefinition } from "../../src/contracts/stage.ts"
import { ROOT, runCli, tempDir, writePipeline } from "../cli/helpers.ts"

/*
 *   src ──▶ mid[s=1] ──▶ top[s=1]
 *      └──▶ mid[s=2] ──▶ top[s=2]
 *      └──▶ side
 */
const pipeline = (midValue: number) => `name: cache
matrix:
  s: [1, 2]
stages:
  src:
    kind: fake-source
    params: { value: 1 }
  mid:
    kind: fake-step
    foreach: [s]
    needs: { source: src }
    params: { value: "\${s}" }
    overrides:
      - when: { s: 2 }
        params: { value: ${midValue} }
  top:
    kind: fake-step
    foreach: [s]
    needs: { source: mid }
  side:
    kind: fake-step
    needs: { source: src }
    params: { value: 5 }
`

const lines = (out: string, prefix: string) =>
  out.split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim().split(" ")[0]).sort()

describe("cache", () => {
  const dir = tempDir()
  const runs = path.join(dir, "runs")
  const file = writePipeline(dir, "cache.yaml", pipeline(20))
  const run = () => runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])

  it("a second run is all cache hits, with the same artifacts", async () => {
    const first = await run()
    expect(first.code).toBe(0)
    expect(lines(first.stdout, "finished")).toEqual(["mid[s=1]", "mid[s=2]", "side", "src", "top[s=1]", "top[s=2]"])
    const second = await run()
    expect(second.code).toBe(0)
    expect(lines(second.stdout, "cached")).toHaveLength(6)
    expect(lines(second.stdout, "started")).toEqual([])
    const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
    const out = db.prepare(`SELECT a.path FROM executions e JOIN artifacts a ON a.digest = e.artifact_digest WHERE e.instance_id = 'top[s=2]' AND e.status = 'succeeded'`).get() as { path: string }
    expect(readFileSync(path.join(runs, out.path, "out.txt"), "utf8")).toBe("top[s=2]=0\nmid[s=2]=20\nsrc=1")
    expect(db.prepare(`SELECT count(*) AS n FROM metrics WHERE name = 'loss'`).get()).toEqual({ n: 6 })
    db.close()
  })

  it("a param change reruns exactly the changed instance and its dependents; why names the field", async () => {
    writePipeline(dir, "cache.yaml", pipeline(21))
    const why = await runCli(["why", file, "mid[s=2]", "--runs-dir", runs])
    expect(why.stdout).toContain("params.value: 20 → 21")
    const status = await runCli(["status", file, "--runs-dir", runs])
    expect(status.stdout).toContain("6 stages: 4 cached, 2 to run")
    const r = await run()
    expect(lines(r.stdout, "finished")).toEqual(["mid[s=2]", "top[s=2]"])
    expect(lines(r.stdout, "cached")).toEqual(["mid[s=1]", "side", "src", "top[s=1]"])
  })

  it("editing a kind's code reruns the instances of that kind (on a temporary copy of the stages)", async () => {
    // A sibling of tests/fixtures/stages: same relative imports, same `effect` module; removed after.
    const copy = path.join(ROOT, "tests/fixtures", `.code-copy-${path.basename(dir)}`)
    mkdirSync(copy, { recursive: true })
    onTestFinished(() => rmSync(copy, { recursive: true, force: true }))
    for (const f of readdirSync(path.join(ROOT, "tests/fixtures/stages"))) {
      copyFileSync(path.join(ROOT, "tests/fixtures/stages", f), path.join(copy, f))
    }
    writeFileSync(path.join(copy, "registry.ts"), `import a from "./fake-source.ts"\nimport b from "./fake-step.ts"\nexport const stages = [a, b]\n`)
    const module = pathToFileURL(path.join(copy, "registry.ts")).href
    const { stages } = (await import(module)) as { stages: ReadonlyArray<AnyStageDefinition> }
    const registry: Registry = { stages, module }
    const copyRuns = path.join(dir, "runs-copy")
    const runCopy = () => runCli(["run", file, "--runs-dir", copyRuns, "--plain", "--jobs", "2"], registry)
    const firstCopy = await runCopy()
    expect(firstCopy.stdout + firstCopy.stderr).toContain("succeeded")
    expect(firstCopy.code).toBe(0)
    // A comment is not code: everything stays cached.
    appendFileSync(path.join(copy, "fake-step.ts"), "\n// a comment\n")
    const same = await runCopy()
    expect(lines(same.stdout, "cached")).toHaveLength(6)
    appendFileSync(path.join(copy, "fake-step.ts"), "\nexport const edited = 1\n")
    const why = await runCli(["why", file, "side", "--runs-dir", copyRuns], registry)
    expect(why.stdout).toMatch(/code: tests\/fixtures\/\.code-copy-[^/]+\/fake-step\.ts changed/)
    const r = await runCopy()
    expect(lines(r.stdout, "finished")).toEqual(["mid[s=1]", "mid[s=2]", "side", "top[s=1]", "top[s=2]"])
    expect(lines(r.stdout, "cached")).toEqual(["src"])
  })

  it("--force takes an id with brackets literally and a pattern with * inside the brackets", async () => {
    const one = await runCli(["run", file, "--runs-dir", runs, "--plain", "--force", "mid[s=2]"])
    expect(lines(one.stdout, "finished")).toEqual(["mid[s=2]"])
    const glob = await runCli(["run", file, "--runs-dir", runs, "--plain", "--force", "*[s=*]"])
    expect(lines(glob.stdout, "finished")).toEqual(["mid[s=1]", "mid[s=2]", "top[s=1]", "top[s=2]"])
    const none = await runCli(["run", file, "--runs-dir", runs, "--plain", "--force", "mid[s=3]"])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('--force mid[s=3]: matches no stage instance (did you mean "mid[s=1]"?)')
  })
})
