/**
 * The largest published Llama-family shape each backend can fine-tune here, per the plan-time
 * estimate (src/model/arch/memory.ts): batch 4 × 256 tokens, LoRA r 8 on all seven projections
 * and full fine-tuning, on SpamAssassin (9 head rows per example) and on a JSONL task (every
 * position may be a completion token). Limits as `peftlab status` applies them (src/pipeline/memory.ts).
 *   npx tsx bench/memory-largest.ts [batch=4]
 */
import type { LlamaConfig } from "../src/model/arch/config.ts"
import { parameterCount, PROJ_NAMES } from "../src/model/arch/config.ts"
import { memoryNeed } from "../src/model/arch/memory.ts"
import { trainMemoryInput } from "../src/adapters/specs/footprint.ts"
import { checkNeed, machineLimit } from "../src/pipeline/memory.ts"

const shape = (name: string, nLayer: number, nEmbd: number, nHead: number, nKvHead: number, intermediateSize: number, vocabSize: number, tieWeights: boolean) => ({
  name,
  config: {
    arch: "llama", family: "llama", vocabSize, blockSize: 256, maxPositionEmbeddings: 2048, nLayer, nHead, nKvHead, headDim: nEmbd / nHead, nEmbd, intermediateSize, tieWeights,
    rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: "default" }, qkvBias: false, oBias: false, mlpBias: false, slidingWindow: null,
  } satisfies LlamaConfig,
})
const SHAPES = [
  shape("SmolLM2-135M", 30, 576, 9, 3, 1536, 49152, true),
  shape("SmolLM2-360M", 32, 960, 15, 5, 2560, 49152, true),
  shape("Qwen2.5-0.5B", 24, 896, 14, 2, 4864, 151936, true),
  shape("Llama-3.2-1B", 16, 2048, 32, 8, 8192, 128256, true),
  shape("Qwen2.5-1.5B", 28, 1536, 12, 2, 8960, 151936, true),
  shape("SmolLM2-1.7B", 24, 2048, 32, 32, 8192, 49152, true),
  shape("Llama-3.2-3B", 28, 3072, 24, 8, 8192, 128256, true),
  shape("Llama-3.1-8B", 32, 4096, 32, 8, 14336, 128256, false),
]
const machine = machineLimit()
const B = Number(process.argv[2] ?? 4)
const T = 256
const gib = (b: number) => (b / 2 ** 30).toFixed(1)
console.log(`machine limit ${gib(machine)} GiB; batch ${B} × ${T}; cells: wasm heap GiB (wasm, native), RSS GiB (cpu); ✗ = refused`)
console.log("| model | params | method | data | wasm | native | cpu |")
console.log("|---|---|---|---|---|---|---|")
for (const s of SHAPES)
  for (const method of ["lora", "full"])
    for (const data of ["spam-assassin", "jsonl"]) {
      const headRows = data === "jsonl" ? B * T : B * 9
      const need = memoryNeed(trainMemoryInput({ config: s.config, batch: B, seq: T, headRows, method, rank: 8, targets: [...PROJ_NAMES] }), method)
      const w = checkNeed(need, "wasm", machine)
      const n = checkNeed(need, "native", machine)
      const c = checkNeed(need, "cpu", machine)
      const mark = (ok: boolean) => (ok ? "✓" : "✗")
      console.log(`| ${s.name} | ${(parameterCount(s.config) / 1e6).toFixed(0)}M | ${method} | ${data} | ${gib(need.heapBytes)} ${mark(w.fits)} | ${gib(need.nativeHeapBytes)} ${mark(n.fits)} | ${gib(need.cpuRssBytes)} ${mark(c.fits)} |`)
    }
