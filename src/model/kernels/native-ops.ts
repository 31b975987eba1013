/**
 * Fused ops of the `native` backend, each a forward kernel in C (native/blas.c) that also
 * produces what its backward pass needs, wrapped in `tf.customGrad`:
 *
 *   gelu            y and y' in one pass; backward dy ⊙ y'        (tanh was 15 % of a step)
 *   crossEntropy    loss and (softmax − onehot)·w in one pass     (no one-hot, casts, or exp pass)
 *   layerNorm       y, x̂ and r; backward dx, dγ, dβ in one pass   (20 small reductions a step)
 *   attention       q, k, v (B·T, C) → y (B·T, C): every head's products as BLAS calls on
 *                   column blocks (ld = C), so no head is transposed out and back in, and a
 *                   causal softmax in C (no T×T mask tensors; masked entries exactly 0)
 *   adamW           one AdamW slot's update (adamw.ts) in one pass, the tfjs ops' exact float32
 *                   sequence: the same bits without 16 kernels and 3 assigns per slot
 *
 * Why hand-written: after BLAS, the profile of a step is these elementwise chains, each of
 * 3–10 tfjs kernels with their dispatch and temporaries; no library fuses them for tfjs-wasm.
 * The formulas are the textbook ones (ops.ts has the same gradients in tfjs ops); the parity
 * tests hold each against tfjs autodiff on the cpu backend.
 *
 * The kernels are registered on tfjs's "wasm" backend under peftlab's own names and are only
 * called while the native matmul path is on (ops.ts dispatches).
 */
import * as tf from "@tensorflow/tfjs"
import { heapOffset, type WasmHeapBackend } from "./native-kernels.ts"
import { loadNative, type BlasAddon } from "./native.ts"

interface FusedAddon extends BlasAddon {
  sgemmStrided(
    heap: ArrayBuffer, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    aOff: number, lda: number, strideA: number, outerA: number, bOff: number, ldb: number, strideB: number, outerB: number,
    beta: number, cOff: number, ldc: number, strideC: number, outerC: number, batch: number, outerBatch: number,
  ): void
  gelu(heap: ArrayBuffer, xOff: number, yOff: number, dOff: number, n: number): void
  xent(heap: ArrayBuffer, logitsOff: number, targetsOff: number, weightsOff: number, gradOff: number, N: number, V: number): number
  layernorm(heap: ArrayBuffer, xOff: number, gammaOff: number, betaOff: number, yOff: number, xhatOff: number, rOff: number, N: number, C: number, eps: number): void
  layernormBackward(heap: ArrayBuffer, dyOff: number, xhatOff: number, rOff: number, gammaOff: number, dxOff: number, dgammaOff: number, dbetaOff: number, N: number, C: number): void
  causalSoftmax(heap: ArrayBuffer, sOff: number, pOff: number, G: number, T: number, scale: number): void
  causalSoftmaxBackward(heap: ArrayBuffer, pOff: number, dpOff: number, dsOff: number, G: number, T: number, scale: number): void
  maskedSoftmax(heap: ArrayBuffer, sOff: number, pOff: number, mOff: number, G: number, T: number, H: number, scale: number): void
  adamw(
    heap: ArrayBuffer, pOff: number, mOff: number, vOff: number, gOff: number, pOutOff: number, mOutOff: number, vOutOff: number, n: number, decayOn: 0 | 1,
    decay: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, bc1: number, bc2: number, eps: number, lr: number,
  ): void
}

interface HeapBackend extends WasmHeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array
  disposeData(dataId: tf.DataId): boolean
}

const fused = (): FusedAddon => {
  const s = loadNative()
  if (!s.ok) throw new Error(s.reason)
  return s.addon as FusedAddon
}

/** Runs `body` with the backend, after allocating `shapes` (the heap may move on allocation). */
const kernel =
  (body: (addon: FusedAddon, backend: HeapBackend, heap: ArrayBuffer, inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown>) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const b = backend as unknown as HeapBackend
    return body(fused(), b, b.wasm.HEAPU8.buffer as ArrayBuffer, inputs as Record<string, tf.TensorInfo>, (attrs ?? {}) as Record<string, unknown>)
  }

