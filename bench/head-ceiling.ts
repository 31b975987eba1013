/**
 * How confident can a model with a FROZEN output head be? PEFT freezes the head (here the tied
 * token embedding after the final LayerNorm), so for each token there is a lowest
 * cross-entropy that ANY final hidden state can reach. This finds it by optimizing a free
 * hidden state per token (Adam on z, through the real ln_f and head), and prints it for the
 * tokens of the given completions — a floor that no adapter on the projections can go under.
 *   npx tsx bench/head-ceiling.ts <model-dir> [completion ...]   (default: " spam" " ham")
 * <model-dir> is a build-model artifact: runs/store/<xx>/<fingerprint> (model.safetensors, tokenizer.json).
 */
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { initBackend } from "../src/model/kernels/backend.ts"
import { loadModel } from "../src/model/safetensors.ts"
import { loadTokenizer } from "../src/model/data/tokenizer.ts"
import { isLlama, outputLogits, param } from "../src/model/arch/model.ts"
import { layerNorm } from "../src/model/kernels/ops.ts"

const [dir, ...rest] = process.argv.slice(2)
if (dir === undefined) throw new Error("usage: head-ceiling.ts <model-dir> [completion ...]")
const completions = rest.length > 0 ? rest : [" spam", " ham"]
await initBackend("wasm")
const model = loadModel(dir)
model.params.forEach((v) => (v.trainable = false))
const tok = loadTokenizer(join(dir, "tokenizer.json"))
const cfg = model.config
if (isLlama(cfg)) throw new Error("head-ceiling.ts studies a GPT-2 block's LayerNorm head; this model is of the Llama family")
const { vocabSize: V, nEmbd: C, layerNormEps: eps } = cfg
// One free pre-LayerNorm state per vocabulary entry, all optimized at once: (V, C).
const z = tf.variable(tf.randomNormal([V, C], 0, 1, "float32", 3))
const onehot = tf.oneHot(tf.range(0, V, 1, "int32"), V)
const ce = () =>
  tf.tidy(() => {
    const h = layerNorm(z, param(model, "ln_f.gamma") as tf.Tensor1D, param(model, "ln_f.beta") as tf.Tensor1D, eps) as tf.Tensor2D
    return tf.neg(tf.sum(tf.mul(tf.logSoftmax(outputLogits(model, h)), onehot), -1)) // (V,)
  })
const opt = tf.train.adam(0.05)
for (let i = 0; i < 400; i++) opt.minimize(() => tf.sum(ce()) as tf.Scalar, false, [z])
const floor = ce().dataSync()
const sorted = [...floor].sort((a, b) => a - b)
const q = (p: number) => (sorted[Math.min(V - 1, Math.floor(p * V))] ?? NaN).toFixed(2)
console.log(`lowest reachable cross-entropy per token with the head frozen (nats): min ${q(0)}, median ${q(0.5)}, max ${q(0.999)}`)
for (const c of completions) console.log(`${JSON.stringify(c)}: ${tok.encode(c).map((i) => `${JSON.stringify(tok.decode([i]))} ${floor[i]?.toFixed(3)}`).join(", ")}`)
