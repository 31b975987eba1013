/** Expansion, analysis and planning on small hand-drawn graphs (pure: no store, no workers). */
import { describe, expect, it } from "vitest"
import { compileText } from "../../src/pipeline/compile.ts"
import type { Pipeline } from "../../src/pipeline/compile.ts"
import { planPipeline } from "../../src/engine/plan.ts"
import { PipelineInvalid } from "../../src/pipeline/problems.ts"
import { kindsOf } from "../../src/engine/registry.ts"
import { dependencyFields } from "../../src/engine/fingerprint.ts"
import type { CacheHit } from "../../src/store/store.ts"
import { registry } from "../fixtures/registry.ts"
import { ROOT } from "../cli/helpers.ts"

const compile = (yaml: string): Pipeline => {
  const result = compileText("p.yaml", yaml, kindsOf(registry))
  if (result instanceof PipelineInvalid) throw new Error(result.message)
  return result
}

/*
 *                 src                       (shared: one instance)
 *        ┌─────────┼──────────────┐
 *        ▼         ▼              │
 *   step[m,s] ×4   last[m] ×2     │         (step: method × seed; last: method)
 *        │                        │
 *        ▼                        ▼
 *   cell[m,s] ×4  ◀── extra ───  src        (cell takes its own step cell and src)
 */
const diamond = `name: diamond
matrix:
  m: [a, b]
  s: [1, 2]
stages:
  src: { kind: fake-source, params: { value: 7 } }
  step:
    kind: fake-step
    foreach: [s, m]
    needs: { source: src }
    params: { value: "\${s}", failIfExists: "tag-\${m}-\${s}" }
    overrides:
      - when: { m: b }
        params: { steps: 3 }
  last:
    kind: fake-step
    foreach: [m]
    needs: { source: src }
  cell:
    kind: fake-step
    foreach: [m, s]
    needs: { source: step, extra: src }
`

describe("expand", () => {
  const p = compile(diamond)

  it("gives stable readable ids with axes in matrix order, shared stages once", () => {
    expect(p.instances.map((i) => i.id)).toEqual([
      "src",
      "step[m=a,s=1]", "step[m=a,s=2]", "step[m=b,s=1]", "step[m=b,s=2]",
      "last[m=a]", "last[m=b]",
      "cell[m=a,s=1]", "cell[m=a,s=2]", "cell[m=b,s=1]", "cell[m=b,s=2]",
    ])
  })

  it("binds each consumer to the producer instance with its own axis values", () => {
    expect(p.byId.get("cell[m=b,s=1]")?.inputs).toEqual({ source: "step[m=b,s=1]", extra: "src" })
    expect(p.byId.get("last[m=a]")?.inputs).toEqual({ source: "src" })
  })

  it("interpolates axis values keeping a whole reference's type, and applies overrides", () => {
    expect(p.byId.get("step[m=b,s=2]")?.params).toEqual({ value: 2, failIfExists: "tag-b-2", steps: 3 })
    expect(p.byId.get("step[m=a,s=1]")?.params).toEqual({ value: 1, failIfExists: "tag-a-1" })
  })
})

describe("analyze", () => {
  /*
   *   a ──▶ b ──▶ c
   *   ▲           │
   *   └───────────┘
   */
  it("names the cycle", () => {
    const r = compileText("p.yaml", `name: c\nstages:\n  a: { kind: fake-step, needs: { source: c } }\n  b: { kind: fake-step, needs: { source: a } }\n  c: { kind: fake-step, needs: { source: b } }\n`, kindsOf(registry))
    expect(r).toBeInstanceOf(PipelineInvalid)
    expect((r as PipelineInvalid).message).toContain("cycle: a → c → b → a")
  })

  /*
   *   seeded[s=1] seeded[s=2]
   *          \     /
   *          shared        ← which one?  ambiguous
   */
  it("rejects a shared consumer of a varying producer", () => {
    const r = compileText("p.yaml", `name: c\nmatrix: { s: [1, 2] }\nstages:\n  seeded: { kind: fake-source, foreach: [s] }\n  shared: { kind: fake-step, needs: { source: seeded } }\n`, kindsOf(registry))
    expect((r as PipelineInvalid).problems.map((x) => [x.line, x.message])).toEqual([[5, 'ambiguous needs: "seeded" varies over s but "shared" does not; add s to foreach of "shared"']])
  })
})

describe("plan", () => {
  /*
   *   src ──▶ step[s=1]
   *      └──▶ step[s=2]
   */
  const yaml = (value: number) => `name: p\nmatrix: { s: [1, 2] }\nstages:\n  src: { kind: fake-source, params: { value: ${value} } }\n  step: { kind: fake-step, foreach: [s], needs: { source: src }, params: { value: "\${s}" } }\n`
  const context = { projectDir: ROOT, pipelineDir: ROOT, backend: "wasm" as const, deps: dependencyFields(ROOT) }
  const hit: CacheHit = { executionId: 1, artifactDigest: "d", artifactPath: "store/d", summary: {} }

  it("is pending with reason `new` on an empty store and cached once every fingerprint is committed", () => {
    const first = planPipeline(compile(yaml(1)), { context, lookup: () => new Map(), lastGoodFields: () => undefined, force: () => false })
    expect(first.map((x) => x.reason)).toEqual(["new", "new", "new"])
    const committed = new Set(first.map((x) => x.fingerprint))
    const again = planPipeline(compile(yaml(1)), { context, lookup: (fps) => new Map(fps.filter((fp) => committed.has(fp)).map((fp) => [fp, hit])), lastGoodFields: () => undefined, force: () => false })
    expect(again.every((x) => x.cached !== undefined)).toBe(true)
  })

  it("a param change invalidates exactly the changed instance and its dependents, and says why", () => {
    const first = planPipeline(compile(yaml(1)), { context, lookup: () => new Map(), lastGoodFields: () => undefined, force: () => false })
    const committed = new Set(first.map((x) => x.fingerprint))
    const fieldsOf = new Map(first.map((x) => [x.instance.id, x.fields]))
    const changed = planPipeline(compile(yaml(2)), { context, lookup: (fps) => new Map(fps.filter((fp) => committed.has(fp)).map((fp) => [fp, hit])), lastGoodFields: (id) => fieldsOf.get(id), force: () => false })
    expect(changed.map((x) => [x.instance.id, x.reason])).toEqual([
      ["src", "params.value: 1 → 2"],
      ["step[s=1]", "input.source: upstream changed"],
      ["step[s=2]", "input.source: upstream changed"],
    ])
  })

  it("fingerprints hold no absolute path and do not depend on the instance id", () => {
    const plan = planPipeline(compile(yaml(1)), { context, lookup: () => new Map(), lastGoodFields: () => undefined, force: () => false })
    expect(JSON.stringify(plan.map((x) => x.fields))).not.toContain(ROOT)
    expect(plan[0]!.fields.map(([k]) => k)).toEqual([
      // events.ts is imported by stage.ts with `import type` only: not part of what runs
      "kind", "version", "code:src/contracts/stage.ts", "code:src/store/durable.ts", "code:tests/fixtures/stages/fake-common.ts", "code:tests/fixtures/stages/fake-source.ts",
      "params.value", "backend", ...context.deps.map(([k]) => k),
    ])
  })
})