const alloc = (b: HeapBackend, shape: number[], dtype: tf.DataType = "float32"): tf.TensorInfo => b.makeOutput(shape, dtype)
const heapOf = (b: HeapBackend): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer
const off = (b: HeapBackend, t: tf.TensorInfo): number => heapOffset(b, t)
const numel = (t: tf.TensorInfo): number => t.shape.reduce((a, c) => a * c, 1)

const KERNELS: ReadonlyArray<readonly [string, tf.KernelFunc]> = [
  [
    "PeftlabGelu",
    kernel((addon, b, _h, { x }) => {
      const y = alloc(b, [...x!.shape])
      const d = alloc(b, [...x!.shape])
      addon.gelu(heapOf(b), off(b, x!), off(b, y), off(b, d), numel(x!))
      return [y, d]
    }),
  ],
  [
    "PeftlabCrossEntropy",
    kernel((addon, b, _h, { logits, targets, weights }) => {
      const [N, V] = logits!.shape as [number, number]
      const loss = alloc(b, [])
      const grad = alloc(b, [N, V])
      const value = addon.xent(heapOf(b), off(b, logits!), off(b, targets!), off(b, weights!), off(b, grad), N, V)
      b.typedArrayFromHeap(loss)[0] = value
      return [loss, grad]
    }),
  ],
  [
    "PeftlabLayerNorm",
    kernel((addon, b, _h, { x, gamma, beta }, { eps }) => {
      const [N, C] = x!.shape as [number, number]
      const y = alloc(b, [N, C])
      const xhat = alloc(b, [N, C])
      const r = alloc(b, [N, 1])
      addon.layernorm(heapOf(b), off(b, x!), off(b, gamma!), off(b, beta!), off(b, y), off(b, xhat), off(b, r), N, C, eps as number)
      return [y, xhat, r]
    }),
  ],
  [
    "PeftlabAdamW",
    kernel((addon, b, _h, { p, m, v, g }, a) => {
      const n = numel(p!)
      if ([m!, v!, g!].some((t) => numel(t) !== n) || [p!, m!, v!, g!].some((t) => t.dtype !== "float32"))
        throw new Error(`native AdamW: p [${p!.shape}], m [${m!.shape}], v [${v!.shape}], g [${g!.shape}] must be float32 of one size`)
      const out = [alloc(b, [...p!.shape]), alloc(b, [...p!.shape]), alloc(b, [...p!.shape])] as const
      if (n === 0) return [...out]
      const h = a as unknown as AdamWScalars
      addon.adamw(
        heapOf(b), off(b, p!), off(b, m!), off(b, v!), off(b, g!), off(b, out[0]), off(b, out[1]), off(b, out[2]), n, h.decay === undefined ? 0 : 1,
        h.decay ?? 0, h.beta1, h.oneMinusBeta1, h.beta2, h.oneMinusBeta2, h.bc1, h.bc2, h.eps, h.lr,
      )
      return [...out]
    }),
  ],
  [
    "PeftlabLayerNormBackward",
    kernel((addon, b, _h, { dy, xhat, r, gamma }) => {
      const [N, C] = dy!.shape as [number, number]
      const dx = alloc(b, [N, C])
      const dgamma = alloc(b, [C])
      const dbeta = alloc(b, [C])
      addon.layernormBackward(heapOf(b), off(b, dy!), off(b, xhat!), off(b, r!), off(b, gamma!), off(b, dx), off(b, dgamma), off(b, dbeta), N, C)
      return [dx, dgamma, dbeta]
    }),
  ],
]

/**
 * A head h of batch row b is the column block [h·hs, (h+1)·hs) of rows b·T … b·T+T−1 of a
 * (B·T, C) activation: leading dimension C, inner stride hs (next head), outer stride T·C (next
 * sequence). Scores and probabilities are (B·nh, T, T) contiguous: T, T·T, nh·T·T.
 */
interface Heads {
  readonly B: number
  readonly T: number
  readonly nh: number
  readonly hs: number
}

const headsOf = (x: tf.TensorInfo, attrs: Record<string, unknown>): Heads => {
  const [B, T, nh] = [attrs.B, attrs.T, attrs.nh] as [number, number, number]
  const [N, C] = x.shape as [number, number]
  if (N !== B * T || C % nh !== 0) throw new Error(`native attention: activations [${x.shape}] do not split into B=${B}, T=${T}, ${nh} heads`)
  return { B, T, nh, hs: C / nh }
}

