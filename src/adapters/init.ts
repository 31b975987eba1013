/** Seeded initializers shared by the methods. */
import * as tf from "@tensorflow/tfjs"

/** A stable per-tensor seed from the adapter seed and the tensor's name (FNV-1a). */
export const tensorSeed = (seed: number, name: string): number => {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** U(−bound, +bound). */
export const uniform = (shape: number[], bound: number, seed: number): tf.Tensor =>
  tf.randomUniform(shape, -bound, bound, "float32", seed)
