/**
 * Learning for real: tokenize SOTU and pretrain the default build-model config (or overrides)
 * on one core with the wasm backend; prints the loss curve, the unigram baseline and the time.
 *   npx tsx bench/train-pretrain.ts [key=value ...]    e.g. steps=300 n_embd=96
 */
import tokenizeStage from "../stages/tokenize/index.ts"
import buildModelStage from "../stages/build-model/index.ts"
import { artifact, runStage } from "../tests/stages/harness.ts"

const overrides = Object.fromEntries(process.argv.slice(2).map((kv) => kv.split("=")).map(([k, v]) => [k, Number.isNaN(Number(v)) ? v : Number(v)]))
const tokParams = Object.fromEntries(Object.entries(overrides).filter(([k]) => k === "vocab_size"))
const modelParams = Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== "vocab_size"))
const backend = (process.env.BACKEND ?? "wasm") as "wasm" | "cpu"

let t0 = performance.now()
const tok = await runStage(tokenizeStage, { params: tokParams })
const tokS = (performance.now() - t0) / 1000
console.log(`tokenize ${tokS.toFixed(1)} s`, JSON.stringify(tok.output.summary))
t0 = performance.now()
const built = await runStage(buildModelStage, { params: modelParams, inputs: { tokens: artifact("tokenize", tok.outDir) }, backend })
const buildS = (performance.now() - t0) / 1000
const val = built.recorded.metrics.filter((m) => m.name === "val_loss")
const loss = built.recorded.metrics.filter((m) => m.name === "loss")
console.log(`build-model ${buildS.toFixed(1)} s on ${backend}`)
console.log("val curve:", val.map((m) => `${m.step}:${m.value.toFixed(3)}`).join("  "))
console.log("train loss:", loss.filter((_, i) => i % 20 === 0).map((m) => `${m.step}:${m.value.toFixed(2)}`).join(" "))
console.log(JSON.stringify(built.output.summary))
