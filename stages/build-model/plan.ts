/**
 * What `peftlab status` knows of build-model before it runs (tfjs-free): the config it will
 * initialize (run.ts's `configOf`, which a test holds equal to this one), and pretraining's peak
 * memory — every weight trained on batches of batch_size × block_size tokens, the loss on every
 * position.
 */
import type { GPTConfig } from "../../src/model/arch/config.ts"
import { memoryNeed, type ModelFacts } from "../../src/model/arch/memory.ts"
import { trainMemoryInput } from "../../src/adapters/specs/footprint.ts"
import type { MemoryNeed } from "../../src/contracts/stage.ts"
import type { BuildModelParams } from "./params.ts"

export const plannedConfig = (p: BuildModelParams, vocabSize: number): GPTConfig => ({
  vocabSize,
  blockSize: p.block_size,
  nLayer: p.n_layer,
  nHead: p.n_head,
  nEmbd: p.n_embd,
  mlpRatio: 4,
  tieWeights: p.tie,
  layerNormEps: 1e-5,
})

const vocabOf = (tokens: unknown): number | undefined => {
  const v = (tokens as { vocabSize?: unknown } | undefined)?.vocabSize
  return typeof v === "number" ? v : undefined
}

export const buildModelFacts = (p: BuildModelParams, inputs: Readonly<Record<string, unknown>>): ModelFacts | undefined => {
  const V = vocabOf(inputs.tokens)
  return V === undefined ? undefined : { config: plannedConfig(p, V) }
}

export const buildModelMemory = (p: BuildModelParams, inputs: Readonly<Record<string, unknown>>): MemoryNeed | undefined => {
  const facts = buildModelFacts(p, inputs)
  if (facts === undefined) return undefined
  const B = p.batch_size
  const T = p.block_size
  return memoryNeed(trainMemoryInput({ config: facts.config, batch: B, seq: T, headRows: B * T, method: "full" }), "pretraining every weight")
}
