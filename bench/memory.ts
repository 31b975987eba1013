/**
 * What the compare report's "peak tensors (MiB)" column measures, at the default ablation's
 * shapes, for each method: the real attach-adapter and train stages (in-process, one training
 * step each is enough — every step has the same shapes) on a base of the ablation's size
 * (2 layers, 128 wide, 4 heads, block 128, vocab 1024; random weights: memory does not depend
 * on their values), all six projections, batch 8, SpamAssassin with 200 body characters.
 *   npx tsx bench/memory.ts [wasm|native|cpu]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import attachStage from "../stages/attach-adapter/index.ts"
import trainStage from "../stages/train/index.ts"
import { initBackend } from "../src/model/kernels/backend.ts"
import { countWords, trainBpe } from "../src/model/data/bpe-train.ts"
import { sotuDocuments } from "../src/model/data/datasets/pretrain-text.ts"
import { disposeGPT, initGPT } from "../src/model/arch/model.ts"
import { saveModel } from "../src/model/safetensors.ts"
import { Tokenizer } from "../src/model/data/tokenizer.ts"
import { artifact, runStage, tempRoot } from "../tests/stages/harness.ts"

const backend = (process.argv[2] ?? "wasm") as "wasm" | "native" | "cpu"
await initBackend(backend)
const root = tempRoot()
const modelDir = join(root, "base")
mkdirSync(modelDir, { recursive: true })
const text = (await sotuDocuments()).map((d) => d.text).join("\n").slice(0, 300_000)
const tok = trainBpe(countWords(text), 1024)
writeFileSync(join(modelDir, "tokenizer.json"), JSON.stringify(tok))
const model = initGPT({ vocabSize: new Tokenizer(tok).vocabSize, blockSize: 128, nLayer: 2, nHead: 4, nEmbd: 128, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }, 0)
saveModel(modelDir, model)
disposeGPT(model)
const base = artifact("build-model", modelDir)
const MIB = 1024 * 1024
console.log(`backend ${backend}; method, trainable params, peak tensors (MiB)`)
for (const method of ["lora", "lora-fa", "vera", "delta-lora", "lora-plus"]) {
  const a = await runStage(attachStage, { root, name: `${method}.attach`, backend, params: { method, seed: 1, targets: ["q", "k", "v", "o", "mlp_up", "mlp_down"] }, inputs: { model: base } })
  const t = await runStage(trainStage, {
    root, name: `${method}.train`, backend,
    params: { data: "spam-assassin", body_chars: 200, split_seed: 0, steps: 2, batch_size: 8, warmup: 1, seed: 1, checkpoint_every: 0 },
    inputs: { model: base, adapter: artifact("attach-adapter", a.outDir, a.output.summary) },
  })
  console.log(`${method.padEnd(10)} ${String(a.output.summary.trainable_params).padStart(7)} ${(Number(t.output.summary.peak_tensor_bytes) / MIB).toFixed(1).padStart(7)}`)
}
