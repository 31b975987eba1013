/**
 * load-model on checkpoints written by transformers (tests/fixtures/hf): the artifact is what
 * build-model writes, so attach-adapter → train → eval → merge run on it unchanged; a folder
 * peftlab cannot reproduce is a plan-time error naming the field (exit 2 territory: compileText
 * returns PipelineInvalid); the fingerprint follows the folder's content.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fingerprintFields, fingerprintOf } from "../../../src/engine/fingerprint.ts"
import { kindsOf } from "../../../src/engine/registry.ts"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { disposeGPT } from "../../../src/model/arch/model.ts"
import { loadModel } from "../../../src/model/safetensors.ts"
import { compileText } from "../../../src/pipeline/compile.ts"
import { PipelineInvalid } from "../../../src/pipeline/problems.ts"
import attachStage from "../../../stages/attach-adapter/index.ts"
import evalStage from "../../../stages/eval/index.ts"
import { stages } from "../../../stages/index.ts"
import loadModelStage from "../../../stages/load-model/index.ts"
import mergeStage from "../../../stages/merge/index.ts"
import trainStage from "../../../stages/train/index.ts"
import { artifact, runStage, tempRoot } from "../harness.ts"

const FIX = join(import.meta.dirname, "..", "..", "fixtures", "hf")
const lines = Array.from({ length: 32 }, (_, i) => ({ prompt: `Subject: ${i % 2 ? "buy cheap pills now" : "meeting notes monday"} ${i}\nLabel:`, completion: i % 2 ? " spam" : " ham" }))
let root = ""
let dataPath = ""
beforeAll(async () => {
  await initBackend("cpu")
  root = tempRoot()
  dataPath = join(root, "task.jsonl")
  writeFileSync(dataPath, lines.map((l) => JSON.stringify(l)).join("\n") + "\n")
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe("load-model stage", () => {
  it("imports the sharded untied transformers checkpoint and the rest of the pipeline runs on it", async () => {
    const loaded = await runStage(loadModelStage, { root, name: "load", params: { path: join(FIX, "gpt2-untied") }, inputs: {} })
    expect(loaded.output.summary).toMatchObject({ n_layer: 2, n_head: 3, n_embd: 48, block_size: 48, vocab_size: 300, tokenizer_vocab: 300, tie: false, params: 81536 })
    const m = loadModel(loaded.outDir)
    expect(m.params.has("lm_head.kernel")).toBe(true)
    disposeGPT(m)
    const model = artifact("load-model", loaded.outDir)
    const a = await runStage(attachStage, { root, name: "attach", params: { method: "lora", rank: 2, targets: ["q", "v", "mlp_up"] }, inputs: { model } })
    const t = await runStage(trainStage, { root, name: "train", params: { data: dataPath, steps: 3, batch_size: 4, warmup: 1, checkpoint_every: 0 }, inputs: { model, adapter: artifact("attach-adapter", a.outDir) } })
    expect(t.output.summary.final_loss).toBeGreaterThan(0)
    const trained = artifact("train", t.outDir)
    const e = await runStage(evalStage, { root, name: "eval", params: {}, inputs: { model, adapter: trained } })
    expect(e.output.summary.accuracy).toBeGreaterThanOrEqual(0)
    const merged = await runStage(mergeStage, { root, name: "merge", params: { verify_examples: 4 }, inputs: { model, adapter: trained } })
    expect(merged.output.summary.merge_max_abs_diff).toBeLessThan(1e-4)
  })
})

const pipeline = (path: string) => `name: byo
matrix:
  method: [lora]
stages:
  base:
    kind: load-model
    params: { path: ${JSON.stringify(path)} }
  adapter:
    kind: attach-adapter
    foreach: [method]
    needs: { model: base }
    params: { method: "\${method}" }
`

describe("load-model at plan time", () => {
  const kinds = kindsOf({ stages, module: "" })
  const compile = (folder: string) => compileText(join(root, "p.yaml"), pipeline(folder), kinds)

  it("refuses an unsupported config field, naming it, file and line", () => {
    const bad = mkdtempSync(join(tmpdir(), "hf-bad-"))
    cpSync(join(FIX, "gpt2-tied"), bad, { recursive: true })
    const cfg = JSON.parse(readFileSync(join(bad, "config.json"), "utf8")) as Record<string, unknown>
    writeFileSync(join(bad, "config.json"), JSON.stringify({ ...cfg, activation_function: "gelu" }))
    const r = compile(bad)
    expect(r).toBeInstanceOf(PipelineInvalid)
    const p = (r as PipelineInvalid).problems[0]
    expect(p?.message).toMatch(/activation_function "gelu" is not supported \(peftlab's MLP uses the tanh GELU: gelu_new.*\[field: activation_function\]/)
    expect(p?.line).toBe(7)
    expect(p?.path).toEqual(["stages", "base", "params", "path"])
    expect(compile(join(root, "missing"))).toBeInstanceOf(PipelineInvalid)
    rmSync(bad, { recursive: true, force: true })
  })

  it("fingerprints the folder's content: changing one byte of a shard changes it", () => {
    const copy = mkdtempSync(join(tmpdir(), "hf-copy-"))
    cpSync(join(FIX, "gpt2-untied"), copy, { recursive: true })
    const fp = () => {
      const r = compile(copy)
      if (r instanceof PipelineInvalid) throw new Error(r.message)
      const base = r.instances.find((i) => i.id === "base")
      if (base === undefined) throw new Error("no base")
      return fingerprintOf(fingerprintFields(base, { projectDir: root, pipelineDir: root, backend: "cpu", deps: [], codeOf: () => [], fingerprintOf: () => "", factorsOf: () => ({}) }))
    }
    const before = fp()
    expect(fp()).toBe(before)
    const shard = join(copy, "model-00002-of-00004.safetensors")
    const bytes = readFileSync(shard)
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1
    writeFileSync(shard, bytes)
    expect(fp()).not.toBe(before)
    rmSync(copy, { recursive: true, force: true })
  })
})
