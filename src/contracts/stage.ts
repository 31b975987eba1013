/**
 * The stage contract. A stage kind is one folder `stages/<kind>/`: `params.ts` (the Effect
 * Schema of its params), `run.ts` (the work) and `index.ts`, default-exporting
 * `defineStage({...})`; `stages/index.ts` is the only list of kinds. This module is a leaf:
 * it imports nothing of peftlab's, so every part of `src/` may depend on it.
 *
 * The engine knows nothing about models: it decodes a stage's params with its schema,
 * fingerprints it (kind + version + code digest of `module` and the local modules it
 * imports, statically or with `import("...")` + params + input fingerprints + files +
 * backend), and runs `run` inside a worker process with a context.
 *
 * Rules for stage authors:
 * - `stages/index.ts` is imported by `peftlab status`: keep `index.ts` and `params.ts` light.
 *   `index.ts` imports `run.ts` (and through it tfjs and model code) lazily inside `run`
 *   (`import("./run.ts")`); the code digest follows those dynamic imports too.
 * - Write outputs only under `ctx.outDir`; inputs (`ctx.inputs[name].dir`, files named in
 *   params) are read-only. `ctx.scratchDir` survives a crash of this instance (checkpoints)
 *   and is deleted once the instance commits.
 * - A worker outlives the stage: dispose every tensor (tf.tidy / dispose).
 * - Fail with `StageError` (a reason from the list) — never throw strings. Check
 *   `ctx.signal.aborted` or `yield* Effect.yieldNow` between steps so Ctrl-C is prompt.
 */
import type { Effect } from "effect"
import { Data } from "effect"
import type { Schema } from "effect"
import type { FactorValue } from "./events.ts"

export type BackendName = "tensorflow" | "native" | "wasm" | "cpu"

/** Groups of the fingerprinted npm packages (src/contracts/packages.ts holds the list). */
export type PackageGroup = "tensors" | "pretrain-data" | "task-data"

/** A committed artifact produced by an upstream instance, handed to a consumer by `needs` name. */
export interface InputArtifact {
  /** Instance id of the producer, e.g. `base` or `adapter[method=vera,seed=2]`. */
  readonly id: string
  readonly kind: string
  /** Absolute path of the committed, read-only artifact folder. */
  readonly dir: string
  readonly fingerprint: string
  /** The producer's matrix factors (e.g. { method: "vera", lr: 0.01 }). */
  readonly factors: Readonly<Record<string, FactorValue>>
  /** The producer's summary (what its `run` returned). */
  readonly summary: Readonly<Record<string, number | string | boolean>>
}

export interface StageContext<P> {
  /** Instance id, e.g. `train[method=vera,seed=2]`. */
  readonly id: string
  /** Decoded params, defaults applied, axis values interpolated. */
  readonly params: P
  readonly factors: Readonly<Record<string, FactorValue>>
  readonly inputs: Readonly<Record<string, InputArtifact>>
  /** Fan-in inputs (declared `many`): every collected producer instance, in matrix order. */
  readonly collected: Readonly<Record<string, ReadonlyArray<InputArtifact>>>
  /** Empty temporary folder; everything written here becomes the committed artifact. */
  readonly outDir: string
  /** Persistent per-fingerprint folder for checkpoints; kept across crashes, removed on commit. */
  readonly scratchDir: string
  /** The project root (where `package.json` lives), for resolving packaged resources. */
  readonly projectDir: string
  /** The pipeline file's folder: relative paths in params (user data) resolve against it. */
  readonly pipelineDir: string
  readonly backend: BackendName
  /** BLAS threads this stage may use (native backend): cores / jobs, or every core when it runs alone. */
  readonly threads: number
  /** Aborted when the run is interrupted (Ctrl-C) or fail-fast stops it. */
  readonly signal: AbortSignal
  /** Progress of the current stage: step out of total; tokens/s when it trains. */
  progress(p: { readonly step: number; readonly total: number; readonly tokensPerSec?: number; readonly message?: string }): void
  /** A metric: per step (loss curves) or step = null for a final value. Stored in `metrics`. */
  metric(step: number | null, name: string, value: number): void
  log(message: string, level?: "info" | "warn"): void
}

/** What `run` returns; numbers are also stored as final metrics (step NULL). */
export interface StageOutput {
  readonly summary: Readonly<Record<string, number | string | boolean>>
}

export type StageErrorReason =
  | "InvalidData" // a data file is malformed (message names file:line and the problem)
  | "MissingInput" // an input artifact lacks a file it must have
  | "Diverged" // NaN / infinite loss: `diverged at step N`
  | "VerificationFailed" // e.g. merged logits differ from adapter logits beyond tolerance
  | "Unsupported" // e.g. backend cannot do what params ask
  | "Interrupted"
  | "Failed" // anything else, with the cause

