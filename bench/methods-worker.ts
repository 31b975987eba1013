/**
 * One method, one process (clean RSS): builds the default model, attaches the method with its
 * defaults, and times training steps. Prints one JSON line.
 *   npx tsx bench/methods-worker.ts <method> <backend> [targets=q,v] [batch=16] [steps=20]
 */
import * as tf from "@tensorflow/tfjs"
import { Adapter } from "../src/adapters/adapter.ts"
import { getMethod } from "../src/adapters/index.ts"
import { resolveSettings } from "../src/adapters/settings.ts"
import { Trainer } from "../src/adapters/trainer.ts"
import { defaultConfig, initGPT } from "../src/model/arch/model.ts"

const [name = "lora", backend = "cpu", targetsArg = "q,v", batchArg = "16", stepsArg = "20"] = process.argv.slice(2)

const setBackend = async (b: string): Promise<string> => {
  try {
    const mod = (await import("../src/model/kernels/backend.ts" as string)) as { initBackend?: (n: string) => Promise<unknown> | unknown }
    if (mod.initBackend !== undefined) {
      await mod.initBackend(b)
      return tf.getBackend()
    }
  } catch {
    // backend.ts not there yet: plain tfjs backends.
  }
  if (b === "wasm") await import("@tensorflow/tfjs-backend-wasm")
  await tf.setBackend(b)
  await tf.ready()
  return tf.getBackend()
}

const main = async () => {
  const used = await setBackend(backend)
  const cfg = defaultConfig
  const model = initGPT(cfg, 1)
  const method = getMethod(name)
  const adapter = Adapter.create(method, cfg, resolveSettings(method, { targets: targetsArg.split(","), seed: 0 }))
  const trainer = new Trainer(model, adapter, { weightDecay: 0.01, gradClip: 1, seed: 0 })
  const B = Number(batchArg)
  const T = cfg.blockSize
  const ids = tf.randomUniform([B, T + 1], 0, cfg.vocabSize, "int32", 5) as tf.Tensor2D
  const batch = { idx: tf.slice(ids, [0, 0], [B, T]) as tf.Tensor2D, targets: tf.slice(ids, [0, 1], [B, T]) as tf.Tensor2D, mask: tf.ones([B, T]) as tf.Tensor2D }
  for (let s = 0; s < 3; s++) trainer.step(batch, 1e-3, s) // warm-up: kernels, caches, optimizer state
  const profile = await tf.profile(() => {
    trainer.step(batch, 1e-3, 3)
  })
  const times: number[] = []
  for (let s = 4; s < 4 + Number(stepsArg); s++) {
    const t0 = performance.now()
    trainer.step(batch, 1e-3, s)
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)] ?? NaN
  const c = method.counts(adapter.targets, adapter.settings)
  console.log(JSON.stringify({
    method: name,
    backend: backend === "native" ? "native" : used, // tfjs calls native "wasm" (it is wasm plus OpenBLAS)
    targets: targetsArg,
    batch: B,
    tokens_per_step: B * T,
    median_step_ms: median,
    tokens_per_s: (B * T) / (median / 1000),
    step_peak_tensor_bytes: profile.peakBytes, // tfjs's own peak of live tensor bytes during one step
    step_new_bytes: profile.newBytes,
    live_tensor_bytes: tf.memory().numBytes,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    trainable_params: c.trainable,
  }))
}

void main()
