import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { loadModel } from "../../../src/model/safetensors.ts"
import { disposeGPT } from "../../../src/model/arch/model.ts"
import buildModelStage from "../../../stages/build-model/index.ts"
import tokenizeStage from "../../../stages/tokenize/index.ts"
import { artifact, runStage } from "../harness.ts"

const dir = mkdtempSync(join(tmpdir(), "build-model-test-"))
const file = join(dir, "corpus.txt")
writeFileSync(file, Array.from({ length: 400 }, (_, i) => `We the people ${i % 13} of the states ${i % 5}.`).join("\n"))
const tiny = { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, steps: 12, batch_size: 4, warmup: 2, eval_every: 6, eval_batches: 2, log_every: 1, checkpoint_every: 4, lr: 1e-2, min_lr: 1e-3 }

describe("build-model stage", () => {
  it("pretrains a tiny model and writes weights, config and the tokenizer; emits loss, lr, val metrics and progress", async () => {
    const tok = await runStage(tokenizeStage, { params: { corpus: [file], vocab_size: 280, val_fraction: 0.1 } })
    const tokens = artifact("tokenize", tok.outDir)
    const { output, outDir, recorded: rec } = await runStage(buildModelStage, { params: tiny, inputs: { tokens }, backend: "wasm" })
    const model = loadModel(outDir)
    expect(model.config).toMatchObject({ vocabSize: 280, nLayer: 1, nEmbd: 16, blockSize: 16, tieWeights: true })
    disposeGPT(model)
    expect(readFileSync(join(outDir, "tokenizer.json"), "utf8")).toBe(readFileSync(join(tok.outDir, "tokenizer.json"), "utf8"))
    const names = new Set(rec.metrics.map((m) => m.name))
    for (const n of ["loss", "lr", "grad_norm", "tokens_per_s", "val_loss", "val_ppl"]) expect(names.has(n)).toBe(true)
    expect(rec.metrics.filter((m) => m.name === "val_loss").map((m) => m.step)).toEqual([6, 12])
    expect(rec.progress.at(-1)).toMatchObject({ step: 12, total: 12 })
    expect(output.summary.val_loss).toBeLessThan(Math.log(280))
    expect(output.summary.unigram_entropy).toBeGreaterThan(0)
    expect(output.summary.backend).toBe("wasm")
  })

  it("fails with MissingInput when the tokens artifact lacks a file", async () => {
    await expect(runStage(buildModelStage, { params: tiny, inputs: { tokens: artifact("tokenize", dir) }, backend: "wasm" })).rejects.toMatchObject({ reason: "MissingInput" })
  })

  it("fails with Diverged at the step where the loss stops being finite", async () => {
    const tok = await runStage(tokenizeStage, { params: { corpus: [file], vocab_size: 280, val_fraction: 0.1 } })
    const err = await runStage(buildModelStage, { params: { ...tiny, lr: 1e30, grad_clip: 0 }, inputs: { tokens: artifact("tokenize", tok.outDir) }, backend: "wasm" }).catch((e: unknown) => e)
    expect(err).toMatchObject({ reason: "Diverged" })
    expect((err as Error).message).toMatch(/^diverged at step \d+$/)
  })
  it("an interrupted run resumes from its last scratch checkpoint and ends with bit-identical weights", async () => {
    const tok = await runStage(tokenizeStage, { params: { corpus: [file], vocab_size: 280, val_fraction: 0.1 } })
    const inputs = { tokens: artifact("tokenize", tok.outDir) }
    const whole = await runStage(buildModelStage, { params: tiny, inputs, backend: "wasm" })
    const scratchDir = mkdtempSync(join(tmpdir(), "build-model-scratch-"))
    const abort = new AbortController()
    const onProgress = (p: { step: number }) => p.step === 7 && abort.abort()
    await expect(runStage(buildModelStage, { params: tiny, inputs, backend: "wasm", scratchDir, signal: abort.signal, onProgress })).rejects.toMatchObject({ reason: "Interrupted" })
    const resumed = await runStage(buildModelStage, { params: tiny, inputs, backend: "wasm", scratchDir })
    expect(resumed.output.summary.resumed_from).toBe(4) // checkpoint_every 4: the last before step 7
    expect(readFileSync(join(resumed.outDir, "model.safetensors")).equals(readFileSync(join(whole.outDir, "model.safetensors")))).toBe(true)
    expect(resumed.output.summary.val_loss).toBe(whole.output.summary.val_loss)
  })
})
