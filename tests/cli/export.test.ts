/** `peftlab export` through the real CLI: a committed load-model artifact → a GPT-2 folder; what cannot be exported is exit 2 and writes nothing. */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "./helpers.ts"

const FIX = path.resolve(import.meta.dirname, "..", "fixtures", "hf", "gpt2-tied")

describe("peftlab export", () => {
  it("exports a committed stage, and refuses stages without a result or without an HF form", async () => {
    const dir = tempDir()
    const runs = path.join(dir, "runs")
    const file = writePipeline(dir, "byo.yaml", `name: byo\nmatrix:\n  method: [lora]\nstages:\n  base:\n    kind: load-model\n    params: { path: ${JSON.stringify(FIX)} }\n  adapter:\n    kind: attach-adapter\n    foreach: [method]\n    needs: { model: base }\n    params: { method: "\${method}", rank: 2 }\n`)
    const notRun = await runCli(["export", file, "base", path.join(dir, "early"), "--runs-dir", runs, "--backend", "cpu"])
    expect(notRun.code).toBe(2)
    expect(notRun.stderr).toContain("export: base has no committed result")
    expect(existsSync(path.join(dir, "early"))).toBe(false)
    const run = await runCli(["run", file, "--plain", "--runs-dir", runs, "--backend", "cpu", "--jobs", "1"])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const out = path.join(dir, "hf")
    const ok = await runCli(["export", file, "base", out, "--runs-dir", runs, "--backend", "cpu"])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain("a transformers GPT-2 folder")
    expect(JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"))).toMatchObject({ model_type: "gpt2", n_embd: 48, tie_word_embeddings: true })
    expect(JSON.parse(readFileSync(path.join(out, "peftlab_export.json"), "utf8"))).toMatchObject({ stage: "base", kind: "load-model" })
    const adapter = await runCli(["export", file, "adapter[method=lora]", path.join(dir, "peft"), "--runs-dir", runs, "--backend", "cpu"])
    expect(adapter.code, adapter.stderr).toBe(0)
    expect(JSON.parse(readFileSync(path.join(dir, "peft", "adapter_config.json"), "utf8"))).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 32, target_modules: ["attn.c_attn"] })
    const again = await runCli(["export", file, "base", out, "--runs-dir", runs, "--backend", "cpu"])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/exists and is not empty[\s\S]*nothing was written/)
    const unknown = await runCli(["export", file, "nope", out, "--runs-dir", runs])
    expect(unknown.code).toBe(2)
    expect((await runCli(["export", file])).stderr).toContain("export: expected <pipeline.yaml> <stage-id> <out-dir>")
  }, 120_000)
})