/** One product over every (sequence, head): C[b,h] = op(A[b,h])·op(B[b,h]); "cols" = a (B·T, C) operand's head, "tt" = a (B·nh, T, T) one. */
const headProduct = (addon: FusedAddon, b: HeapBackend, h: Heads, M: number, N: number, K: number, a: [tf.TensorInfo, "cols" | "tt", boolean], bb: [tf.TensorInfo, "cols" | "tt", boolean], c: [tf.TensorInfo, "cols" | "tt"]): void => {
  const C = h.nh * h.hs
  const lay = (kind: "cols" | "tt") => (kind === "cols" ? [C, h.hs, h.T * C] : [h.T, h.T * h.T, h.nh * h.T * h.T]) as [number, number, number]
  const [lda, sA, oA] = lay(a[1])
  const [ldb, sB, oB] = lay(bb[1])
  const [ldc, sC, oC] = lay(c[1])
  addon.sgemmStrided(heapOf(b), a[2], bb[2], M, N, K, 1, off(b, a[0]), lda, sA, oA, off(b, bb[0]), ldb, sB, oB, 0, off(b, c[0]), ldc, sC, oC, h.nh, h.B)
}

const ATTENTION_KERNELS: ReadonlyArray<readonly [string, tf.KernelFunc]> = [
  [
    "PeftlabAttention",
    kernel((addon, b, _h, { q, k, v, allowed }, attrs) => {
      const h = headsOf(q!, attrs)
      const { B, T, nh, hs } = h
      const s = alloc(b, [B * nh, T, T])
      headProduct(addon, b, h, T, T, hs, [q!, "cols", false], [k!, "cols", true], [s, "tt"]) // q·kᵀ
      const att = alloc(b, [B * nh, T, T])
      if (allowed === undefined) addon.causalSoftmax(heapOf(b), off(b, s), off(b, att), B * nh, T, attrs.scale as number)
      else addon.maskedSoftmax(heapOf(b), off(b, s), off(b, att), off(b, allowed), B * nh, T, nh, attrs.scale as number)
      b.disposeData(s.dataId)
      const y = alloc(b, [B * T, nh * hs])
      headProduct(addon, b, h, T, hs, T, [att, "tt", false], [v!, "cols", false], [y, "cols"]) // att·v
      return [y, att]
    }),
  ],
  [
    "PeftlabAttentionBackward",
    kernel((addon, b, _h, { dy, q, k, v, att }, attrs) => {
      const h = headsOf(q!, attrs)
      const { B, T, nh, hs } = h
      const datt = alloc(b, [B * nh, T, T])
      headProduct(addon, b, h, T, T, hs, [dy!, "cols", false], [v!, "cols", true], [datt, "tt"]) // dy·vᵀ
      const dv = alloc(b, [B * T, nh * hs])
      headProduct(addon, b, h, T, hs, T, [att!, "tt", true], [dy!, "cols", false], [dv, "cols"]) // attᵀ·dy
      const ds = alloc(b, [B * nh, T, T])
      addon.causalSoftmaxBackward(heapOf(b), off(b, att!), off(b, datt), off(b, ds), B * nh, T, attrs.scale as number)
      b.disposeData(datt.dataId)
      const dq = alloc(b, [B * T, nh * hs])
      headProduct(addon, b, h, T, hs, T, [ds, "tt", false], [k!, "cols", false], [dq, "cols"]) // ds·k
      const dk = alloc(b, [B * T, nh * hs])
      headProduct(addon, b, h, T, hs, T, [ds, "tt", true], [q!, "cols", false], [dk, "cols"]) // dsᵀ·q
      b.disposeData(ds.dataId)
      return [dq, dk, dv]
    }),
  ],
]

let registered = false

export const registerNativeOps = (): void => {
  if (registered) return
  for (const [kernelName, kernelFunc] of [...KERNELS, ...ATTENTION_KERNELS]) tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc })
  registered = true
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, number> = {}): tf.Tensor[] => {
  const out = tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap)
  return Array.isArray(out) ? out : [out as tf.Tensor]
}

const f32 = (t: tf.Tensor): void => {
  if (t.dtype !== "float32") throw new Error(`native op: expected float32, got ${t.dtype} of shape [${t.shape.join(",")}]`)
}

/** GELU (tanh form); backward dy ⊙ y' with y' from the forward pass. */
export const nativeGelu = (x: tf.Tensor): tf.Tensor => {
  f32(x)
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc]
    const [y, d] = run("PeftlabGelu", { x: xi }) as [tf.Tensor, tf.Tensor]
    save([d])
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) }
  })
  return f(x)
}

