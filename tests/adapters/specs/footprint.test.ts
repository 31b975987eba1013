/** Every method's tfjs-free footprint counts what its maths (`Method.counts`) counts. */
import { describe, expect, it } from "vitest"
import { targetsOf } from "../../../src/adapters/adapter.ts"
import { getMethod } from "../../../src/adapters/index.ts"
import { resolveSettings } from "../../../src/adapters/settings.ts"
import { SPECS } from "../../../src/adapters/specs/index.ts"
import { trainMemoryInput } from "../../../src/adapters/specs/footprint.ts"
import type { LlamaConfig } from "../../../src/model/arch/config.ts"
import { parameterCount, PROJ_NAMES } from "../../../src/model/arch/config.ts"

const cfg: LlamaConfig = {
  arch: "llama", family: "llama", vocabSize: 50, blockSize: 8, maxPositionEmbeddings: 8, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 6, nEmbd: 20, intermediateSize: 36, tieWeights: false,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: "default" }, qkvBias: false, oBias: false, mlpBias: false, slidingWindow: null,
}

describe("footprint", () => {
  for (const spec of SPECS)
    it(`${spec.name}: trainable and frozen floats equal Method.counts on every projection`, () => {
      const m = getMethod(spec.name)
      const s = resolveSettings(m, { rank: 3, targets: [...PROJ_NAMES], seed: 0 })
      const counts = m.counts(targetsOf(cfg, s.targets), s)
      const a = trainMemoryInput({ config: cfg, batch: 1, seq: 4, headRows: 4, method: spec.name, rank: 3, targets: [...PROJ_NAMES] }).adapter
      expect(a.trainable).toBe(spec.name === "full" ? parameterCount(cfg) : counts.trainable)
      expect(a.frozen).toBe(counts.frozenAdapter)
    })
})
