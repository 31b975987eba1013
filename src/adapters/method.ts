/**
 * The method contract. A PEFT method is one file exporting a `Method`; `index.ts` lists them.
 * Nothing else (stages, engine, trainer) names a method: it asks the registry.
 *
 * Layout (docs/METHODS.md "Conventions"): a kernel is W ∈ R^{d_in×d_out}, y = x·W + b + ΔY.
 * Tensors live in our layout and are transposed to PEFT's only when saved (io.ts).
 */
import type * as tf from "@tensorflow/tfjs"
import type { GPT, ProjName } from "../model/arch/model.ts"
import type { ParamGroup } from "../model/adamw.ts"
import type { MethodSpec, OptionValue } from "./method-spec.ts"

export type { OptionSpec, OptionValue } from "./method-spec.ts"

/** One adapted projection. `prefix` is the kernel's name without `.kernel` (`h.0.attn.q`). */
export interface Target {
  readonly layer: number
  readonly proj: ProjName
  readonly dIn: number
  readonly dOut: number
  readonly prefix: string
}

/** What the user chose, resolved with the method's defaults; recorded in adapter_config.json. */
export interface AdapterSettings {
  readonly method: string
  readonly rank: number
  readonly alpha: number
  readonly targets: ReadonlyArray<ProjName>
  readonly dropout: number
  readonly seed: number
  /** The method's own options (keys of `Method.options`), every one resolved. */
  readonly options: Readonly<Record<string, OptionValue>>
}

/**
 * trainable: gets gradients and optimizer state. frozen: fixed after init (LoRA-FA's A).
 * shared: frozen and referenced by every adapted layer (VeRA's A_s, B_s), saved once.
 */
export type TensorRole = "trainable" | "frozen" | "shared"

/** An initial tensor. `name` is the full logical name: `${prefix}.lora_A` or, if shared, `vera_A`. */
export interface InitTensor {
  readonly name: string
  readonly role: TensorRole
  readonly value: tf.Tensor
}

/** A method's view of one target: its own tensors by local name (`lora_A`) and shared ones by name. */
export interface LayerView {
  readonly target: Target
  get(localName: string): tf.Variable
  /**
   * The frozen base kernel W (d_in, d_out) of this target, for methods whose delta depends on
   * it (DoRA's column norm). Throws where the caller did not pass the model.
   */
  base(): tf.Variable
  /** The layer's bias b (d_out), for methods that scale the layer's whole output ((IA)³); null where the layer has none. Throws like `base`. */
  baseBias(): tf.Variable | null
}

export interface RunMode {
  readonly training: boolean
  /** Seed of this step's dropout masks (a pure function of the run seed and step). */
  readonly dropoutSeed: number
}

export interface Counts {
  readonly trainable: number
  /** Frozen adapter parameters (LoRA-FA's A, VeRA's shared pair); the base model is extra. */
  readonly frozenAdapter: number
}

/** A method's maths, on top of its tfjs-free spec (name, defaults, options: specs/<name>.ts). */
export interface Method extends MethodSpec {
  /** Settings after the method's own rules (e.g. Delta-LoRA forces dropout 0). */
  normalize?(s: AdapterSettings): AdapterSettings
  /** Parameter counts from shapes alone (oracle 8: also for models we never build). */
  counts(targets: ReadonlyArray<Pick<Target, "proj" | "dIn" | "dOut">>, s: AdapterSettings): Counts
  /**
   * Initial tensors in a fixed order, deterministic in the settings. `base` gives a target's
   * frozen kernel W when the caller has the model (DoRA's magnitude starts at ‖W‖_c).
   */
  init(targets: ReadonlyArray<Target>, s: AdapterSettings, base?: (t: Target) => tf.Tensor2D): ReadonlyArray<InitTensor>
  /** ΔY (N, d_out) for x (N, d_in). */
  forward(v: LayerView, x: tf.Tensor2D, s: AdapterSettings, mode: RunMode): tf.Tensor2D
  /** ΔW (d_in, d_out): the one function used by merge, unmerge and the tests. */
  delta(v: LayerView, s: AdapterSettings): tf.Tensor2D
  /**
   * Δb (d_out) where the method also changes the layer's bias ((IA)³ scales y = x·W + b, bias
   * included, as PEFT does): merge adds it to b. null or absent: the bias is left alone.
   */
  deltaBias?(v: LayerView, s: AdapterSettings): tf.Tensor1D | null
  /**
   * Where forward(x) = x·ΔW exactly in this mode (no dropout, nothing input-dependent): ΔW
   * (d_in, d_out), which the model folds into W before its own product — y = x·(W + ΔW) + b,
   * one product of the layer's size instead of the adapter's. Worth it when the adapter's
   * products are wider than the layer (VeRA). Not inside tf.tidy: its gradients are taken.
   * null (or absent): the model runs `forward`.
   */
  weightForward?(v: LayerView, s: AdapterSettings, mode: RunMode): tf.Tensor2D | null
  readonly training?: TrainingRule
}

/** One tensor of an adapter, by its full logical name. */
export interface AdapterTensor {
  readonly name: string
  readonly role: TensorRole
  readonly variable: tf.Variable
}

/**
 * What a training rule may see of an adapter: the narrow handle `Adapter` (adapter.ts)
 * implements. Declared here so the contract does not import the class that uses it.
 */
export interface AdapterHandle {
  readonly settings: AdapterSettings
  readonly targets: ReadonlyArray<Target>
  readonly tensors: ReadonlyMap<string, AdapterTensor>
  view(target: Target): LayerView
  byRole(role: TensorRole): ReadonlyArray<AdapterTensor>
  /** A tensor computed once per adapter (LoRA-FA's projector), disposed with it. */
  memo<T extends tf.Tensor>(key: string, make: () => T): T
}

/** How a method changes plain AdamW-on-the-trainable-tensors. Every hook is optional. */
export interface TrainingRule {
  /** Learning-rate groups (LoRA+). Default: one group of all trainable tensors. */
  paramGroups?(a: AdapterHandle, weightDecay: number): ReadonlyArray<ParamGroup>
  /** Rewrites gradients before clipping and the step (LoRA-FA). Consumes `grads`. */
  transformGrads?(a: AdapterHandle, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor>
  /** Runs before optimizer step `step` (0-based); the returned function runs right after it. */
  aroundStep?(a: AdapterHandle, model: GPT, step: number): (() => void) | null
  /** Base-model parameters the method writes to (Delta-LoRA's W, full fine-tuning's every weight): saved with the trained adapter. */
  modifiedBase?(a: AdapterHandle, model: GPT): ReadonlyArray<string>
  /**
   * Base-model parameters trained by gradient, with AdamW state, in the one default group (full
   * fine-tuning: all of them). Their sizes count as trainable parameters.
   */
  trainsBase?(a: AdapterHandle, model: GPT): ReadonlyArray<string>
}
