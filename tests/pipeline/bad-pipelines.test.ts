/**
 * Malformed pipelines: each must exit 2 through the real CLI, name the line and the offending
 * name, and leave the runs directory uncreated.
 */
import { existsSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

interface Case {
  readonly name: string
  readonly yaml: string
  readonly line: number
  readonly mentions: ReadonlyArray<string>
}

const ok = `name: demo
matrix:
  method: [a, b]
  seed: [1, 2]
stages:
  src:
    kind: fake-source
`

/** The real kinds, checked at plan time against the tfjs-free method specs and the schemas' cross-field checks. */
const real = (adapterParams: string, more = "") => `name: real
matrix:
  method: [lora, vera]
stages:
  tok:
    kind: tokenize
  base:
    kind: build-model
    needs: { tokens: tok }${more}
  adapter:
    kind: attach-adapter
    foreach: [method]
    needs: { model: base }
    params: ${adapterParams}
`

const cases: ReadonlyArray<Case> = [
  { name: "unknown top-level key", yaml: `name: demo\nstagse:\n  src: { kind: fake-source }\n`, line: 2, mentions: ['unknown key "stagse"', 'did you mean "stages"'] },
  { name: "unknown stage key", yaml: ok + `  b:\n    kind: fake-step\n    need: { source: src }\n`, line: 10, mentions: ['unknown key "need"', 'did you mean "needs"'] },
  { name: "unknown stage kind", yaml: ok + `  b:\n    kind: fake-sorce\n`, line: 9, mentions: ['"fake-sorce"', 'did you mean "fake-source"'] },
  { name: "needs a missing stage", yaml: ok + `  b:\n    kind: fake-step\n    needs: { source: srx }\n`, line: 10, mentions: ['"srx"', 'did you mean "src"'] },
  { name: "needs an undeclared input", yaml: ok + `  b:\n    kind: fake-step\n    needs:\n      source: src\n      sourse: src\n`, line: 12, mentions: ['no input "sourse"'] },
  { name: "needs of the wrong kind", yaml: ok + `  b:\n    kind: fake-step\n    needs: { source: src }\n  c:\n    kind: fake-step\n    needs:\n      source: src\n      extra: b\n`, line: 15, mentions: ['input "extra"', '"b" is fake-step'] },
  { name: "missing required input", yaml: ok + `  b:\n    kind: fake-step\n`, line: 9, mentions: ['missing required input "source"'] },
  { name: "cycle", yaml: ok + `  a:\n    kind: fake-step\n    needs: { source: b }\n  b:\n    kind: fake-step\n    needs: { source: a }\n`, line: 10, mentions: ["cycle: a → b → a"] },
  { name: "undeclared axis in foreach", yaml: ok + `  b:\n    kind: fake-step\n    foreach: [method, sed]\n    needs: { source: src }\n`, line: 10, mentions: ['undeclared axis "sed"', 'did you mean "seed"'] },
  { name: "interpolated axis not in foreach", yaml: ok + `  b:\n    kind: fake-step\n    foreach: [method]\n    needs: { source: src }\n    params: { value: "\${seed}" }\n`, line: 12, mentions: ['axis "seed"', "add it to foreach"] },
  { name: "ambiguous needs", yaml: ok + `  b:\n    kind: fake-step\n    foreach: [seed]\n    needs: { source: src }\n  c:\n    kind: fake-step\n    needs: { source: b }\n`, line: 14, mentions: ["ambiguous needs", '"b" varies over seed'] },
  { name: "param of the wrong type", yaml: ok + `    params:\n      durationMs: fast\n`, line: 9, mentions: ["durationMs", '"fast"'] },
  { name: "param out of range", yaml: ok + `    params:\n      steps: 0\n`, line: 9, mentions: ["steps", "greater than or equal to 1"] },
  { name: "unknown param", yaml: ok + `    params:\n      duration: 5\n`, line: 9, mentions: ['unknown key "duration"', 'did you mean "durationMs"'] },
  { name: "duplicate key", yaml: ok + `  src:\n    kind: fake-source\n`, line: 8, mentions: ["Map keys must be unique", 'near "src:"'] },
  { name: "YAML syntax error", yaml: ok + `    params: { value: [1, 2\n`, line: 9, mentions: ["Flow sequence"] },
  { name: "override on a value not on the axis", yaml: ok + `  b:\n    kind: fake-step\n    foreach: [method]\n    needs: { source: src }\n    overrides:\n      - when: { method: c }\n        params: { value: 1 }\n`, line: 13, mentions: ['"c" is not a value of axis "method"'] },
  { name: "duplicate axis value", yaml: `name: demo\nmatrix:\n  seed: [1, 2, 1]\nstages:\n  src: { kind: fake-source }\n`, line: 3, mentions: ['duplicate value 1 on axis "seed"'] },
  { name: "invalid stage name", yaml: ok + `  "b c":\n    kind: fake-source\n`, line: 8, mentions: ['stage name "b c"'] },
  { name: "non-scalar axis value", yaml: `name: demo\nmatrix:\n  method: [a, { x: 1 }]\nstages:\n  src: { kind: fake-source }\n`, line: 3, mentions: ["matrix.method[1]"] },
  { name: "missing name", yaml: `stages:\n  src: { kind: fake-source }\n`, line: 1, mentions: ["name"] },
  { name: "unknown method", yaml: real(`{ method: lroa }`), line: 14, mentions: ['unknown PEFT method "lroa"', 'did you mean "lora"', "known: lora, lora-fa, vera, delta-lora, lora-plus"] },
  { name: "unknown method from the matrix", yaml: real(`{ method: "\${method}" }`).replace("[lora, vera]", "[lora, vrea]"), line: 14, mentions: ['unknown PEFT method "vrea"', 'did you mean "vera"', "(in adapter[method=vrea])"] },
  { name: "unknown method option", yaml: real(`{ method: vera, vera_d_int: 0.5 }`), line: 14, mentions: ['unknown key "vera_d_int"', 'did you mean "vera_d_init"'] },
  { name: "method option of the wrong type", yaml: real(`{ method: lora-fa, lorafa_projection: 1 }`), line: 14, mentions: ["lorafa_projection", "boolean", "got 1"] },
  { name: "method option out of range", yaml: real(`{ method: delta-lora, delta_k: -2 }`), line: 14, mentions: ["delta_k", "greater than or equal to -1", "got -2"] },
  { name: "non-positive LoRA+ ratio", yaml: real(`{ method: lora-plus, loraplus_ratio: 0 }`), line: 14, mentions: ["loraplus_ratio", "greater than 0"] },
  { name: "unknown target projection", yaml: real(`{ method: lora, targets: [q, vv] }`), line: 14, mentions: ["targets[1]", '"vv"'] },
  { name: "empty targets", yaml: real(`{ method: lora, targets: [] }`), line: 14, mentions: ["targets is empty"] },
  { name: "n_embd not a multiple of n_head", yaml: real(`{ method: lora }`, `\n    params: { n_embd: 30, n_head: 4 }`), line: 10, mentions: ["n_embd (30) must be a multiple of n_head (4)"] },
  {
    name: "select over test-split evals",
    yaml:
      real(`{ method: "\${method}" }`).replace("[lora, vera]", "[lora, vera]\n  lr: [1, 3]") +
      `  train:\n    kind: train\n    foreach: [method, lr]\n    needs: { model: base, adapter: adapter }\n    params: { lr_scale: "\${lr}" }\n` +
      `  score:\n    kind: eval\n    foreach: [method, lr]\n    needs: { model: base, adapter: train }\n` +
      `  pick:\n    kind: select\n    foreach: [method]\n    needs: { runs: { stage: score, over: [lr] } }\n`,
    line: 28,
    mentions: ["score[method=lora,lr=1] has split: \"test\"", 'set split: validation on stage "score"', "select chooses on validation results only"],
  },
  { name: "task_text with a bad split", yaml: real(`{ method: lora }`).replace("    kind: tokenize\n", "    kind: tokenize\n    params: { task_text: { test_fraction: 1.5 } }\n"), line: 7, mentions: ["task_text", "test_fraction", "1.5"] },
  { name: "unknown loss", yaml: real(`{ method: lora }`) + `  train:\n    kind: train\n    foreach: [method]\n    needs: { model: base, adapter: adapter }\n    params: { loss: label }\n`, line: 19, mentions: ["loss", '"label"'] },
  { name: "no training data left", yaml: real(`{ method: lora }`) + `  train:\n    kind: train\n    foreach: [method]\n    needs: { model: base, adapter: adapter }\n    params: { val_fraction: 0.5, test_fraction: 0.5 }\n`, line: 19, mentions: ["val_fraction + test_fraction must be below 1"] },
]

describe("malformed pipelines", () => {
  const dir = tempDir()
  it.each(cases)("$name: exit 2, line $line, names the culprit, writes nothing", async (c) => {
    const file = writePipeline(dir, `${c.name.replaceAll(" ", "-")}.yaml`, c.yaml)
    const runsDir = path.join(dir, `runs-${c.name.replaceAll(" ", "-")}`)
    const result = await runCli(["run", file, "--runs-dir", runsDir, "--plain"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`${file}:${c.line}:`)
    for (const m of c.mentions) expect(result.stderr).toContain(m)
    expect(result.stdout).toBe("")
    expect(existsSync(runsDir)).toBe(false)
  })

  it("reports every problem at once", async () => {
    const file = writePipeline(dir, "many.yaml", ok + `  b:\n    kind: fake-sorce\n  c:\n    kind: fake-step\n    needs: { source: nope }\n    params: { steps: -1 }\n`)
    const result = await runCli(["status", file, "--runs-dir", path.join(dir, "runs-many")])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/:9:\d+: stages\.b\.kind: unknown stage kind/)
    expect(result.stderr).toMatch(/:12:\d+: stages\.c\.needs\.source: needs unknown stage "nope"/)
    expect(result.stderr).toMatch(/:13:\d+: stages\.c\.params\.steps/)
    expect(result.stderr).toContain("3 problems; nothing was run")
  })
})
