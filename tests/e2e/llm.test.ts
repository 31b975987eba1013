/**
 * pipelines/llm.yaml's shape, end to end, on a tiny Llama checkpoint written by transformers
 * (tests/fixtures/hf/llama-tiny: bf16, sharded, GQA, llama3 rope, biases): load-model → tune →
 * select → seeds → eval → merge → report through the real CLI, then `peftlab export` of a merged
 * model (a transformers Llama folder whose weights are the merge's) and of a trained adapter
 * (a PEFT folder on the q_proj … down_proj modules). The YAML is the committed one, with
 * the checkpoint path, the sizes and the matrix shrunk.
 */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseDocument } from "yaml"
import { readSafetensors } from "../../src/model/safetensors.ts"
import { ROOT, runCli, tempDir, writePipeline } from "../cli/helpers.ts"

const FIX = path.join(ROOT, "tests", "fixtures", "hf", "llama-tiny")

describe("llm.yaml on a tiny Llama", () => {
  it("tunes, selects, trains seeds, reports, and exports the merge and an adapter", async () => {
    const doc = parseDocument(readFileSync(path.join(ROOT, "pipelines", "llm.yaml"), "utf8"))
    doc.setIn(["matrix", "method"], ["lora", "vera", "full"])
    doc.setIn(["matrix", "lr_scale"], [0.3, 3])
    doc.setIn(["matrix", "seed"], [1, 2])
    doc.setIn(["stages", "base", "params", "path"], FIX)
    doc.setIn(["stages", "base", "params", "block_size"], 48)
    for (const stage of ["tune", "train"]) {
      doc.setIn(["stages", stage, "params", "steps"], stage === "tune" ? 4 : 6)
      doc.setIn(["stages", stage, "params", "warmup"], 1)
      doc.setIn(["stages", stage, "params", "body_chars"], 60)
      doc.setIn(["stages", stage, "params", "checkpoint_every"], 0)
    }
    doc.setIn(["stages", "tune-eval", "params", "max_examples"], 16)
    doc.setIn(["stages", "eval", "params"], doc.createNode({ split: "test", max_examples: 16 }))
    doc.setIn(["stages", "merge", "params"], doc.createNode({ verify_examples: 4 }))
    doc.setIn(["stages", "report", "params", "png"], false)
    const dir = tempDir("peftlab-llm-")
    const runs = path.join(dir, "runs")
    const file = writePipeline(dir, "llm.yaml", doc.toString())

    const status = await runCli(["status", file, "--runs-dir", runs])
    expect(status.code, status.stderr).toBe(0)
    const run = await runCli(["run", file, "--plain", "--runs-dir", runs, "--jobs", "2"])
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toContain("llama, 4 heads / 2 key-value heads, 2 layers, 64 wide")
    expect(run.stdout).toMatch(/finished  report in /)

    const merged = path.join(dir, "merged")
    const m = await runCli(["export", file, "merge[method=lora,seed=1]", merged, "--runs-dir", runs])
    expect(m.code, m.stderr).toBe(0)
    const config = JSON.parse(readFileSync(path.join(merged, "config.json"), "utf8")) as Record<string, unknown>
    expect(config).toMatchObject({ model_type: "llama", architectures: ["LlamaForCausalLM"], num_key_value_heads: 2, head_dim: 16, attention_bias: true, mlp_bias: true, max_position_embeddings: 64, tie_word_embeddings: false })
    const weights = readSafetensors(path.join(merged, "model.safetensors")).tensors
    expect(weights.get("model.layers.1.self_attn.k_proj.weight")?.shape).toEqual([32, 64])
    expect(weights.get("model.layers.0.mlp.gate_proj.weight")?.shape).toEqual([96, 64])
    expect(existsSync(path.join(merged, "tokenizer.json")) && existsSync(path.join(merged, "tokenizer_config.json"))).toBe(true)

    const peft = path.join(dir, "peft")
    const a = await runCli(["export", file, "train[method=lora,seed=1]", peft, "--runs-dir", runs])
    expect(a.code, a.stderr).toBe(0)
    const ac = JSON.parse(readFileSync(path.join(peft, "adapter_config.json"), "utf8")) as { target_modules: string[]; fan_in_fan_out: boolean }
    expect([...ac.target_modules].sort()).toEqual(["mlp.down_proj", "mlp.gate_proj", "mlp.up_proj", "self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"])
    expect(ac.fan_in_fan_out).toBe(false)
    const keys = [...readSafetensors(path.join(peft, "adapter_model.safetensors")).tensors.keys()]
    expect(keys).toContain("base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight")
    expect(keys).toContain("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")
  }, 600_000)
})
