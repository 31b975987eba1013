/**
 * load-model: a local transformers folder — GPT-2, or the Llama family (LlamaForCausalLM,
 * Qwen2ForCausalLM, MistralForCausalLM; SmolLM2 is a Llama) — (config.json, model.safetensors or a
 * sharded index, in F32, BF16 or F16; tokenizer.json, or for GPT-2 vocab.json + merges.txt) as the base model, instead of
 * pretraining. Writes the same artifact as build-model (peftlab's model.safetensors,
 * config.json, tokenizer.json), so attach-adapter, train, eval, merge and export work unchanged.
 * The folder's content digest is part of the fingerprint; an architecture or config field that
 * peftlab cannot reproduce is a plan-time error (exit 2) naming it and what is supported.
 */
import { isAbsolute, resolve } from "node:path"
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import { checkHfFolderProblems } from "../../src/hf/check.ts"
import { checkHfFolder } from "../../src/hf/config.ts"
import { LoadModelParams } from "./params.ts"

export default defineStage<LoadModelParams>({
  kind: "load-model",
  version: 1,
  description: "Load a local transformers checkpoint folder (GPT-2, Llama, Qwen2, Mistral) as the base model",
  module: import.meta.url,
  params: LoadModelParams,
  inputs: {},
  files: (p) => [p.path],
  check: (p, pipelineDir) => {
    // tfjs-free (safetensors headers are not even read): fine for `peftlab status`.
    const dir = isAbsolute(p.path) ? p.path : resolve(pipelineDir, p.path)
    return checkHfFolderProblems(dir, p.block_size)
  },
  // The checkpoint's config (config.json only), for the memory estimates of the trains on it;
  // a folder that does not map has no facts (its `check` says why).
  facts: (p, _inputs, pipelineDir) => {
    try {
      return { config: checkHfFolder(isAbsolute(p.path) ? p.path : resolve(pipelineDir, p.path), p.block_size) }
    } catch {
      return undefined
    }
  },
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.loadModel(ctx)),
})
