/**
 * One pretraining throughput measurement in a fresh process: the default build-model
 * architecture on random tokens, AdamW + clipping, as the build-model stage runs it.
 * Prints one JSON line: { tokens_per_s, step_ms, peak_rss_mb, backend, threads, fast, blas }, where
 * blas is the native addon's BLAS and kernels ("openblas Haswell", "own avx512"; PEFTLAB_NATIVE_ADDON
 * picks the addon, e.g. native/build/Release/peftlab_gemm.node for the own GEMM).
 *   npx tsx bench/train-worker.ts <native|wasm|cpu> <fast|plain> [steps=20] [warmup=3] [blas threads=1]
 */
import { readFileSync } from "node:fs"
import * as tf from "@tensorflow/tfjs"
import { AdamW } from "../src/model/adamw.ts"
import { initBackend } from "../src/model/kernels/backend.ts"
import { clipByGlobalNorm } from "../src/model/clip.ts"
import { defaultConfig, forward, initGPT, maskedCrossEntropy } from "../src/model/arch/model.ts"
import { loadNative } from "../src/model/kernels/native.ts"
import { setMatmulPath } from "../src/model/kernels/ops.ts"
import { paramGroups } from "../src/model/pretrain.ts"

export const BENCH_CONFIG = { ...defaultConfig, vocabSize: 1024, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 128, tieWeights: true }
export const BENCH_BATCH = 16

const [backend = "wasm", variant = "fast", stepsArg = "20", warmupArg = "3", threadsArg = "1"] = process.argv.slice(2)
await initBackend(backend as "native" | "wasm" | "cpu", Number(threadsArg))
if (variant === "plain") setMatmulPath("tfjs")
const model = initGPT(BENCH_CONFIG, 0)
const vars = [...model.params.values()]
const opt = new AdamW(paramGroups(model, 0.1))
const T = BENCH_CONFIG.blockSize
const step = (i: number) => {
  const ids = tf.randomUniform([BENCH_BATCH, T + 1], 0, BENCH_CONFIG.vocabSize, "int32", i) as tf.Tensor2D
  const idx = tf.slice(ids, [0, 0], [BENCH_BATCH, T]) as tf.Tensor2D
  const tgt = tf.slice(ids, [0, 1], [BENCH_BATCH, T]) as tf.Tensor2D
  const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt), vars)
  value.dataSync()
  const c = clipByGlobalNorm(new Map(Object.entries(grads)), 1)
  opt.step(c.grads, 1e-3)
  tf.dispose([ids, idx, tgt, value, ...c.grads.values()])
}
for (let i = 0; i < Number(warmupArg); i++) step(i)
const n = Number(stepsArg)
const t0 = performance.now()
for (let i = 0; i < n; i++) step(100 + i)
const s = (performance.now() - t0) / 1000
const native = backend === "native" ? loadNative() : undefined
const blas = native?.ok ? `${native.blas} ${native.core}` : null
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]
console.log(JSON.stringify({ tokens_per_s: (n * BENCH_BATCH * T) / s, step_ms: (s * 1000) / n, peak_rss_mb: Number(hwm ?? 0) / 1024, backend, threads: Number(threadsArg), fast: variant === "fast", blas }))
