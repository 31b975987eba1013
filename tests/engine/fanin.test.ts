/**
 * Fan-in and choices through the real CLI and worker processes, with the fake kinds: a collector
 * gets every instance with its factors; `select` breaks a tie to the smaller value and a later
 * stage runs with the chosen value; a rerun is all hits; changing one collected instance reruns
 * exactly it, its collector and what depends on the choice; `status` and `why` say so.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

/*
 *   src ─▶ tune[m,lr] ×4 ──(over lr)──▶ pick[m] ×2 ──(value = chosen lr)──▶ fit[m,s] ×4 ──(over m,s)──▶ all
 *   tune's summary `value` is the score: m=a ties (5, 5) → the smaller lr; m=b: lr=0.1 scores 9.
 */
const pipeline = (extra = "") => `name: fanin
matrix:
  m: [a, b]
  lr: [0.1, 0.01]
  s: [1, 2]
stages:
  src: { kind: fake-source }
  tune:
    kind: fake-step
    foreach: [m, lr]
    needs: { source: src }
    params: { value: 5, failIfExists: "no-such-file-\${m}-\${lr}" }
    overrides:
      - when: { m: b, lr: 0.1 }
        params: { value: 9 }${extra}
  pick:
    kind: fake-pick
    foreach: [m]
    needs: { runs: { stage: tune, over: [lr] } }
    params: { metric: value }
  fit:
    kind: fake-step
    foreach: [m, s]
    needs: { source: src }
    params: { value: { from: pick, factor: lr }, steps: "\${s}" }
  all:
    kind: fake-collect
    needs: { runs: { stage: fit, over: [m, s] } }
`

const lines = (out: string, prefix: string) =>
  out.split("\n").filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim().split(" ")[0]).sort()

describe("fan-in through the engine", () => {
  const dir = tempDir()
  const runs = path.join(dir, "runs")
  const file = writePipeline(dir, "fanin.yaml", pipeline())
  const run = () => runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
  const artifact = (id: string, name: string) => {
    const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
    const row = db.prepare(`SELECT a.path FROM executions e JOIN artifacts a ON a.digest = e.artifact_digest WHERE e.instance_id = ? AND e.status = 'succeeded' ORDER BY e.id DESC`).get(id) as { path: string }
    db.close()
    return readFileSync(path.join(runs, row.path, name), "utf8")
  }

  it("collects with factors, chooses (tie → smaller), and runs later stages with the chosen value", async () => {
    const first = await run()
    expect(first.code).toBe(0)
    expect(lines(first.stdout, "finished")).toHaveLength(12)
    const pickA = JSON.parse(artifact("pick[m=a]", "select.json")) as { chosen_values: unknown; tied: number; candidates: Array<{ id: string; score: number }> }
    expect(pickA.chosen_values).toEqual({ lr: 0.01 })
    expect(pickA.tied).toBe(2)
    expect(pickA.candidates.map((c) => [c.id, c.score])).toEqual([["tune[m=a,lr=0.1]", 5], ["tune[m=a,lr=0.01]", 5]])
    expect(JSON.parse(artifact("pick[m=b]", "select.json")).chosen_values).toEqual({ lr: 0.1 })
    expect(artifact("fit[m=a,s=2]", "out.txt")).toBe("fit[m=a,s=2]=0.01\nsrc=0")
    expect(artifact("fit[m=b,s=1]", "out.txt")).toBe("fit[m=b,s=1]=0.1\nsrc=0")
    expect(artifact("all", "out.txt")).toBe([
      "all=0",
      'runs<-{"m":"a","s":1}:fit[m=a,s=1]=0.01',
      'runs<-{"m":"a","s":2}:fit[m=a,s=2]=0.01',
      'runs<-{"m":"b","s":1}:fit[m=b,s=1]=0.1',
      'runs<-{"m":"b","s":2}:fit[m=b,s=2]=0.1',
    ].join("\n"))
  })

  it("compare lists each choice with every candidate's score", async () => {
    const r = await runCli(["compare", file, "--runs-dir", runs, "--format", "json"])
    expect(r.code).toBe(0)
    const c = JSON.parse(r.stdout) as { selections: Array<{ id: string; chosen: unknown; reason: string }> }
    expect(c.selections.map((s) => [s.id, s.chosen])).toEqual([["pick[m=a]", { lr: 0.01 }], ["pick[m=b]", { lr: 0.1 }]])
    expect(c.selections[0]?.reason).toBe("value (max): lr=0.1 5.0000, lr=0.01 5.0000 ←; 2-way tie → the smaller lr")
  })

  it("a rerun is all cache hits", async () => {
    const again = await run()
    expect(again.code).toBe(0)
    expect(lines(again.stdout, "cached")).toHaveLength(12)
    expect(lines(again.stdout, "started")).toEqual([])
  })

  it("changing one collected instance reruns it, its collector and what depends on the choice — nothing else", async () => {
    writePipeline(dir, "fanin.yaml", pipeline(`\n      - when: { m: b, lr: 0.01 }\n        params: { value: 10 }`))
    const status = await runCli(["status", file, "--runs-dir", runs])
    expect(status.stdout).toContain("12 stages: 7 cached, 5 to run")
    const why = await runCli(["why", file, "fit[m=b,s=1]", "--runs-dir", runs])
    expect(why.stdout).toContain("ref.value: the stage choosing it changed")
    const whyPick = await runCli(["why", file, "pick[m=b]", "--runs-dir", runs])
    expect(whyPick.stdout).toContain("input.runs: upstream changed")
    const r = await run()
    expect(r.code).toBe(0)
    expect(lines(r.stdout, "finished")).toEqual(["all", "fit[m=b,s=1]", "fit[m=b,s=2]", "pick[m=b]", "tune[m=b,lr=0.01]"])
    expect(lines(r.stdout, "cached")).toHaveLength(7)
    expect(artifact("fit[m=b,s=2]", "out.txt")).toBe("fit[m=b,s=2]=0.01\nsrc=0")
  })
})
