/**
 * Where a pretraining step's time goes: tfjs kernel times (tf.profile) for one forward +
 * backward of the default architecture, grouped by kernel (matmuls by shape).
 *   npx tsx bench/train-profile.ts [wasm|cpu] [fast|plain]
 */
import * as tf from "@tensorflow/tfjs"
import { initBackend } from "../src/model/kernels/backend.ts"
import { forward, initGPT, maskedCrossEntropy } from "../src/model/arch/model.ts"
import { setMatmulPath } from "../src/model/kernels/ops.ts"

const [backend = "wasm", variant = "fast"] = process.argv.slice(2)
await initBackend(backend as "native" | "wasm" | "cpu")
if (variant === "plain") setMatmulPath("tfjs")
const { BENCH_BATCH, BENCH_CONFIG } = { BENCH_BATCH: 16, BENCH_CONFIG: { vocabSize: 1024, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 128, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 } }
const model = initGPT(BENCH_CONFIG, 0)
const vars = [...model.params.values()]
const idx = tf.randomUniform([BENCH_BATCH, 64], 0, 1024, "int32", 1) as tf.Tensor2D
const tgt = tf.randomUniform([BENCH_BATCH, 64], 0, 1024, "int32", 2) as tf.Tensor2D
const step = () => tf.tidy(() => tf.variableGrads(() => maskedCrossEntropy(forward(model, idx), tgt), vars).value.dataSync())
for (let i = 0; i < 3; i++) step()
const t0 = performance.now()
for (let i = 0; i < 5; i++) step()
const stepMs = (performance.now() - t0) / 5
const prof = await tf.profile(() => void step())
const by = new Map<string, { ms: number; n: number }>()
for (const k of prof.kernels) {
  if (k.name === "forward") continue // customGrad wrappers: their kernels are listed themselves
  const ms = (await k.kernelTimeMs) as number
  const key = k.name.includes("MatMul") || process.env.SHAPES === "1" ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join("·")}` : k.name
  const e = by.get(key) ?? { ms: 0, n: 0 }
  by.set(key, { ms: e.ms + ms, n: e.n + 1 })
}
const total = [...by.values()].reduce((a, b) => a + b.ms, 0)
console.log(`forward+backward ${stepMs.toFixed(1)} ms/step (${backend}, ${variant}); kernel time ${total.toFixed(1)} ms`)
for (const [k, v] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 18))) console.log(`${v.ms.toFixed(1).padStart(7)} ms ${((100 * v.ms) / total).toFixed(0).padStart(3)}% ${String(v.n).padStart(4)}× ${k}`)
