/**
 * Evaluation throughput: scoring two labels (" spam", " ham") per held-out e-mail as separate
 * sequences (one forward each) versus packed into one row (src/adapters/evaluate.ts), on the
 * default ablation's model shape (2 layers, C = 128, T = 128, BPE 1024 trained on SOTU, random
 * weights — speed does not depend on them). Reports medians over repeats and the ratio, and
 * checks that both give the same log-probabilities.
 *   npx tsx bench/eval.ts [backend=wasm] [examples=400] [repeats=3]
 */
import { countWords, trainBpe } from "../src/model/data/bpe-train.ts"
import { initBackend } from "../src/model/kernels/backend.ts"
import { initGPT, defaultConfig } from "../src/model/arch/model.ts"
import { Tokenizer } from "../src/model/data/tokenizer.ts"
import { loadTask } from "../src/model/data/datasets/task.ts"
import { sotuDocuments } from "../src/model/data/datasets/pretrain-text.ts"
import { encodeExample } from "../src/model/data/completion-batches.ts"
import { scorePacked, scoreSequences } from "../src/adapters/evaluate.ts"
import { packCompletions } from "../src/model/data/packing.ts"
import type { BackendName } from "../src/contracts/stage.ts"

const [backend = "wasm", nArg = "400", repArg = "3"] = process.argv.slice(2)
await initBackend(backend as BackendName)
const counts = new Map<string, number>()
for (const d of (await sotuDocuments()).slice(-40)) countWords(d.text, counts)
const tok = new Tokenizer(trainBpe(counts, 1024))
const model = initGPT({ ...defaultConfig, vocabSize: 1024, blockSize: 128, nEmbd: 128 }, 1)
const task = await loadTask("spam-assassin", { splitSeed: 0, valFraction: 0.1, testFraction: 0.2, bodyChars: 200 })
const examples = task.test.slice(0, Number(nArg))
const labels = task.labels
const T = 128
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const time = <A>(f: () => A): [A, number] => {
  const t0 = performance.now()
  const a = f()
  return [a, (performance.now() - t0) / 1000]
}
const sep: number[] = []
const packed: number[] = []
let maxDiff = 0
for (let r = 0; r < Number(repArg); r++) {
  const [s, ts] = time(() => scoreSequences(model, undefined, examples.flatMap((e) => labels.map((l) => encodeExample(tok, { prompt: e.prompt, completion: l }, T))), 32))
  const [p, tp] = time(() => scorePacked(model, undefined, examples.map((e) => packCompletions(tok.encode(e.prompt), labels.map((l) => tok.encode(l)), T)!), 32))
  sep.push(ts)
  packed.push(tp)
  p.flat().forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (s[i]?.logp ?? NaN)))))
}
console.log(`backend ${backend}, ${examples.length} e-mails × ${labels.length} labels (${labels.map((l) => tok.encode(l).length).join(", ")} tokens), ${repArg} repeats`)
console.log(`| scoring | median s | e-mails/s |\n|:--|--:|--:|`)
console.log(`| separate sequences | ${median(sep).toFixed(2)} | ${(examples.length / median(sep)).toFixed(0)} |`)
console.log(`| packed rows | ${median(packed).toFixed(2)} | ${(examples.length / median(packed)).toFixed(0)} |`)
console.log(`speed-up ${(median(sep) / median(packed)).toFixed(2)}×; max |Δ log p| ${maxDiff.toExponential(2)}`)
