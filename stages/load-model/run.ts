/** The load-model stage's work (params.ts holds its params, index.ts its contract). tfjs-free. */
import { isAbsolute, resolve } from "node:path"
import { Effect } from "effect"
import { StageError, type StageContext, type StageOutput } from "../../src/contracts/stage.ts"
import type { LoadModelParams } from "./params.ts"
import { HfUnsupported } from "../../src/hf/config.ts"
import { isLlama } from "../../src/model/arch/config.ts"
import { importHfFolder } from "../../src/hf/folder.ts"

export const loadModel = (ctx: StageContext<LoadModelParams>): Effect.Effect<StageOutput, StageError> =>
  Effect.try({
    try: () => {
      const dir = isAbsolute(ctx.params.path) ? ctx.params.path : resolve(ctx.pipelineDir, ctx.params.path)
      const { config, params, tokenizerVocab } = importHfFolder(dir, ctx.outDir, ctx.params.block_size)
      const family = isLlama(config) ? `${config.family}, ${config.nHead} heads / ${config.nKvHead} key-value heads, ` : "gpt2, "
      ctx.log(`loaded ${dir}: ${family}${config.nLayer} layers, ${config.nEmbd} wide, vocabulary ${config.vocabSize}, ${params} parameters`)
      return {
        summary: {
          params,
          n_layer: config.nLayer,
          n_head: config.nHead,
          n_embd: config.nEmbd,
          block_size: config.blockSize,
          vocab_size: config.vocabSize,
          tokenizer_vocab: tokenizerVocab,
          tie: config.tieWeights,
          family: isLlama(config) ? config.family : "gpt2",
        },
      }
    },
    catch: (e) =>
      new StageError({ reason: e instanceof HfUnsupported ? "InvalidData" : "Failed", message: e instanceof Error ? e.message : String(e), cause: e }),
  })
