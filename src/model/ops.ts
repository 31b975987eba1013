/**
 * Tensor ops shared by the model and the adapters. Every 2-D matmul of the model and of the
 * adapters goes through `matmul`, so the backend-specific fast path lives in one place.
 *
 * (Plain version; the wasm fast path — customGrad with explicit transposes, cached Wᵀ for
 * frozen weights — is DESIGN.md's "matmul fix".)
 */
import * as tf from "@tensorflow/tfjs"

/** (n, k) · (k, m) → (n, m). */
export const matmul = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b)

/** GELU, tanh approximation (GPT-2's "gelu_new"); x*x*x because pow is slow on wasm. */
export const gelu = (x: tf.Tensor): tf.Tensor =>
  tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))))
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)))
  })

/** LayerNorm over the last axis. */
export const layerNorm = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor =>
  tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true)
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta)
  })
