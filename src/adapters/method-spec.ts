/**
 * What is known about a PEFT method without tensors: its name, defaults and options, each
 * option with its schema. `peftlab status` checks pipelines against these specs, so they must
 * never import tfjs. A method is its spec (`specs/<name>.ts`) and its maths (`<name>.ts`, a
 * `Method` that spreads the spec); `specs/index.ts` and `index.ts` list them.
 */
import type { Schema } from "effect"
import type { AdapterForm } from "../model/arch/memory.ts"

export type OptionValue = number | boolean

export interface OptionSpec {
  readonly default: OptionValue
  readonly doc: string
  /** Checked at plan time; an option set in a pipeline must decode with it. */
  readonly schema: Schema.Codec<number> | Schema.Codec<boolean>
}

export interface MethodDefaults {
  readonly rank: number
  readonly alpha: number
  readonly dropout: number
  /** What train uses when the pipeline leaves lr unset. */
  readonly lr: number
}

/**
 * What a method trains and keeps, without tensors: `peftlab status` estimates a train's memory
 * from it (specs/footprint.ts, src/model/arch/memory.ts). `counts` equals the method's own
 * `Method.counts` (a test holds every method to it).
 */
export interface Footprint {
  readonly form: AdapterForm
  /** Trainable and frozen adapter floats over these targets at this rank (full fine-tuning: 0, the caller adds the model). */
  counts(targets: ReadonlyArray<{ readonly dIn: number; readonly dOut: number; readonly proj?: string }>, rank: number): { readonly trainable: number; readonly frozen: number }
  /** Base weights the method writes between steps, saved in each checkpoint: none, the targets' kernels (Delta-LoRA) or all (full). */
  readonly writesBase: "none" | "targets" | "all"
}

export interface MethodSpec {
  readonly name: string
  /** `peft_type` in adapter_config.json. */
  readonly peftType: string
  readonly description: string
  readonly defaults: MethodDefaults
  /** The method's own options: pipeline keys (`vera_d_init`), unique across methods. */
  readonly options: Readonly<Record<string, OptionSpec>>
  /** URL of the file of the method's maths (the `Method`): part of its instances' code digest. */
  readonly module: string
  /** URL of the spec's own file (`import.meta.url`). */
  readonly specModule: string
  readonly footprint: Footprint
}
