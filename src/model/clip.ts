/**
 * Gradient clipping by global norm (PyTorch `clip_grad_norm_`): with N = √Σ‖g‖², every
 * gradient is scaled by maxNorm / (N + 1e-6) when that factor is below 1.
 */
import * as tf from "@tensorflow/tfjs"

/**
 * Consumes `grads`: the returned map owns its tensors — the same ones when no clipping was
 * needed, scaled copies otherwise (the originals are disposed). `norm` is the pre-clip norm.
 * maxNorm ≤ 0 or Infinity turns clipping off (the norm is still measured).
 */
export const clipByGlobalNorm = (
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } => {
  if (grads.size === 0) return { grads, norm: 0 }
  const sq = tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))))
  const norm = Math.sqrt(sq.dataSync()[0] ?? 0)
  sq.dispose()
  const coef = maxNorm / (norm + 1e-6)
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm) || coef >= 1) return { grads, norm }
  const out = new Map<string, tf.Tensor>()
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, coef))
    g.dispose()
  }
  return { grads: out, norm }
}
