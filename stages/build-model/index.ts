/**
 * build-model: a nanoGPT-style decoder initialized from a seed and pretrained on the tokenize
 * stage's corpus (AdamW with decoupled weight decay, warmup + cosine, gradient clipping).
 * Outputs model.safetensors, config.json and a copy of tokenizer.json. Checkpoints every
 * `checkpoint_every` steps; an interrupted run resumes from the last one, bit-identically.
 *
 * The defaults are sized to pretrain in about 3 minutes on one core (wasm) and end ≥ 1 nat
 * below the unigram entropy of the validation split.
 */
import { Effect } from "effect"
import { defineStage } from "../../src/contracts/stage.ts"
import { BuildModelParams } from "./params.ts"
import { buildModelFacts, buildModelMemory } from "./plan.ts"

export default defineStage<BuildModelParams>({
  kind: "build-model",
  version: 1,
  description: "Initialize a GPT from a seed and pretrain it on the tokenized corpus",
  module: import.meta.url,
  params: BuildModelParams,
  inputs: { tokens: { description: "the tokenized pretraining corpus", kinds: ["tokenize"] } },
  packages: ["tensors"],
  facts: buildModelFacts,
  memory: buildModelMemory,
  // The plan-time config and memory estimate change no output.
  code: { cut: [new URL("./plan.ts", import.meta.url).href] },
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.buildModel(ctx)),
})
