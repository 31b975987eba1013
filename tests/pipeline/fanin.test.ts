/** Fan-in (`needs: { x: { stage, over } }`) and params taken from a choosing stage, at plan time (pure). */
import { describe, expect, it } from "vitest"
import { compileText } from "../../src/pipeline/compile.ts"
import type { Pipeline } from "../../src/pipeline/compile.ts"
import { planPipeline } from "../../src/engine/plan.ts"
import { PipelineInvalid } from "../../src/pipeline/problems.ts"
import { kindsOf } from "../../src/engine/registry.ts"
import { dependencyFields } from "../../src/engine/fingerprint.ts"
import { registry } from "../fixtures/registry.ts"
import { ROOT } from "../cli/helpers.ts"

const compile = (yaml: string): Pipeline | PipelineInvalid => compileText("p.yaml", yaml, kindsOf(registry))
const ok = (yaml: string): Pipeline => {
  const r = compile(yaml)
  if (r instanceof PipelineInvalid) throw new Error(r.message)
  return r
}
const problems = (yaml: string): Array<[number, number, string]> => {
  const r = compile(yaml)
  if (!(r instanceof PipelineInvalid)) throw new Error("expected an invalid pipeline")
  return r.problems.map((p) => [p.line, p.col, p.message])
}

/*
 *   src ─▶ tune[m,lr] ×4 ──(over lr)──▶ pick[m] ×2 ──(lr from pick)──▶ fit[m,s] ×4 ──(over m,s)──▶ all
 */
const head = `name: tune
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
    params: { value: "\${lr}" }
`
const tail = `  pick:
    kind: fake-pick
    foreach: [m]
    needs: { runs: { stage: tune, over: [lr] } }
    params: { metric: value }
  fit:
    kind: fake-step
    foreach: [m, s]
    needs: { source: src }
    params: { value: { from: pick, factor: lr } }
  all:
    kind: fake-collect
    needs: { runs: { stage: fit, over: [s, m] } }
`
const tuned = head + tail

describe("fan-in planning", () => {
  const p = ok(tuned)

  it("collects every producer instance over the `over` axes, in matrix order, per consumer instance", () => {
    expect(p.byId.get("pick[m=b]")?.collected).toEqual({ runs: ["tune[m=b,lr=0.1]", "tune[m=b,lr=0.01]"] })
    expect(p.byId.get("all")?.collected).toEqual({ runs: ["fit[m=a,s=1]", "fit[m=a,s=2]", "fit[m=b,s=1]", "fit[m=b,s=2]"] })
    expect(p.byId.get("all")?.inputs).toEqual({})
  })

  it("binds a param taken from a chooser to the chooser instance with the same factors, and orders it after it", () => {
    expect(p.byId.get("fit[m=b,s=2]")?.refs).toEqual({ value: { stage: "pick", factor: "lr", producer: "pick[m=b]" } })
    expect(p.byId.get("fit[m=b,s=2]")?.params).toEqual({ value: { from: "pick", factor: "lr" } })
    const order = p.instances.map((i) => i.id)
    expect(order.indexOf("fit[m=a,s=1]")).toBeGreaterThan(order.indexOf("pick[m=a]"))
  })

  it("fingerprints every collected input with its factors in canonical order, and the chooser under ref.<param>", () => {
    const context = { projectDir: ROOT, pipelineDir: ROOT, backend: "wasm" as const, deps: dependencyFields(ROOT) }
    const plan = planPipeline(p, { context, lookup: () => new Map(), lastGoodFields: () => undefined, force: () => false })
    const fp = new Map(plan.map((x) => [x.instance.id, x]))
    const field = (id: string, name: string) => fp.get(id)?.fields.find(([k]) => k === name)?.[1]
    expect(field("pick[m=a]", "input.runs")).toEqual([
      [{ m: "a", lr: 0.1 }, fp.get("tune[m=a,lr=0.1]")?.fingerprint],
      [{ lr: 0.01, m: "a" }, fp.get("tune[m=a,lr=0.01]")?.fingerprint],
    ])
    expect(field("fit[m=a,s=1]", "ref.value")).toBe(fp.get("pick[m=a]")?.fingerprint)
    expect(field("fit[m=a,s=1]", "params.value")).toEqual({ factor: "lr", from: "pick" })
    // Same factors, same upstream: pick's instances differ only through their collected inputs.
    expect(fp.get("pick[m=a]")?.fingerprint).not.toBe(fp.get("pick[m=b]")?.fingerprint)
    // Changing one collected producer changes the collector and everything after the choice, nothing else.
    const changed = ok(tuned.replace(`params: { value: "\${lr}" }`, `params: { value: "\${lr}" }\n    overrides:\n      - when: { m: b, lr: 0.01 }\n        params: { steps: 2 }`))
    const again = new Map(planPipeline(changed, { context, lookup: () => new Map(), lastGoodFields: () => undefined, force: () => false }).map((x) => [x.instance.id, x.fingerprint]))
    const differs = [...fp.keys()].filter((id) => fp.get(id)?.fingerprint !== again.get(id))
    expect(differs).toEqual(["tune[m=b,lr=0.01]", "pick[m=b]", "fit[m=b,s=1]", "fit[m=b,s=2]", "all"])
  })

  it("a collected list of one is fine when the producer varies over nothing the consumer lacks", () => {
    const p1 = ok(head + `  one:\n    kind: fake-collect\n    foreach: [m, lr]\n    needs: { runs: { stage: tune, over: [] } }\n`)
    expect(p1.byId.get("one[m=a,lr=0.01]")?.collected).toEqual({ runs: ["tune[m=a,lr=0.01]"] })
  })
})

