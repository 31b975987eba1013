/**
 * Tensor ops shared by the model and the adapters. Every matmul of the model and of the
 * adapters goes through here, so the backend-specific fast paths live in one place.
 *
 * Three paths (`MatmulPath`), set by `initBackend`:
 * - "tfjs": tfjs's own ops and autodiff (cpu, tensorflow).
 * - "xnnpack" (wasm, docs/DESIGN.md "matmul fix"): XNNPACK is fast only for operands without
 *   transpose flags, and tfjs's own MatMul gradient always sets them. So a 2-D matmul is a
 *   `tf.customGrad` whose backward pass transposes explicitly: y = a·b, da = dy·bᵀ, db = aᵀ·dy.
 *   For a frozen weight (a `tf.Variable` with trainable = false) bᵀ is cached between steps
 *   and no gradient is computed for b at all. The cache follows the variable's data: an
 *   `assign` gives the variable new data, so a stale bᵀ is never used; `invalidateTransposed`
 *   frees a cached copy early. Batched products are cut into 2-D ones (wasm's batched
 *   matmul is a naive loop).
 * - "blas" (native): every product is OpenBLAS sgemm (native-kernels.ts), where transpose
 *   flags and batches are free: plain `tf.matMul` with flags, no explicit transposes, no cache.
 * The hand-written gradients of GELU, LayerNorm and cross-entropy below serve both fast paths.
 */
import * as tf from "@tensorflow/tfjs"
import { nativeDenseForward } from "./native-kernels.ts"
import { nativeGelu, nativeLayerNorm } from "./native-ops.ts"

export type MatmulPath = "tfjs" | "xnnpack" | "blas"

let path: MatmulPath = "tfjs"

/** Set by `initBackend`: "xnnpack" on wasm, "blas" on native, "tfjs" elsewhere. */
export const setMatmulPath = (p: MatmulPath): void => {
  path = p
}

export const matmulPath = (): MatmulPath => path

/** True where the hand-written elementwise gradients are used (wasm and native). */
export const matmulFastPath = (): boolean => path !== "tfjs"

/** (n, k) · (k, m) → (n, m). */
export const matmul = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => (path === "xnnpack" ? transposeFreeMatmul(a, b) : tf.matMul(a, b))

/** a (n, k) · bᵀ for b (m, k) → (n, m): the tied output head (h · wteᵀ). */
export const matmulTransposed = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D =>
  path === "xnnpack" ? transposeFreeMatmul(a, tf.transpose(b)) : tf.matMul(a, b, false, true)

/** The plain tfjs matmul, whatever the backend (for tests and benchmarks). */
export const plainMatmul = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b)

/** a (n, k) · b (k, m) with a backward pass that never sets transpose flags. */
export const transposeFreeMatmul = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => {
  if (frozen(b)) {
    const bT = cachedTranspose(b) // (m, k)
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.matMul(args[0] as tf.Tensor2D, b),
      gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, bT), // (n, m)·(m, k)
    }))
    return f(a) as tf.Tensor2D
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc]
    save([x, w])
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D]
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)]
      },
    }
  })
  return f(a, b) as tf.Tensor2D
}

/** x (n, k) · w (k, m) + b (m,): a dense layer, on wasm with the transpose-free gradient. */
export const dense = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D =>
  path === "xnnpack" ? transposeFreeDense(x, w, b) : path === "blas" ? blasDense(x, w, b) : (tf.add(tf.matMul(x, w), b) as tf.Tensor2D)

const frozen = (t: tf.Tensor): t is tf.Variable => t instanceof tf.Variable && !t.trainable

/**
 * As `transposeFreeMatmul`, plus the bias; its gradient Σ_rows dy is computed as 1ᵀ·dy, a
 * matmul XNNPACK runs fast, where wasm's Sum over axis 0 transposes first.
 */
export const transposeFreeDense = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D => {
  if (frozen(w) && frozen(b)) return tf.add(transposeFreeMatmul(x, w), b) as tf.Tensor2D
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, wi, bi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc]
    save([xi, wi])
    return {
      value: tf.add(tf.matMul(xi, wi), bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D]
        const d = dy as tf.Tensor2D // (n, m)
        const ones = tf.ones([1, d.shape[0]]) as tf.Tensor2D
        return [tf.matMul(d, tf.transpose(ws)), tf.matMul(tf.transpose(xs), d), tf.reshape(tf.matMul(ones, d), [d.shape[1]])]
      },
    }
  })
  return f(x, w, b) as tf.Tensor2D
}

