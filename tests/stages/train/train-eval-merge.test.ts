/**
 * attach-adapter → train → eval → merge through the real stage definitions (in-process, real
 * StageContext), on a tiny model and a JSONL task: summary names, streamed metrics, resume
 * after an interrupt ending bit-identical, and divergence classified.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import attachStage from "../../../stages/attach-adapter/index.ts"
import evalStage from "../../../stages/eval/index.ts"
import mergeStage from "../../../stages/merge/index.ts"
import trainStage from "../../../stages/train/index.ts"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { loadTask } from "../../../src/model/data/datasets/task.ts"
import { countWords, trainBpe } from "../../../src/model/data/bpe-train.ts"
import { Tokenizer } from "../../../src/model/data/tokenizer.ts"
import { disposeGPT, initGPT } from "../../../src/model/arch/model.ts"
import { saveModel } from "../../../src/model/safetensors.ts"
import { artifact, runStage, tempRoot } from "../harness.ts"
import { DOMAIN_TEXT } from "../../../src/model/data/datasets/domain-text.ts"

const SPAM = ["cheap pills buy now", "win money fast click", "free offer limited time", "buy cheap watches now"]
const HAM = ["meeting notes for monday", "lunch with the team today", "draft of the report attached", "can you review my patch"]
const lines = Array.from({ length: 48 }, (_, i) => {
  const spam = i % 3 === 0
  const text = (spam ? SPAM : HAM)[i % 4]
  return { prompt: `Subject: ${text} ${i}\nLabel:`, completion: spam ? " spam" : " ham" }
})

let root: string
let modelDir: string
let dataPath: string
beforeAll(async () => {
  await initBackend("cpu")
  root = tempRoot()
  modelDir = join(root, "model")
  dataPath = join(root, "task.jsonl")
  writeFileSync(dataPath, lines.map((l) => JSON.stringify(l)).join("\n") + "\n")
  const tok = trainBpe(countWords(lines.map((l) => l.prompt + l.completion).join("\n")), 320)
  mkdirSync(modelDir, { recursive: true })
  writeFileSync(join(modelDir, "tokenizer.json"), JSON.stringify(tok))
  const model = initGPT({ vocabSize: new Tokenizer(tok).vocabSize, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 16, mlpRatio: 2, tieWeights: true, layerNormEps: 1e-5 }, 3)
  saveModel(modelDir, model)
  disposeGPT(model)
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

const trainParams = (extra: Record<string, unknown> = {}) => ({ data: dataPath, steps: 6, batch_size: 4, warmup: 1, checkpoint_every: 2, ...extra })

const attachAndTrain = async (method: string, name: string, extra: Record<string, unknown> = {}) => {
  const model = artifact("build-model", modelDir)
  const a = await runStage(attachStage, { root, name: `${name}.attach`, params: { method, rank: method === "vera" ? 16 : 4 }, inputs: { model } })
  const t = await runStage(trainStage, { root, name: `${name}.train`, params: trainParams(extra), inputs: { model, adapter: artifact("attach-adapter", a.outDir, a.output.summary) } })
  return { model, a, t }
}

describe.each(["lora", "lora-fa", "vera", "delta-lora", "lora-plus", "full", "dora", "rslora", "ia3", "pissa", "olora"])("%s", (method) => {
  it("attach → train → eval → merge record the names the compare report reads", async () => {
    const { model, a, t } = await attachAndTrain(method, method)
    expect(a.output.summary).toMatchObject({ method })
    for (const k of ["trainable_params", "frozen_params", "adapter_bytes"]) {
      if (method === "full" && k === "frozen_params") expect(a.output.summary[k]).toBe(0) // every weight trains
      else expect(a.output.summary[k]).toBeGreaterThan(0)
    }
    for (const k of ["train_time_s", "tokens_per_s", "peak_tensor_bytes"]) expect(t.output.summary[k]).toBeGreaterThan(0)
    expect(Number.isFinite(t.output.summary.final_loss)).toBe(true)
    expect(t.output.summary).toMatchObject({ optimizer: "adamw", adam_eps: 1e-8, weight_decay: 0.01, schedule: "linear-warmup-cosine" })
    for (const name of ["loss", "lr", "grad_norm", "tokens_per_s"])
      expect(t.recorded.metrics.filter((m) => m.name === name).map((m) => m.step)).toEqual([0, 1, 2, 3, 4, 5])
    const trained = artifact("train", t.outDir, t.output.summary)
    const e = await runStage(evalStage, { root, name: `${method}.eval`, params: {}, inputs: { model, adapter: trained } })
    expect(e.output.summary.perplexity).toBeCloseTo(Math.exp(Number(e.output.summary.eval_loss)), 9)
    const confusion = Object.entries(e.output.summary).filter(([k]) => k.startsWith("confusion_"))
    expect(confusion.map(([k]) => k).sort()).toEqual(["confusion_ham_as_ham", "confusion_ham_as_spam", "confusion_spam_as_ham", "confusion_spam_as_spam"])
    // Real values: the test split is a pure function of the split seed (train's defaults: seed 0, 10% / 20%).
    const split = await loadTask({ path: dataPath }, { splitSeed: 0, valFraction: 0.1, testFraction: 0.2 })
    const n = split.test.length
    expect(e.output.summary.examples).toBe(n)
    const trainHam = split.train.filter((x) => x.completion === " ham").length
    const majority = trainHam * 2 >= split.train.length ? " ham" : " spam"
    expect(e.output.summary).toMatchObject({ majority_label: majority.trim(), majority_accuracy: split.test.filter((x) => x.completion === majority).length / n })
    const c = (t: string, p: string) => Number(e.output.summary[`confusion_${t}_as_${p}`])
    expect(c("ham", "ham") + c("ham", "spam")).toBe(split.test.filter((x) => x.completion === " ham").length)
    expect(c("spam", "spam") + c("spam", "ham")).toBe(split.test.filter((x) => x.completion === " spam").length)
    expect(e.output.summary.accuracy).toBe((c("ham", "ham") + c("spam", "spam")) / n)
    const f1 = (tp: number, fp: number, fn: number) => (tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn))
    expect(e.output.summary.macro_f1).toBeCloseTo((f1(c("ham", "ham"), c("spam", "ham"), c("ham", "spam")) + f1(c("spam", "spam"), c("ham", "spam"), c("spam", "ham"))) / 2, 12)
    // Peak tensor bytes of a training step hold at least the model and the adapter (float32).
    expect(t.output.summary.peak_tensor_bytes).toBeGreaterThanOrEqual(4 * (Number(a.output.summary.frozen_params) + Number(a.output.summary.trainable_params)))
    const m = await runStage(mergeStage, { root, name: `${method}.merge`, params: {}, inputs: { model, adapter: trained } })
    expect(m.output.summary.merge_max_abs_diff).toBeLessThanOrEqual(Number(m.output.summary.merge_tolerance))
    expect(readFileSync(join(m.outDir, "model.safetensors")).length).toBeGreaterThan(0)
  })
})

describe("train", () => {
  it("interrupted after step 3, rerun from the step-2 checkpoint, ends bit-identical", async () => {
    const whole = await attachAndTrain("lora", "whole", { steps: 6 })
    const model = artifact("build-model", modelDir)
    const adapter = artifact("attach-adapter", whole.a.outDir)
    const scratchDir = join(root, "resume.scratch")
    const abort = new AbortController()
    const failed = await runStage(trainStage, {
      root, name: "resume.first", params: trainParams(), inputs: { model, adapter }, scratchDir, signal: abort.signal,
      onMetric: (step, name) => void (name === "loss" && step === 2 && abort.abort()),
    }).catch((e: unknown) => e)
    expect(failed).toMatchObject({ reason: "Interrupted" })
    const resumed = await runStage(trainStage, { root, name: "resume.second", params: trainParams(), inputs: { model, adapter }, scratchDir })
    expect(resumed.output.summary.resumed_from_step).toBe(2)
    expect(resumed.recorded.metrics.filter((m) => m.name === "loss").map((m) => m.step)).toEqual([2, 3, 4, 5])
    const bytes = (dir: string) => readFileSync(join(dir, "adapter_model.safetensors"))
    expect(bytes(resumed.outDir).equals(bytes(whole.t.outDir))).toBe(true)
    expect(resumed.output.summary.final_loss).toBe(whole.t.output.summary.final_loss)
    // The memory figure is step 0's, carried by the checkpoint: the report of a resumed run is
    // byte-identical to an uninterrupted one's (batches are padded per step, so a later step's
    // peak would differ).
    expect(resumed.output.summary.peak_tensor_bytes).toBe(whole.t.output.summary.peak_tensor_bytes)
  })

  it("a NaN loss fails as Diverged: `diverged at step N`", async () => {
    const err = await attachAndTrain("lora", "diverge", { lr: 1e38, min_lr: 1e38, grad_clip: 0 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ reason: "Diverged" })
    expect(String((err as Error).message)).toMatch(/^diverged at step \d+$/)
  })

  it("eval and merge refuse an adapter trained on other examples than the data now gives (data digest)", async () => {
    const { model, t } = await attachAndTrain("lora", "digest")
    const metaFile = join(t.outDir, "train_meta.json")
    const meta = JSON.parse(readFileSync(metaFile, "utf8")) as { data_digest: string }
    expect(meta.data_digest).toMatch(/^[0-9a-f]{64}$/)
    writeFileSync(metaFile, JSON.stringify({ ...meta, data_digest: "0".repeat(64) }))
    const trained = artifact("train", t.outDir, t.output.summary)
    for (const [stage, name] of [[evalStage, "digest.eval"], [mergeStage, "digest.merge"]] as const) {
      const err = await runStage(stage, { root, name, params: {}, inputs: { model, adapter: trained } }).catch((e: unknown) => e)
      expect(err).toMatchObject({ reason: "InvalidData" })
      expect(String((err as Error).message)).toContain(`than the adapter was trained on (000000000000)`)
    }
  })

  it("train, eval and merge refuse a base pretrained on another split of their data (task_text)", async () => {
    // A base whose pretraining read the training split of split_seed 1: with split_seed 0 (the
    // default) some of train's validation and test examples were pretraining text.
    const task = await loadTask({ path: dataPath }, { splitSeed: 1, valFraction: 0.1, testFraction: 0.2 })
    const leaky = join(root, "leaky-model")
    mkdirSync(leaky, { recursive: true })
    for (const f of ["tokenizer.json", "model.safetensors", "config.json"]) writeFileSync(join(leaky, f), readFileSync(join(modelDir, f)))
    const record = { data: dataPath, split_seed: 1, val_fraction: 0.1, test_fraction: 0.2, body_chars: 2000, examples: task.count, labels_digest: task.labelsDigest, train_documents: task.train.length, chars: 1 }
    writeFileSync(join(leaky, DOMAIN_TEXT), JSON.stringify(record))
    const model = artifact("build-model", leaky)
    const a = await runStage(attachStage, { root, name: "leak.attach", params: { method: "lora", rank: 4 }, inputs: { model } })
    const adapter = artifact("attach-adapter", a.outDir, a.output.summary)
    const err = await runStage(trainStage, { root, name: "leak.train", params: trainParams(), inputs: { model, adapter } }).catch((e: unknown) => e)
    expect(err).toMatchObject({ reason: "InvalidData", message: expect.stringContaining("split_seed 1 vs 0") })
    // The same split as pretraining read: accepted, and eval and merge check it too.
    const ok = await runStage(trainStage, { root, name: "leak.train1", params: trainParams({ split_seed: 1 }), inputs: { model, adapter } })
    const trained = artifact("train", ok.outDir, ok.output.summary)
    writeFileSync(join(leaky, DOMAIN_TEXT), JSON.stringify({ ...record, labels_digest: "0".repeat(64) }))
    for (const [stage, name] of [[evalStage, "leak.eval"], [mergeStage, "leak.merge"]] as const) {
      const e = await runStage(stage, { root, name, params: {}, inputs: { model, adapter: trained } }).catch((x: unknown) => x)
      expect(e).toMatchObject({ reason: "InvalidData", message: expect.stringContaining("the data now has other examples") })
    }
  })

  it("loss: labels trains on the label set and records it; eval reads the same scores", async () => {
    const { model, t } = await attachAndTrain("lora", "labels", { loss: "labels" })
    expect(t.output.summary).toMatchObject({ loss: "labels" })
    expect(JSON.parse(readFileSync(join(t.outDir, "train_meta.json"), "utf8"))).toMatchObject({ loss: "labels" })
    const e = await runStage(evalStage, { root, name: "labels.eval", params: {}, inputs: { model, adapter: artifact("train", t.outDir, t.output.summary) } })
    expect(e.output.summary).toMatchObject({ examples: expect.any(Number) })
  })
})
