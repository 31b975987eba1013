import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { AttachParams, TARGET_NAMES } from "../../../stages/attach-adapter/params.ts"
import { EvalParams } from "../../../stages/eval/params.ts"
import { MergeParams } from "../../../stages/merge/params.ts"
import { TrainParams } from "../../../stages/train/params.ts"
import { HF_PROJ_NAMES, PROJ_NAMES } from "../../../src/model/arch/model.ts"

describe("adapter stage params", () => {
  it("attach-adapter's target names are the model's projections, by peftlab's and by transformers' names", () => {
    expect([...TARGET_NAMES]).toEqual([...PROJ_NAMES, ...PROJ_NAMES.map((p) => HF_PROJ_NAMES[p])])
  })
  it("defaults: targets q,v and seed 0; method options stay unset for the method to resolve", () => {
    expect(Schema.decodeUnknownSync(AttachParams)({ method: "vera" })).toEqual({ method: "vera", targets: ["q", "v"], seed: 0 })
    expect(() => Schema.decodeUnknownSync(AttachParams)({ method: "lora", targets: ["qq"] })).toThrow()
    expect(() => Schema.decodeUnknownSync(AttachParams)({ method: "lora", dropout: 1 })).toThrow()
  })
  it("train, eval and merge decode with their documented defaults", () => {
    const t = Schema.decodeUnknownSync(TrainParams)({})
    expect(t).toMatchObject({ data: "spam-assassin", steps: 300, batch_size: 8, warmup: 20, weight_decay: 0.01, grad_clip: 1, eps: 1e-8, checkpoint_every: 50 })
    expect(t.lr).toBeUndefined()
    expect(Schema.decodeUnknownSync(EvalParams)({})).toEqual({ split: "test", batch_size: 32, max_examples: 0 })
    expect(Schema.decodeUnknownSync(MergeParams)({})).toEqual({ verify_examples: 8, tolerance: 1e-4 })
  })
})
