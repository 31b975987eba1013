/**
 * What the adapter stages share: loading the base model and the task, and turning failures
 * into classified `StageError`s at the boundary.
 */
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { StageError, toStageError, type StageContext } from "../contracts/stage.ts"
import { initBackend } from "../model/kernels/backend.ts"
import type { GPT } from "../model/arch/model.ts"
import { loadModel } from "../model/safetensors.ts"
import { loadTokenizer } from "../model/data/tokenizer.ts"
import { loadTask, taskSource } from "../model/data/datasets/task.ts"
import { DOMAIN_TEXT, domainSplitMismatch, type DomainTextRecord } from "../model/data/datasets/domain-text.ts"
import type { Encoder, Example } from "../model/data/completion-batches.ts"

/** Runs an async job as the stage's Effect; every failure becomes a StageError. */
export const attempt = <A>(f: () => Promise<A>): Effect.Effect<A, StageError> => Effect.tryPromise({ try: f, catch: toStageError })

export const requireFile = (dir: string, file: string, input: string): string => {
  const p = join(dir, file)
  if (!existsSync(p)) throw new StageError({ reason: "MissingInput", message: `input ${input} has no ${file} (${dir})` })
  return p
}

export interface Base {
  readonly model: GPT
  readonly tokenizer: Encoder
}

/** The build-model artifact (model.safetensors, config.json, tokenizer.json) on the run's backend. */
export const loadBase = async <P>(ctx: StageContext<P>): Promise<Base> => {
  const input = ctx.inputs.model
  if (input === undefined) throw new StageError({ reason: "MissingInput", message: "no `model` input" })
  await initBackend(ctx.backend, ctx.threads)
  requireFile(input.dir, "model.safetensors", "model")
  const model = await loadModel(input.dir)
  const tokenizer = await loadTokenizer(requireFile(input.dir, "tokenizer.json", "model"))
  return { model, tokenizer }
}

/** How the data was split: written by train, read by eval and merge so all three agree. */
export interface DataSpec {
  readonly data: string
  readonly split_seed: number
  readonly val_fraction: number
  readonly test_fraction: number
  /** SpamAssassin only: characters of body text kept after the subject. */
  readonly body_chars?: number
  /** Digest of the examples train saw, split included (train_meta.json); eval and merge assert it. */
  readonly data_digest?: string
}

export interface TaskData {
  readonly train: ReadonlyArray<Example>
  readonly validation: ReadonlyArray<Example>
  readonly test: ReadonlyArray<Example>
  readonly labels: ReadonlyArray<string>
  readonly digest: string
}

/**
 * Relative JSONL paths are resolved against the pipeline file's folder. When `d` carries the
 * digest train recorded, the examples must be the same ones: a changed parser or data file
 * (a dependency bump) would otherwise evaluate an adapter on a split that overlaps its training data.
 */
export const loadTaskData = async <P>(ctx: StageContext<P>, d: DataSpec): Promise<TaskData> => {
  const task = await loadTask(taskSource(d.data, ctx.pipelineDir), { splitSeed: d.split_seed, valFraction: d.val_fraction, testFraction: d.test_fraction, ...(d.body_chars === undefined ? {} : { bodyChars: d.body_chars }) })
  // A base pretrained on this task's training text: the split must be the one it read.
  const record = ctx.inputs.model === undefined ? undefined : join(ctx.inputs.model.dir, DOMAIN_TEXT)
  if (record !== undefined && existsSync(record)) {
    const why = domainSplitMismatch(JSON.parse(await readFile(record, "utf8")) as DomainTextRecord, d, task)
    if (why !== null) throw new StageError({ reason: "InvalidData", message: why })
  }
  if (d.data_digest !== undefined && task.digest !== d.data_digest)
    throw new StageError({
      reason: "InvalidData",
      message: `the data ${d.data} now gives other examples (digest ${task.digest.slice(0, 12)}) than the adapter was trained on (${d.data_digest.slice(0, 12)}): retrain it (peftlab run --force 'train*')`,
    })
  return task
}

export const TRAIN_META = "train_meta.json"

/** What eval and merge start from: the trained adapter's folder, its data split, and the base. */
export interface Trained extends Base {
  readonly adapterDir: string
  readonly spec: DataSpec
}

export const loadTrained = async <P>(ctx: StageContext<P>): Promise<Trained> => {
  const adapterDir = ctx.inputs.adapter?.dir ?? ""
  const spec = JSON.parse(await readFile(requireFile(adapterDir, TRAIN_META, "adapter"), "utf8")) as DataSpec
  return { adapterDir, spec, ...(await loadBase(ctx)) }
}
