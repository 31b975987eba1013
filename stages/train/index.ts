/**
 * train: fine-tunes an attached adapter on a prompt → completion task (SpamAssassin by
 * default, or a JSONL file of {prompt, completion}) with the loss on completion tokens only.
 * AdamW with decoupled weight decay (applied before the Adam step), per-group learning rates
 * (LoRA+), the method's gradient transform (LoRA-FA) and post-step update (Delta-LoRA),
 * linear warmup + cosine decay, global-norm clipping. Checkpoints every `checkpoint_every`
 * steps in the scratch folder; a resumed run ends bit-identical to an uninterrupted one.
 */
import { Effect } from "effect"
import { METHOD_REGISTRIES } from "../../src/adapters/specs/index.ts"
import { defineStage } from "../../src/contracts/stage.ts"
import { TrainParams } from "./params.ts"
import { trainMemory } from "./plan.ts"

export default defineStage<TrainParams>({
  kind: "train",
  version: 1,
  description: "Fine-tune a PEFT adapter on prompt → completion data (completion or label-restricted loss)",
  module: import.meta.url,
  params: TrainParams,
  inputs: {
    model: { description: "the base model", kinds: ["build-model", "load-model"] },
    adapter: { description: "the initialized adapter", kinds: ["attach-adapter"] },
  },
  files: (p) => (p.data === "spam-assassin" ? [] : [p.data]),
  // Depends on its adapter's method's files (inherited from attach-adapter), not on every method;
  // nor on the plan-time memory estimate, which changes no output.
  code: { cut: [...METHOD_REGISTRIES, new URL("./plan.ts", import.meta.url).href] },
  packages: ["tensors", "task-data"],
  memory: trainMemory,
  run: (ctx) => Effect.flatMap(Effect.promise(() => import("./run.ts")), (job) => job.train(ctx)),
})