/**
 * Σ_i w_i·(−log softmax(logits_i)[target_i]) for logits (N, V), integer targets (N,), weights
 * (N,); the gradient (softmax − onehot)·w is computed with the loss and scaled by dy.
 */
export const nativeCrossEntropy = (logits: tf.Tensor2D, targets: tf.Tensor1D, w: tf.Tensor1D): tf.Scalar => {
  f32(logits)
  f32(w)
  if (targets.dtype !== "int32") throw new Error(`native cross-entropy: targets must be int32, got ${targets.dtype}`)
  if (targets.shape[0] !== logits.shape[0] || w.shape[0] !== logits.shape[0])
    throw new Error(`native cross-entropy: logits [${logits.shape}], targets [${targets.shape}] and weights [${w.shape}] disagree on N`)
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [z, save] = args as [tf.Tensor2D, tf.GradSaveFunc]
    const [loss, grad] = run("PeftlabCrossEntropy", { logits: z, targets, weights: w }) as [tf.Scalar, tf.Tensor2D]
    save([grad])
    return { value: loss, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0]!, dy) }
  })
  return f(logits) as tf.Scalar
}

/** LayerNorm of x (N, C) over C. */
export const nativeLayerNorm = (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D => {
  ;[x, gamma, beta].forEach(f32)
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, g, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc]
    const [y, xhat, r] = run("PeftlabLayerNorm", { x: xi, gamma: g, beta: b }, { eps }) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
    save([xhat, r, g])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run("PeftlabLayerNormBackward", { dy, xhat: saved[0]!, r: saved[1]!, gamma: saved[2]! }),
    }
  })
  return f(x, gamma, beta) as tf.Tensor2D
}

/**
 * Causal multi-head attention on projected q, k, v (B·T, C) → y (B·T, C), heads merged:
 * y[b, :, h] = softmax(scale·q_h·k_hᵀ + causal mask)·v_h. The probabilities are kept for the
 * backward pass, which returns dq, dk, dv in one kernel. `allowed` (B, T, T), 1 where query t
 * may see key s, narrows the causal mask further (packed rows; it must not widen it).
 */
export const nativeAttention = (q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, B: number, T: number, nh: number, scale: number, allowed?: tf.Tensor3D): tf.Tensor2D => {
  ;[q, k, v].forEach(f32)
  if (allowed !== undefined) {
    f32(allowed)
    if (allowed.shape[0] !== B || allowed.shape[1] !== T || allowed.shape[2] !== T) throw new Error(`native attention: allowed [${allowed.shape}] is not [${B},${T},${T}]`)
  }
  const attrs = { B, T, nh, scale }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [qi, ki, vi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc]
    const [y, att] = run("PeftlabAttention", allowed === undefined ? { q: qi, k: ki, v: vi } : { q: qi, k: ki, v: vi, allowed }, attrs) as [tf.Tensor2D, tf.Tensor3D]
    save([qi, ki, vi, att])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run("PeftlabAttentionBackward", { dy, q: saved[0]!, k: saved[1]!, v: saved[2]!, att: saved[3]! }, attrs),
    }
  })
  return f(q, k, v) as tf.Tensor2D
}

/**
 * The float32 scalars of one AdamW slot's update, as the doubles tfjs makes float32 tensors of
 * (adamw.ts): `decay` = lr·lrScale·wd, absent when wd = 0 (no decay step at all).
 */
export interface AdamWScalars {
  readonly decay?: number
  readonly beta1: number
  readonly oneMinusBeta1: number
  readonly beta2: number
  readonly oneMinusBeta2: number
  readonly bc1: number
  readonly bc2: number
  readonly eps: number
  readonly lr: number
}

/**
 * One AdamW slot in one C pass: new p, m, v (fresh tensors; the inputs are not written — a
 * variable's data may be shared by a clone). Bit-identical to adamw.ts's tfjs ops on wasm.
 */
export const nativeAdamW = (p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, h: AdamWScalars): [tf.Tensor, tf.Tensor, tf.Tensor] => {
  const attrs: Record<string, number> = { ...h }
  return run("PeftlabAdamW", { p, m, v, g }, attrs) as [tf.Tensor, tf.Tensor, tf.Tensor]
}