/**
 * The dense layer on native: x·W + b as one sgemm (the bias pre-filled into the output), and
 * a backward pass with BLAS flags instead of transposes; the bias gradient Σ_rows dy as 1ᵀ·dy
 * (one sgemm; wasm's Sum over axis 0 transposes first). A frozen layer gets only dx = dy·Wᵀ.
 */
export const blasDense = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D => {
  if (frozen(w) && frozen(b)) {
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: nativeDenseForward(args[0] as tf.Tensor2D, w, b),
      gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, w, false, true), // (n, m)·(k, m)ᵀ
    }))
    return f(x) as tf.Tensor2D
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, wi, bi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc]
    save([xi, wi])
    return {
      value: nativeDenseForward(xi, wi, bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D]
        const d = dy as tf.Tensor2D // (n, m)
        const ones = tf.ones([1, d.shape[0]]) as tf.Tensor2D
        return [tf.matMul(d, ws, false, true), tf.matMul(xs, d, true, false), tf.reshape(tf.matMul(ones, d), [d.shape[1]])]
      },
    }
  })
  return f(x, w, b) as tf.Tensor2D
}

/**
 * Batched matmul a (G, n, k) · b (G, k, m) → (G, n, m): attention's per-head products.
 * wasm runs batched matmuls in a naive loop (~2 GFLOP/s); on wasm we instead cut the G
 * 2-D products out (cheap with our Slice kernel), run each through XNNPACK and concatenate,
 * with the same scheme for the gradient: da = dy·bᵀ, db = aᵀ·dy.
 */
export const batchMatmul = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D => (path === "xnnpack" ? slicedBatchMatmulWithGrad(a, b) : tf.matMul(a, b))

/** a (G, n, k) · b (G, m, k)ᵀ → (G, n, m): attention scores q·kᵀ without transposing k on native. */
export const batchMatmulTransposed = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D =>
  path === "xnnpack" ? slicedBatchMatmulWithGrad(a, transposeLast(b)) : tf.matMul(a, b, false, true)

const transposeLast = (t: tf.Tensor3D): tf.Tensor3D => tf.transpose(t, [0, 2, 1])

/** Forward only: G slices → G 2-D matmuls → concat. */
export const slicedBatchMatmul = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D =>
  tf.tidy(() => {
    const [G, n, k] = a.shape
    const m = b.shape[2]
    const a2 = tf.reshape(a, [G * n, k]) as tf.Tensor2D
    const b2 = tf.reshape(b, [G * k, m]) as tf.Tensor2D
    const parts: tf.Tensor2D[] = []
    for (let g = 0; g < G; g++) parts.push(tf.matMul(tf.slice(a2, [g * n, 0], [n, k]), tf.slice(b2, [g * k, 0], [k, m])))
    return tf.reshape(tf.concat(parts, 0), [G, n, m]) as tf.Tensor3D
  })

const slicedBatchMatmulWithGrad = (a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D => {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc]
    save([x, y])
    return {
      value: slicedBatchMatmul(x, y),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor3D, tf.Tensor3D]
        const d = dy as tf.Tensor3D
        return [slicedBatchMatmul(d, transposeLast(ys)), slicedBatchMatmul(transposeLast(xs), d)]
      },
    }
  })
  return f(a, b) as tf.Tensor3D
}

interface Cached {
  readonly dataId: tf.DataId
  readonly transposed: tf.Tensor2D
}

const transposedCache = new Map<tf.Variable, Cached>()

const cachedTranspose = (v: tf.Variable): tf.Tensor2D => {
  const hit = transposedCache.get(v)
  if (hit !== undefined && hit.dataId === v.dataId && !hit.transposed.isDisposed) return hit.transposed
  invalidateTransposed(v)
  sweepDisposed()
  // Built outside any tidy or gradient tape: it outlives the step that first needs it.
  const transposed = tf.transpose(v as tf.Tensor2D)
  tf.keep(transposed)
  transposedCache.set(v, { dataId: v.dataId, transposed })
  return transposed
}

/** Frees the cached Wᵀ of `v` (after assigning to a frozen weight, or before disposing it). */
export const invalidateTransposed = (v: tf.Variable): void => {
  transposedCache.get(v)?.transposed.dispose()
  transposedCache.delete(v)
}

/** Drops entries of variables disposed without `invalidateTransposed` (no leak across stages). */
const sweepDisposed = (): void => {
  for (const [v, c] of transposedCache) {
    if (v.isDisposed) {
      c.transposed.dispose()
      transposedCache.delete(v)
    }
  }
}

/** Number of cached transposes (tests count tensors). */
export const cachedTransposeCount = (): number => transposedCache.size

/**
 * Σ_i w_i · (−log softmax(logits_i)[target_i]) with a hand-written gradient
 * (softmax − onehot)·w: one exp over the (N, V) logits instead of autodiff's three passes.
 * logits (N, V), onehot (N, V) of the targets, w (N,). Only logits get a gradient.
 */
