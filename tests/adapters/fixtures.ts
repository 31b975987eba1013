/** A tiny model, a deterministic batch and per-method settings shared by the adapter tests. */
import * as tf from "@tensorflow/tfjs"
import { Adapter } from "../../src/adapters/adapter.ts"
import { getMethod } from "../../src/adapters/index.ts"
import type { AdapterSettings, Method } from "../../src/adapters/method.ts"
import { resolveSettings, type SettingsRequest } from "../../src/adapters/settings.ts"
import type { Batch } from "../../src/adapters/trainer.ts"
import { initGPT, type GPT, type GPTConfig } from "../../src/model/arch/model.ts"

export type TestBackend = "cpu" | "wasm" | "native"

/**
 * The backend of the adapter tests: cpu by default, or PEFTLAB_TEST_BACKEND; the oracle matrix
 * names its backend itself and runs on all three (oracles.<backend>.test.ts).
 */
export const setupBackend = async (backend?: TestBackend): Promise<void> => {
  const { initBackend } = await import("../../src/model/kernels/backend.ts")
  const env = process.env.PEFTLAB_TEST_BACKEND
  await initBackend(backend ?? (env === "wasm" || env === "native" ? env : "cpu"))
}

export const tinyConfig: GPTConfig = {
  vocabSize: 32,
  blockSize: 8,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  mlpRatio: 4,
  tieWeights: true,
  layerNormEps: 1e-5,
}

/** q, v (16→16) and the MLP (16→64, 64→16): VeRA's slices get exercised. */
export const TARGETS = ["q", "v", "mlp_up", "mlp_down"] as const

/** Small ranks so the tests stay fast; Delta-LoRA's K = 1 so W moves from step 2 on. */
export const request = (name: string, extra: SettingsRequest = {}): SettingsRequest => ({
  rank: name === "vera" ? 8 : 4,
  alpha: 8,
  targets: [...TARGETS],
  seed: 3,
  ...extra,
  options: { delta_k: 1, ...extra.options },
})

export const settingsFor = (name: string, extra: SettingsRequest = {}): AdapterSettings =>
  resolveSettings(getMethod(name), request(name, extra))

export const makeModel = (seed = 1): GPT => initGPT(tinyConfig, seed)

/** initGPT names its variables; a second model in the same process needs fresh names. */
export const cloneModel = (model: GPT): GPT => ({
  config: model.config,
  params: new Map([...model.params].map(([k, v]) => [k, tf.variable(v, false)])),
})

/** With the model: DoRA, PiSSA and OLoRA read W at init. */
export const makeAdapter = (method: Method, model: GPT, extra: SettingsRequest = {}): Adapter =>
  Adapter.create(method, model.config, settingsFor(method.name, extra), { model })

/** A fixed batch: random tokens, loss on the last 3 positions (the "completion"). */
export const makeBatch = (seed: number, B = 3, T = 8): Batch => {
  const idx = tf.randomUniform([B, T + 1], 0, tinyConfig.vocabSize, "int32", seed) as tf.Tensor2D
  const mask = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T >= T - 3 ? 1 : 0)), [B, T])
  return {
    idx: tf.slice(idx, [0, 0], [B, T]) as tf.Tensor2D,
    targets: tf.slice(idx, [0, 1], [B, T]) as tf.Tensor2D,
    mask,
  }
}

export const disposeBatch = (b: Batch): void => [b.idx, b.targets, b.mask].forEach((t) => t.dispose())

/** Every trainable adapter tensor set to N(0, 0.1): a trained-looking adapter without training. */
export const perturb = (a: Adapter, seed: number): void =>
  a.byRole("trainable").forEach((t, i) => t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.1, "float32", seed + i)))

export const values = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array

export const maxAbs = (t: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0] ?? NaN)

export const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => maxAbs(tf.sub(a, b)))

/** Copies of every tensor by name (to compare bit-exactly after training). */
export const snapshot = (named: Iterable<[string, tf.Tensor]>): Map<string, Float32Array> =>
  new Map([...named].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]))