describe("fan-in errors: file:line:col, what was expected, did-you-mean", () => {
  it("an `over` axis that is not declared", () => {
    expect(problems(head + `  c:\n    kind: fake-collect\n    needs: { runs: { stage: tune, over: [m, lrr] } }\n`)).toEqual([
      [15, 41, 'ambiguous needs: "tune" varies over lr but "c" neither varies nor collects over it; add lr to over or to foreach of "c"'],
      [15, 45, 'undeclared axis "lrr" (did you mean "lr"?)'],
    ])
  })

  it("a fan-in input written as a plain stage name says how to write it", () => {
    expect(problems(head + `  c:\n    kind: fake-collect\n    needs: { runs: tune }\n`)).toEqual([[15, 20, "input \"runs\" collects every instance of its producer: write { stage: tune, over: [m, lr] }"]])
  })

  it("an axis the consumer varies over, or the producer does not", () => {
    const got = problems(head + `  c:\n    kind: fake-collect\n    foreach: [m]\n    needs: { runs: { stage: tune, over: [m, lr, s] } }\n`)
    expect(got.map((g) => g[2])).toEqual([
      '"c" varies over m itself, so it cannot collect over it; remove m from over or from foreach',
      '"tune" does not vary over s (it varies over lr here)',
    ])
    expect(got.map((g) => g[0])).toEqual([16, 16])
  })

  it("`over` on an input that takes one instance", () => {
    expect(problems(head + `  c:\n    kind: fake-step\n    foreach: [m, lr]\n    needs: { source: { stage: tune, over: [] } }\n`).map((g) => g[2])).toEqual([
      'input "source" of kind "fake-step" takes one instance; "over" is only for inputs that collect several',
    ])
  })

  it("an unknown key inside a need, and an unknown producer", () => {
    const got = problems(head + `  c:\n    kind: fake-collect\n    needs: { runs: { stage: tunne, ovr: [lr] } }\n`).map((g) => g[2])
    expect(got).toEqual(['unknown key "ovr" (did you mean "over"?)'])
    expect(problems(head + `  c:\n    kind: fake-collect\n    needs: { runs: { stage: tunne, over: [lr] } }\n`).map((g) => g[2])).toEqual([
      'needs unknown stage "tunne" (did you mean "tune"?)',
    ])
  })

  it("a param from a stage that chooses nothing, from an unknown stage, or of a factor it does not choose", () => {
    const base = head + `  pick:\n    kind: fake-pick\n    foreach: [m]\n    needs: { runs: { stage: tune, over: [lr] } }\n`
    expect(problems(base + `  fit:\n    kind: fake-step\n    foreach: [m]\n    needs: { source: src }\n    params: { value: { from: src } }\n`).map((g) => g[2])).toEqual([
      'stage "src" is fake-source, which chooses nothing; a param can come from a select or fake-pick stage',
    ])
    expect(problems(base + `  fit:\n    kind: fake-step\n    foreach: [m]\n    needs: { source: src }\n    params: { value: { from: pik, factor: lr } }\n`)).toEqual([
      [21, 30, 'takes value from unknown stage "pik" (did you mean "pick"?)'],
    ])
    expect(problems(base + `  fit:\n    kind: fake-step\n    foreach: [m]\n    needs: { source: src }\n    params: { value: { from: pick } }\n`).map((g) => g[2])).toEqual([
      '"pick" chooses lr, not "value"',
    ])
    expect(problems(base + `  fit:\n    kind: fake-step\n    needs: { source: src }\n    params: { value: { from: pick, factor: lr } }\n`).map((g) => g[2])).toEqual([
      'ambiguous: "pick" varies over m but "fit" does not; add m to foreach of "fit"',
    ])
  })

  it("every value the chooser may pick is decoded by the consumer's schema at plan time", () => {
    const yaml = `name: t\nmatrix:\n  steps: [2, 0]\nstages:\n  src: { kind: fake-source }\n  tune: { kind: fake-step, foreach: [steps], needs: { source: src } }\n  pick: { kind: fake-pick, needs: { runs: { stage: tune, over: [steps] } } }\n  fit:\n    kind: fake-step\n    needs: { source: src }\n    params: { steps: { from: pick } }\n`
    const got = problems(yaml)
    expect(got).toHaveLength(1)
    expect(got[0]?.[0]).toBe(11)
    expect(got[0]?.[2]).toContain('when "pick" chooses steps=0')
  })

  it("a cycle through a chooser is named", () => {
    const yaml = `name: t\nmatrix:\n  lr: [1, 2]\nstages:\n  src: { kind: fake-source }\n  tune: { kind: fake-step, foreach: [lr], needs: { source: src }, params: { value: { from: pick, factor: lr } } }\n  pick: { kind: fake-pick, needs: { runs: { stage: tune, over: [lr] } } }\n`
    expect(problems(yaml).map((g) => g[2])).toContain("cycle: tune → pick → tune")
  })
})
