/** What attach-adapter and train record as parameter counts, on a built model. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { METHODS } from "../../src/adapters/index.ts"
import { adapterCounts } from "../../stages/attach-adapter/run.ts"
import { disposeGPT, type GPT } from "../../src/model/arch/model.ts"
import { makeAdapter, makeModel, setupBackend } from "./fixtures.ts"

let base: GPT
beforeAll(async () => {
  await setupBackend("cpu")
  base = makeModel()
})
afterAll(() => disposeGPT(base))

describe("reported counts", () => {
  it("full fine-tuning reports every weight of the model as trainable and none frozen; adapters add theirs to a frozen model", () => {
    const total = [...base.params.values()].reduce((n, v) => n + v.size, 0)
    // tinyConfig: vocab 32, block 8, 2 layers, width 16, MLP ×4, tied head.
    expect(total).toBe(32 * 16 + 8 * 16 + 2 * (2 * 2 * 16 + 4 * (16 * 16 + 16) + (16 * 64 + 64) + (64 * 16 + 16)) + 2 * 16)
    const full = makeAdapter(METHODS.find((m) => m.name === "full")!, base)
    expect(adapterCounts(full, base)).toEqual({ trainable_params: total, frozen_params: 0 })
    const lora = makeAdapter(METHODS.find((m) => m.name === "lora")!, base)
    const loraTrainable = 2 * 4 * ((16 + 16) + (16 + 16) + (16 + 64) + (64 + 16)) // r = 4 on q, v, mlp_up, mlp_down in 2 layers
    expect(adapterCounts(lora, base)).toEqual({ trainable_params: loraTrainable, frozen_params: total })
    ;[full, lora].forEach((a) => a.dispose())
  })
})
