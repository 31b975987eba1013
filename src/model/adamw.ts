/**
 * AdamW (Loshchilov & Hutter, arXiv 1711.05101) with parameter groups, because tfjs has none.
 *
 * Order per step, as in PyTorch's `torch.optim.AdamW`: the decoupled decay is applied
 * BEFORE the Adam update, `p ← p − lr·lrScale·wd·p`, then
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²,
 *   p ← p − lr·lrScale · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
 * Defaults are PyTorch's (β1 0.9, β2 0.999, ε 1e-8 — tfjs Adam uses 1e-7).
 *
 * Moment slots are keyed by (group, position in group), never by variable name, so a
 * checkpoint written by one process loads into another whose variables got other
 * auto-generated names. The variable order is fixed at construction.
 */
import * as tf from "@tensorflow/tfjs"
import { nativeMatmulActive } from "./kernels/native-kernels.ts"
import { nativeAdamW } from "./kernels/native-ops.ts"

export interface ParamGroup {
  readonly name: string
  readonly vars: ReadonlyArray<tf.Variable>
  /** Multiplies the step's lr for this group (LoRA+: λ for B). */
  readonly lrScale: number
  readonly weightDecay: number
}

export interface AdamWOptions {
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
}

interface Slot {
  readonly key: string // `${group}/${index}`
  readonly param: tf.Variable
  readonly m: tf.Variable
  readonly v: tf.Variable
  readonly lrScale: number
  readonly weightDecay: number
}

export class AdamW {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  private readonly slots: ReadonlyArray<Slot>
  private step_ = 0

  constructor(groups: ReadonlyArray<ParamGroup>, opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9
    this.beta2 = opts.beta2 ?? 0.999
    this.eps = opts.eps ?? 1e-8
    const names = new Set<string>()
    for (const g of groups) {
      if (names.has(g.name)) throw new Error(`AdamW: duplicate group name ${g.name}`)
      names.add(g.name)
    }
    this.slots = groups.flatMap((g) =>
      g.vars.map((param, i) => ({
        key: `${g.name}/${i}`,
        param,
        // tidy frees the zerosLike temporaries; the variables survive it.
        m: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
        v: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
        lrScale: g.lrScale,
        weightDecay: g.weightDecay,
      })),
    )
  }

  /** Number of completed steps (t of the bias correction). */
  get stepCount(): number {
    return this.step_
  }

  /**
   * One update. `grads` is keyed by variable name (what `tf.variableGrads` returns); a
   * variable without a gradient is skipped, moments untouched (PyTorch's `grad is None`).
   * The caller keeps ownership of `grads`.
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.step_ += 1
    const t = this.step_
    const bc1 = 1 - Math.pow(this.beta1, t)
    const bc2 = 1 - Math.pow(this.beta2, t)
    // On the native backend one C kernel does a slot's whole update (native-ops.ts): the same
    // float32 operations in the same order as the tfjs code below, so the same bits, instead of
    // 16 kernels and 3 assigns per slot (~15–30 µs of dispatch each).
    const native = nativeMatmulActive()
    for (const s of this.slots) {
      const g = grads.get(s.param.name)
      if (g === undefined) continue
      if (native) {
        const lrEff = lr * s.lrScale
        tf.tidy(() => {
          const [p, m, v] = nativeAdamW(s.param, s.m, s.v, g, {
            ...(s.weightDecay !== 0 ? { decay: lrEff * s.weightDecay } : {}),
            beta1: this.beta1,
            oneMinusBeta1: 1 - this.beta1,
            beta2: this.beta2,
            oneMinusBeta2: 1 - this.beta2,
            bc1,
            bc2,
            eps: this.eps,
            lr: lrEff,
          })
          s.param.assign(p)
          s.m.assign(m)
          s.v.assign(v)
        })
        continue
      }
      tf.tidy(() => {
        const lrEff = lr * s.lrScale
        if (s.weightDecay !== 0) s.param.assign(tf.sub(s.param, tf.mul(s.param, lrEff * s.weightDecay)))
        const m = tf.add(tf.mul(s.m, this.beta1), tf.mul(g, 1 - this.beta1))
        const v = tf.add(tf.mul(s.v, this.beta2), tf.mul(tf.mul(g, g), 1 - this.beta2))
        s.m.assign(m)
        s.v.assign(v)
        const denom = tf.add(tf.sqrt(tf.div(v, bc2)), this.eps)
        s.param.assign(tf.sub(s.param, tf.mul(tf.div(tf.div(m, bc1), denom), lrEff)))
      })
    }
  }

  /** The moments as `${group}/${i}/m|v` → tensor (views of live state: copy before disposing). */
  stateTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>()
    for (const s of this.slots) {
      out.set(`${s.key}/m`, s.m)
      out.set(`${s.key}/v`, s.v)
    }
    return out
  }

  /** Restores moments written by `stateTensors` and the step count; shapes must match. */
  loadState(state: ReadonlyMap<string, tf.Tensor>, step: number): void {
    for (const s of this.slots) {
      for (const [suffix, slot] of [["m", s.m], ["v", s.v]] as const) {
        const src = state.get(`${s.key}/${suffix}`)
        if (src === undefined) throw new Error(`AdamW.loadState: missing ${s.key}/${suffix}`)
        if (src.shape.join(",") !== slot.shape.join(","))
          throw new Error(`AdamW.loadState: ${s.key}/${suffix} has shape [${src.shape}], expected [${slot.shape}]`)
        slot.assign(src)
      }
    }
    this.step_ = step
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose()
      s.v.dispose()
    }
  }
}
