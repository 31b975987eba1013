/**
 * Memory at plan time through the real CLI: a train whose estimate exceeds the 4 GiB wasm heap
 * is exit 2 from `status` and `run` (nothing written) with the estimate and the limit, located
 * at its YAML; one that fits shows its estimate. Plan time reads config.json only, so a fixture
 * folder declaring Llama-3-8B's shape with an empty weights file is enough.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"

/** A Llama checkpoint folder as plan time sees it: config.json, and files that merely exist. */
const checkpoint = (dir: string, shape: { layers: number; hidden: number; heads: number; kv: number; inter: number; vocab: number }): string => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: shape.hidden, intermediate_size: shape.inter,
    num_hidden_layers: shape.layers, num_attention_heads: shape.heads, num_key_value_heads: shape.kv, vocab_size: shape.vocab,
    max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: false, hidden_act: "silu",
  }))
  writeFileSync(path.join(dir, "tokenizer.json"), "{}")
  writeFileSync(path.join(dir, "model.safetensors"), "")
  return dir
}

const pipeline = (method: string, batch: number, maxLength: number) => `name: mem
stages:
  base:
    kind: load-model
    params: { path: ./ckpt }
  adapter:
    kind: attach-adapter
    needs: { model: base }
    params: { method: ${method}, targets: [q_proj, v_proj] }
  train:
    kind: train
    needs: { model: base, adapter: adapter }
    params:
      data: ./task.jsonl
      batch_size: ${batch}
      max_length: ${maxLength}
`

const setup = (shape: Parameters<typeof checkpoint>[1], yaml: string) => {
  const dir = tempDir()
  checkpoint(path.join(dir, "ckpt"), shape)
  writeFileSync(path.join(dir, "task.jsonl"), `{"prompt":"a","completion":"b"}\n`)
  return { dir, file: writePipeline(dir, "mem.yaml", yaml), runs: path.join(dir, "runs") }
}

const LLAMA3_8B = { layers: 32, hidden: 4096, heads: 32, kv: 8, inter: 14336, vocab: 128256 }
const SMALL = { layers: 4, hidden: 256, heads: 4, kv: 2, inter: 688, vocab: 8192 }

describe("memory at plan time", () => {
  it("refuses a train beyond the wasm heap in status and run, with the estimate and the limit, nothing written", async () => {
    const { file, runs } = setup(LLAMA3_8B, pipeline("lora", 4, 256))
    for (const command of ["status", "run"]) {
      const r = await runCli([command, file, "--runs-dir", runs, "--backend", "wasm", ...(command === "run" ? ["--plain"] : [])])
      expect(r.code).toBe(2)
      // Located at the train's batch_size (line 15), naming the instance, the estimate and the limit.
      expect(r.stderr).toMatch(/mem\.yaml:15:\d+: stages\.train\.params\.batch_size: train needs an estimated \d+\.\d GiB of wasm heap on the wasm backend, more than its limit of 4\.0 GiB \(wasm32\)/)
      expect(r.stderr).toContain("lora r 8 on q, v, batch 4 × 256 tokens")
      expect(r.stderr).toContain("nothing was run")
      expect(existsSync(runs)).toBe(false)
    }
  })

  it("holds the cpu backend to the machine's memory, not to the heap", async () => {
    const { file, runs } = setup(LLAMA3_8B, pipeline("full", 4, 256))
    const r = await runCli(["status", file, "--runs-dir", runs, "--backend", "cpu"])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/train needs an estimated \d+\.\d GiB of memory on the cpu backend, more than its limit of \d+\.\d GiB \(this machine's memory less 1\/8\): full fine-tuning/)
  })

  it("shows the estimate of a train that fits", async () => {
    const { file, runs } = setup(SMALL, pipeline("lora", 4, 256))
    const r = await runCli(["status", file, "--runs-dir", runs, "--backend", "wasm"])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/will run {2}train {4}mem ≈ \d\.\d\d GiB of 4\.00 GiB wasm heap {2}new/)
    const json = await runCli(["status", file, "--runs-dir", runs, "--backend", "wasm", "--json"])
    const train = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string; memory?: { of: string; limit: number } }).find((l) => l.id === "train")
    expect(train?.memory).toMatchObject({ of: "wasm heap", limit: 4 * 2 ** 30, backend: "wasm" })
  })

  it("estimates build-model's pretraining from its params and tokenize's vocabulary", async () => {
    const dir = tempDir()
    const yaml = (layers: number, width: number, block: number) => `name: pre
stages:
  tok:
    kind: tokenize
    params: { vocab_size: 4096 }
  base:
    kind: build-model
    needs: { tokens: tok }
    params: { n_layer: ${layers}, n_embd: ${width}, n_head: 16, block_size: ${block}, batch_size: 16 }
`
    const big = await runCli(["status", writePipeline(dir, "big.yaml", yaml(48, 2048, 1024)), "--runs-dir", path.join(dir, "runs"), "--backend", "native"])
    expect(big.code).toBe(2)
    expect(big.stderr).toMatch(/big\.yaml:9:\d+: stages\.base\.params\.batch_size: base needs an estimated \d+\.\d GiB of wasm heap on the native backend, more than its limit of 4\.0 GiB/)
    expect(big.stderr).toContain("pretraining every weight, batch 16 × 1024 tokens")
    const small = await runCli(["status", writePipeline(dir, "small.yaml", yaml(2, 128, 128)), "--runs-dir", path.join(dir, "runs"), "--backend", "native"])
    expect(small.code).toBe(0)
    expect(small.stdout).toMatch(/will run {2}base {2}mem ≈ \d\.\d\d GiB of 4\.00 GiB wasm heap/)
  })
})