export const weightedSoftmaxCrossEntropy = (logits: tf.Tensor2D, onehot: tf.Tensor2D, w: tf.Tensor1D): tf.Scalar => {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc]
    const max = tf.max(x, -1, true) // (N, 1)
    const e = tf.exp(tf.sub(x, max))
    const sum = tf.sum(e, -1, true)
    const lse = tf.add(tf.log(sum), max) // (N, 1)
    const nll = tf.sub(tf.reshape(lse, [-1]), tf.sum(tf.mul(x, onehot), -1)) // (N,)
    // onehot and w are saved too: the caller's tidy may dispose them before the backward pass.
    save([tf.div(e, sum), onehot, w])
    return {
      value: tf.sum(tf.mul(nll, w)) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [probs, oh, ws] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D]
        return tf.mul(tf.sub(probs, oh), tf.mul(tf.reshape(ws, [-1, 1]), dy))
      },
    }
  })
  return f(logits) as tf.Scalar
}

const GELU_C = Math.sqrt(2 / Math.PI)

/** GELU, tanh approximation (GPT-2's "gelu_new"); x*x*x because pow is slow on wasm. */
export const gelu = (x: tf.Tensor): tf.Tensor => (path === "blas" ? nativeGelu(x) : matmulFastPath() ? geluWithGrad(x) : geluAutodiff(x))

const geluAutodiff = (x: tf.Tensor): tf.Tensor =>
  tf.tidy(() => {
    const inner = tf.mul(GELU_C, tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))))
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)))
  })

/**
 * The same GELU with its derivative written out (fewer kernels than autodiff, which also
 * clones every intermediate it saves):
 *   y' = ½(1 + t) + ½·x·(1 − t²)·c·(1 + 3·0.044715·x²),  t = tanh(c·(x + 0.044715·x³)).
 */
export const geluWithGrad = (x: tf.Tensor): tf.Tensor => {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc]
    const x2 = tf.mul(xi, xi)
    const t = tf.tanh(tf.mul(tf.mul(xi, tf.add(1, tf.mul(0.044715, x2))), GELU_C))
    save([xi, t])
    return {
      value: tf.mul(tf.mul(xi, 0.5), tf.add(t, 1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ts] = saved as [tf.Tensor, tf.Tensor]
        const du = tf.mul(tf.add(tf.mul(tf.mul(xs, xs), 3 * 0.044715 * GELU_C), GELU_C), tf.sub(1, tf.mul(ts, ts)))
        return tf.mul(dy, tf.mul(tf.add(tf.add(ts, 1), tf.mul(xs, du)), 0.5))
      },
    }
  })
  return f(x)
}

/** LayerNorm over the last axis. */
export const layerNorm = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor =>
  path === "blas" && x.rank === 2
    ? nativeLayerNorm(x as tf.Tensor2D, gamma, beta, eps)
    : matmulFastPath() && x.rank === 2
      ? layerNormWithGrad(x as tf.Tensor2D, gamma, beta, eps)
      : layerNormAutodiff(x, gamma, beta, eps)

const layerNormAutodiff = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor =>
  tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true)
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta)
  })

/**
 * LayerNorm of x (N, C) with the textbook gradient, x̂ = (x − μ)·r, r = 1/√(σ² + ε):
 *   dx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  g = dy ⊙ γ;   dγ = 1ᵀ(dy ⊙ x̂),  dβ = 1ᵀ dy
 * (row sums as matmuls with a ones row: fast on wasm, where Sum over axis 0 transposes).
 */
export const layerNormWithGrad = (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D => {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, g, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc]
    const centered = tf.sub(xi, tf.mean(xi, -1, true))
    const r = tf.rsqrt(tf.add(tf.mean(tf.mul(centered, centered), -1, true), eps)) // (N, 1)
    const xhat = tf.mul(centered, r)
    save([xhat, r, g])
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D]
        const d = dy as tf.Tensor2D
        const gx = tf.mul(d, gs)
        const dx = tf.mul(rs, tf.sub(tf.sub(gx, tf.mean(gx, -1, true)), tf.mul(xh, tf.mean(tf.mul(gx, xh), -1, true))))
        const ones = tf.ones([1, d.shape[0]]) as tf.Tensor2D
        const C = d.shape[1]
        return [dx, tf.reshape(tf.matMul(ones, tf.mul(d, xh) as tf.Tensor2D), [C]), tf.reshape(tf.matMul(ones, d), [C])]
      },
    }
  })
  return f(x, gamma, beta) as tf.Tensor2D
}