export class StageError extends Data.TaggedError("StageError")<{
  readonly reason: StageErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

/** An error class that knows its reason (`Diverged`, `Interrupted` …) declares it so. */
export interface ReasonedError {
  readonly stageReason: StageErrorReason
}

/** Any thrown value → a StageError: StageErrors as they are, reasoned errors with their reason, the rest "Failed" with the cause. */
export const toStageError = (e: unknown): StageError => {
  if (e instanceof StageError) return e
  const message = e instanceof Error ? e.message : String(e)
  const reason = typeof e === "object" && e !== null && "stageReason" in e ? (e as ReasonedError).stageReason : undefined
  return reason === undefined ? new StageError({ reason: "Failed", message, cause: e }) : new StageError({ reason, message })
}

export interface StageInputSpec {
  readonly description: string
  /** Kinds this input accepts (checked by the analyzer), e.g. ["build-model"]. */
  readonly kinds: ReadonlyArray<string>
  readonly optional?: boolean
  /**
   * Fan-in: the input collects every instance of its producer over the axes named in the YAML's
   * `over` (`needs: { runs: { stage: eval, over: [lr] } }`); the stage reads `ctx.collected[name]`.
   */
  readonly many?: boolean
  /**
   * Params every producer instance must have (decoded, defaults applied), checked at plan time:
   * e.g. select's `runs` take only `split: validation` evals. `why` ends the error message.
   */
  readonly requires?: { readonly params: Readonly<Record<string, string | number | boolean>>; readonly why: string }
}

/**
 * A training instance's peak memory, estimated at plan time (tfjs-free) from its params and its
 * inputs' facts: `peftlab status` shows it and refuses an instance that cannot fit its backend.
 */
export interface MemoryNeed {
  /** The wasm heap at the peak on wasm (every tensor lives in one 32-bit heap). */
  readonly heapBytes: number
  /** The process's peak resident memory on wasm (the heap, node, JS copies). */
  readonly rssBytes: number
  /** The same two on native (the same heap; its fused kernels keep less). */
  readonly nativeHeapBytes: number
  readonly nativeRssBytes: number
  /** The process's peak resident memory on cpu or tensorflow (tensors outside any heap). */
  readonly cpuRssBytes: number
  /** What the estimate is made of, for messages: "LoRA r 8 on q, v; B 8 × T 128: weights …". */
  readonly detail: string
}

export interface StageDefinition<P> {
  /** The kind name used in YAML `kind:`; equals its folder's name in `stages/`. */
  readonly kind: string
  /** Bump to invalidate every cached instance of this kind on purpose. */
  readonly version: number
  readonly description: string
  /** `import.meta.url` of the stage file: the root of its code digest. */
  readonly module: string
  /** Effect Schema of the params; optional keys get their defaults on decode. */
  readonly params: Schema.Decoder<P>
  /** Named inputs this kind takes through `needs`. */
  readonly inputs: Readonly<Record<string, StageInputSpec>>
  /**
   * Paths (relative to the pipeline file or absolute) of user files the params name.
   * They are read-only inputs, hashed by content into the fingerprint.
   */
  readonly files?: (params: P) => ReadonlyArray<string>
  /**
   * Plan-time checks of what the params point at (without tfjs), e.g. load-model's folder:
   * each problem names the param key and what is wrong; any problem is exit 2, nothing runs.
   */
  readonly check?: (params: P, pipelineDir: string) => ReadonlyArray<{ readonly param: string; readonly message: string }>
  /**
   * What plan time knows of this instance's output, without tfjs, from its params and its
   * inputs' facts (by input name; undefined where a producer declares none or cannot tell):
   * e.g. a model's config, an adapter's method and targets. Consumers' `facts` and `memory` read it.
   */
  readonly facts?: (params: P, inputs: Readonly<Record<string, unknown>>, pipelineDir: string) => unknown
  /**
   * The instance's peak memory (instances that train), from its params and its inputs' facts;
   * undefined where those do not say enough. Estimated and checked by `status` and `run` before
   * anything runs (src/pipeline/memory.ts).
   */
  readonly memory?: (params: P, inputs: Readonly<Record<string, unknown>>) => MemoryNeed | undefined
  /**
   * The kind chooses factor values among the instances its `many` inputs collect (select):
   * other stages may then take a param from it (`lr: { from: pick }`). Its summary must hold the
   * chosen value of each axis under `chosen.<axis>`.
   */
  readonly chooses?: boolean
  /**
   * The params as the fingerprint sees them (default: all of them). Drop only what cannot change
   * the instance's outputs, e.g. options of other methods in a params block shared over a matrix.
   */
  readonly fingerprintParams?: (params: P) => unknown
  /**
   * Which groups of src/contracts/packages.ts's FINGERPRINTED_PACKAGES change this kind's outputs
   * (default: all of them). Data read through an input artifact is covered by its fingerprint.
   */
  readonly packages?: ReadonlyArray<PackageGroup>
  /**
   * Narrows the code digest (code-digest.ts). `cut`: registry modules (URLs) this kind reaches
   * but must not depend on as a whole. `extra`: the entries of such a registry that an instance
   * really runs (e.g. its method's files); consumers inherit their producers' `extra`, so a train
   * instance depends on its adapter's method file too.
   */
  readonly code?: {
    readonly cut?: ReadonlyArray<string>
    readonly extra?: (params: P) => ReadonlyArray<string>
  }
  readonly run: (ctx: StageContext<P>) => Effect.Effect<StageOutput, StageError>
}

/** A stage kind with its params type erased: what the registry and the engine hold. */
export type AnyStageDefinition = StageDefinition<unknown>

/**
 * Checks a stage against the contract with its own params type, then erases that type for
 * the registry. Sound because the engine only ever hands `run` what `params` decoded.
 */
export const defineStage = <P>(def: StageDefinition<P>): AnyStageDefinition =>
  def as unknown as AnyStageDefinition
