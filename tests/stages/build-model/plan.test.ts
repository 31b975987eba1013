/** build-model's plan-time config (tfjs-free) is the config run.ts initializes. */
import { describe, expect, it } from "vitest"
import { Schema } from "effect"
import { BuildModelParams } from "../../../stages/build-model/params.ts"
import { plannedConfig } from "../../../stages/build-model/plan.ts"
import { configOf } from "../../../stages/build-model/run.ts"

describe("build-model plan", () => {
  it("plans the config run.ts builds, defaults and set params alike", () => {
    for (const raw of [{}, { n_layer: 3, n_head: 2, n_embd: 64, block_size: 32, tie: false }]) {
      const p = Schema.decodeUnknownSync(BuildModelParams)(raw)
      expect(plannedConfig(p, 777)).toEqual(configOf(p, 777))
    }
  })
})
