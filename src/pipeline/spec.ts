/**
 * The pipeline file format (Effect Schema of the YAML).
 *
 * ```yaml
 * name: ablation                # [A-Za-z][A-Za-z0-9_-]*; recorded with every run
 * matrix:                       # optional: axes, in order; values are scalars (string, number, boolean)
 *   method: [lora, lora-fa, vera, delta-lora, lora-plus]
 *   seed: [1, 2, 3]
 * stages:
 *   tokens:                     # stage name: [A-Za-z][A-Za-z0-9_-]*
 *     kind: tokenize            # a kind from stages/index.ts (nothing else can run)
 *     params: { vocab_size: 512 }
 *   base:
 *     kind: build-model
 *     needs: { tokens: tokens } # input name (declared by the kind) -> stage name
 *     params: { steps: 600 }
 *   adapter:
 *     kind: attach-adapter
 *     foreach: [method, seed]   # the axes this stage varies over (default: none = one shared instance)
 *     needs: { model: base }
 *     params: { method: "${method}", seed: "${seed}", rank: 8 }
 *     overrides:                # optional: params per axis value, applied in order (shallow merge)
 *       - when: { method: vera }
 *         params: { rank: 256 }
 *     resources: { cpus: 2, mem: 4G, time: 30m, gpus: 0 }  # optional: asked of Slurm (--executor slurm)
 * ```
 *
 * Semantics:
 * - `"${axis}"` as a whole string is replaced by the axis value with its type (`"${seed}"` → 2);
 *   inside a longer string it is substituted as text (`"run-${seed}"` → "run-2"). An axis used in
 *   `params` or `when` must be one the stage varies over (`foreach`).
 * - Instances: one per combination of the stage's `foreach` axes. Ids are `stage` for a shared
 *   stage and `stage[axis=value,...]` with axes in matrix order, e.g. `train[method=vera,seed=2]`.
 * - `needs`: a consumer instance gets the producer instance whose values on the producer's axes
 *   equal its own. A producer varying over an axis the consumer does not is an error
 *   ("ambiguous needs"): the consumer would not know which instance to take.
 * - Fan-in: an input its kind declares `many` collects every producer instance over the axes
 *   named in `over` (exactly the producer's axes the consumer does not vary over), e.g.
 *   `needs: { runs: { stage: tune-eval, over: [lr] } }`. The consumer gets the list in matrix
 *   order, each item with its factors (`ctx.collected.runs`).
 * - A param may take a value chosen by a `select` stage at run time: `lr: { from: pick }`
 *   (the factor of the same name; `{ from: pick, factor: lr }` names it). The select stage's axes
 *   must be among the consumer's, the factor one the select chooses over; every value that axis
 *   can take is decoded by the consumer's schema at plan time. The fingerprint holds the
 *   reference and the select instance's fingerprint (`ref.lr`), so a new choice reruns it.
 * - Params are decoded by the kind's schema (defaults applied) after overrides and interpolation.
 * - Paths named in params are read-only inputs, relative to the pipeline file.
 * - Unknown keys are errors. Every problem is reported at once with file:line:column.
 */
import { Schema } from "effect"
import { Resources } from "./resources.ts"

export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/

export const Scalar = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean])
export type Scalar = typeof Scalar.Type

const Params = Schema.Record(Schema.String, Schema.Unknown)

export const OverrideSpec = Schema.Struct({
  when: Schema.Record(Schema.String, Scalar),
  params: Params,
})

/** `stage` (one instance) or `{ stage, over: [axes] }` (fan-in: every instance over those axes). */
export const NeedSpec = Schema.Union([
  Schema.String,
  Schema.Struct({ stage: Schema.String, over: Schema.optionalKey(Schema.Array(Schema.String)) }),
])
export type NeedSpec = typeof NeedSpec.Type

export const StageSpec = Schema.Struct({
  kind: Schema.String,
  description: Schema.optionalKey(Schema.String),
  foreach: Schema.optionalKey(Schema.Array(Schema.String)),
  needs: Schema.optionalKey(Schema.Record(Schema.String, NeedSpec)),
  params: Schema.optionalKey(Params),
  overrides: Schema.optionalKey(Schema.Array(OverrideSpec)),
  /** Cluster resources of each instance (the Slurm executor); see resources.ts. */
  resources: Schema.optionalKey(Resources),
})
export type StageSpec = typeof StageSpec.Type

/** The top level; each stage is decoded on its own so one broken stage hides no other problem. */
export const PipelineHead = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  matrix: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(Scalar))),
  stages: Schema.Record(Schema.String, Schema.Unknown),
})

export interface PipelineSpec {
  readonly name: string
  readonly matrix: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<Scalar> }>
  /** Stages in file order. */
  readonly stages: ReadonlyArray<{ readonly name: string; readonly spec: StageSpec }>
}

/** The keys allowed at each level, for "did you mean" on unknown keys. */
export const KNOWN_KEYS = {
  top: ["name", "description", "matrix", "stages"],
  stage: ["kind", "description", "foreach", "needs", "params", "overrides", "resources"],
  resources: ["cpus", "mem", "time", "gpus", "partition"],
  override: ["when", "params"],
  need: ["stage", "over"],
} as const

export const needStage = (need: NeedSpec): string => (typeof need === "string" ? need : need.stage)
export const needOver = (need: NeedSpec): ReadonlyArray<string> | undefined => (typeof need === "string" ? undefined : need.over)
