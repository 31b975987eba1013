/**
 * An adapter attached to a model: the method's tensors as tf.Variables, kept apart from the
 * base weights (PEFT's layer design). It provides the forward hook, ΔW per target and the
 * trainable tensors; the method decides what each of those means.
 */
import * as tf from "@tensorflow/tfjs"
import { kernelName, param, projDims, type GPT, type ModelConfig, type ProjectionHook, type ProjName } from "../model/arch/model.ts"
import type { AdapterHandle, AdapterSettings, AdapterTensor, InitTensor, LayerView, Method, RunMode, Target, TensorRole } from "./method.ts"

export type { AdapterTensor } from "./method.ts"

export const targetsOf = (cfg: ModelConfig, projs: ReadonlyArray<ProjName>): Target[] => {
  const out: Target[] = []
  for (let layer = 0; layer < cfg.nLayer; layer++)
    for (const proj of projs) {
      const [dIn, dOut] = projDims(cfg, proj)
      out.push({ layer, proj, dIn, dOut, prefix: kernelName(layer, proj).replace(/\.kernel$/, "") })
    }
  return out
}

export interface CreateOptions {
  /** Copy tensors of role "shared" from this adapter (VeRA's projections). */
  readonly shareWith?: Adapter
  /** The base model, for methods whose init reads W. */
  readonly model?: GPT
}

export class Adapter implements AdapterHandle {
  readonly targets: ReadonlyArray<Target>
  /** Logical name → tensor, in the method's init order (fixed: the optimizer relies on it). */
  readonly tensors: ReadonlyMap<string, AdapterTensor>
  private readonly memos = new Map<string, tf.Tensor>()

  private constructor(
    readonly method: Method,
    readonly config: ModelConfig,
    readonly settings: AdapterSettings,
    values: ReadonlyArray<InitTensor>,
  ) {
    this.targets = targetsOf(config, settings.targets)
    const tensors = new Map<string, AdapterTensor>()
    // Unnamed variables: tfjs makes the name unique, so several adapters can coexist.
    for (const t of values) tensors.set(t.name, { name: t.name, role: t.role, variable: tf.variable(t.value, t.role === "trainable") })
    this.tensors = tensors
  }

  /**
   * Fresh initialization from the settings (seeded); pass `model` for methods whose init reads
   * the base weights. With `shareWith`, tensors of role
   * "shared" are copied from that adapter (VeRA's projections: PEFT's second adapter on the
   * same model); every target's ΔW is computed once so a misfit fails here, not mid-training.
   */
  static create(method: Method, config: ModelConfig, settings: AdapterSettings, opts: CreateOptions = {}): Adapter {
    const { shareWith, model } = opts
    const s = method.normalize?.(settings) ?? settings
    const base = model === undefined ? undefined : (t: Target) => param(model, `${t.prefix}.kernel`) as tf.Tensor2D
    const init = method.init(targetsOf(config, s.targets), s, base).map((t) => {
      const other = t.role === "shared" ? shareWith?.tensors.get(t.name) : undefined
      if (other === undefined) return t
      t.value.dispose()
      return { ...t, value: other.variable.clone() }
    })
    const a = new Adapter(method, config, s, init)
    init.forEach((t) => t.value.dispose())
    if (shareWith !== undefined) {
      try {
        a.targets.forEach((t) => a.delta(t, model).dispose())
      } catch (e) {
        a.dispose()
        throw e
      }
    }
    return a
  }

  /**
   * From saved tensors (our layout): every name of a fresh init must be present with the same
   * shape and nothing else — a clear error instead of a silently different adapter.
   */
  static fromTensors(method: Method, config: ModelConfig, settings: AdapterSettings, values: ReadonlyMap<string, tf.Tensor>, model?: GPT): Adapter {
    const s = method.normalize?.(settings) ?? settings
    const base = model === undefined ? undefined : (t: Target) => param(model, `${t.prefix}.kernel`) as tf.Tensor2D
    const fresh = tf.tidy(() => method.init(targetsOf(config, s.targets), s, base).map((t) => ({ ...t, shape: t.value.shape })))
    const init = fresh.map((t): InitTensor => {
      t.value.dispose()
      const v = values.get(t.name)
      if (v === undefined) throw new Error(`adapter file lacks tensor ${t.name}`)
      if (v.shape.join(",") !== t.shape.join(",")) throw new Error(`adapter tensor ${t.name} has shape [${v.shape}], expected [${t.shape}]`)
      return { name: t.name, role: t.role, value: v }
    })
    const extra = [...values.keys()].filter((k) => !fresh.some((t) => t.name === k))
    if (extra.length > 0) throw new Error(`adapter file has unexpected tensors: ${extra.join(", ")}`)
    return new Adapter(method, config, s, init)
  }

  target(layer: number, proj: ProjName): Target | undefined {
    return this.targets.find((t) => t.layer === layer && t.proj === proj)
  }

  /** A method's view of one target; `model` gives it the base kernel (`LayerView.base`). */
  view(target: Target, model?: GPT): LayerView {
    return {
      target,
      get: (local) => {
        const t = this.tensors.get(`${target.prefix}.${local}`) ?? this.tensors.get(local)
        if (t === undefined) throw new Error(`${this.method.name}: no tensor ${local} for ${target.prefix}`)
        return t.variable
      },
      base: () => {
        if (model === undefined) throw new Error(`${this.method.name} needs the base weight of ${target.prefix}: pass the model`)
        return param(model, `${target.prefix}.kernel`)
      },
      baseBias: () => {
        if (model === undefined) throw new Error(`${this.method.name} needs the base bias of ${target.prefix}: pass the model`)
        return model.params.get(`${target.prefix}.bias`) ?? null
      },
    }
  }

  /** The forward hook; untargeted projections are left alone. */
  hook(mode: RunMode = { training: false, dropoutSeed: 0 }, model?: GPT): ProjectionHook {
    return (x, layer, proj) => {
      const t = this.target(layer, proj)
      if (t === undefined) return null
      const v = this.view(t, model)
      const weight = this.method.weightForward?.(v, this.settings, mode) ?? null
      return weight !== null ? { weight } : this.method.forward(v, x, this.settings, mode)
    }
  }

  /** ΔW (d_in, d_out) of one target. */
  delta(t: Target, model?: GPT): tf.Tensor2D {
    return this.method.delta(this.view(t, model), this.settings)
  }

  /** Δb (d_out) of one target, or null where the method leaves the bias alone. */
  deltaBias(t: Target, model?: GPT): tf.Tensor1D | null {
    return this.method.deltaBias?.(this.view(t, model), this.settings) ?? null
  }

  byRole(role: TensorRole): AdapterTensor[] {
    return [...this.tensors.values()].filter((t) => t.role === role)
  }

  trainableVars(): tf.Variable[] {
    return this.byRole("trainable").map((t) => t.variable)
  }

  /** Snapshot of every tensor by logical name (copies, for saving). Caller disposes. */
  snapshot(): Map<string, tf.Tensor> {
    return new Map([...this.tensors].map(([k, t]) => [k, t.variable.clone()]))
  }

  /**
   * A derived tensor computed once and owned by the adapter (LoRA-FA's projectors of its
   * frozen A); disposed with it.
   */
  memo<T extends tf.Tensor>(key: string, make: () => T): T {
    const hit = this.memos.get(key)
    if (hit !== undefined) return hit as T
    const made = tf.tidy(make)
    this.memos.set(key, made)
    return made
  }

  dispose(): void {
    this.tensors.forEach((t) => t.variable.dispose())
    this.memos.forEach((t) => t.dispose())
    this.memos.clear()
  }
}
