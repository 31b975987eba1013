/**
 * The build-model stage's work: a GPT initialized from a seed and pretrained on the tokenize
 * stage's corpus. Writes model.safetensors + config.json + a copy of tokenizer.json, so later
 * stages need only this artifact.
 */
import { copyFileSync, existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { StageError, toStageError, type StageContext, type StageOutput } from "../../src/contracts/stage.ts"
import type { BuildModelParams } from "./params.ts"
import { initBackend } from "../../src/model/kernels/backend.ts"
import { defaultConfig, disposeGPT, initGPT, type GPTConfig } from "../../src/model/arch/model.ts"
import { pretrain } from "../../src/model/pretrain.ts"
import { DOMAIN_TEXT } from "../../src/model/data/datasets/domain-text.ts"
import { saveModel } from "../../src/model/safetensors.ts"
import { readTokens } from "../../src/model/data/token-data.ts"
import { numericVersions } from "../../src/model/versions.ts"

const need = (dir: string, file: string): string => {
  const p = join(dir, file)
  if (!existsSync(p)) throw new StageError({ reason: "MissingInput", message: `input tokens has no ${file} (${dir})` })
  return p
}

export const configOf = (p: BuildModelParams, vocabSize: number): GPTConfig => ({
  ...defaultConfig,
  vocabSize,
  blockSize: p.block_size,
  nLayer: p.n_layer,
  nHead: p.n_head,
  nEmbd: p.n_embd,
  tieWeights: p.tie,
})

const run = async (ctx: StageContext<BuildModelParams>): Promise<StageOutput> => {
  const p = ctx.params
  const input = ctx.inputs.tokens
  if (input === undefined) throw new StageError({ reason: "MissingInput", message: "no `tokens` input" })
  await initBackend(ctx.backend, ctx.threads)
  const meta = JSON.parse(readFileSync(need(input.dir, "meta.json"), "utf8")) as { vocab_size: number; unigram_entropy_val: number }
  const data = { train: readTokens(need(input.dir, "train.bin")), val: readTokens(need(input.dir, "val.bin")) }
  if (p.n_embd % p.n_head !== 0) throw new StageError({ reason: "Failed", message: `n_embd ${p.n_embd} is not divisible by n_head ${p.n_head}` })
  const model = initGPT(configOf(p, meta.vocab_size), p.seed)
  try {
    const opts = { steps: p.steps, batchSize: p.batch_size, lr: p.lr, minLr: p.min_lr, warmup: p.warmup, weightDecay: p.weight_decay, gradClip: p.grad_clip, evalEvery: p.eval_every, evalBatches: p.eval_batches, checkpointEvery: p.checkpoint_every, seed: p.seed }
    const result = await pretrain(model, data, opts, {
      checkpointDir: ctx.scratchDir,
      aborted: () => ctx.signal.aborted,
      onStep: (r) => {
        ctx.progress({ step: r.step, total: p.steps, tokensPerSec: r.tokensPerSec })
        if (r.step % p.log_every === 0 || r.step === p.steps) {
          ctx.metric(r.step, "loss", r.loss)
          ctx.metric(r.step, "lr", r.lr)
          ctx.metric(r.step, "grad_norm", r.gradNorm)
          ctx.metric(r.step, "tokens_per_s", r.tokensPerSec)
        }
      },
      onEval: (step, v) => {
        ctx.metric(step, "val_loss", v)
        ctx.metric(step, "val_ppl", Math.exp(v))
      },
    })
    saveModel(ctx.outDir, model)
    copyFileSync(need(input.dir, "tokenizer.json"), join(ctx.outDir, "tokenizer.json"))
    // What of a task pretraining read: train/eval/merge check their split against it.
    if (existsSync(join(input.dir, DOMAIN_TEXT))) copyFileSync(join(input.dir, DOMAIN_TEXT), join(ctx.outDir, DOMAIN_TEXT))
    const params = [...model.params.values()].reduce((n, v) => n + v.size, 0)
    return {
      summary: {
        train_loss: result.trainLoss,
        val_loss: result.valLoss,
        val_ppl: Math.exp(result.valLoss),
        unigram_entropy: meta.unigram_entropy_val,
        nats_below_unigram: meta.unigram_entropy_val - result.valLoss,
        params,
        tokens_per_s: result.tokensPerSec,
        seconds: result.seconds,
        resumed_from: result.resumedFrom,
        backend: ctx.backend,
        tfjs: numericVersions()["@tensorflow/tfjs-core"] ?? "unknown",
      },
    }
  } finally {
    disposeGPT(model)
  }
}

export const buildModel = (ctx: StageContext<BuildModelParams>): Effect.Effect<StageOutput, StageError> => Effect.tryPromise({ try: () => run(ctx), catch: toStageError })
