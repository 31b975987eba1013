/**
 * The plan-time memory estimate (src/model/arch/memory.ts) against real training steps: for each
 * case, a fresh process loads a random-weight base from disk (as the train stage does), attaches
 * LoRA r = 8 on every projection or trains every weight, and runs 3 steps of the real train loop
 * (trainAdapter, a checkpoint after steps 1 and 2) on a batch whose every position is a completion
 * token (K = B·T: the head's worst case). Measured: tf.profile's peak tensor bytes (step 0, as the
 * train stage reports it), the wasm heap's size at the end (it never shrinks: its high-water
 * mark) and the process's peak RSS (getrusage maxrss).
 * Also printed: the heap and RSS of a worker before its first tensor (what HEAP_BASE and
 * PROCESS_BASE stand for).
 *   npx tsx bench/memory-estimate.ts [backends=wasm,native] [cases=0,1,2 (indices of CASES)] [methods=lora,full]
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ModelConfig, ProjName } from "../src/model/arch/config.ts"
import { projectionsOf } from "../src/model/arch/config.ts"
import { estimateTrainMemory } from "../src/model/arch/memory.ts"
import { trainMemoryInput } from "../src/adapters/specs/footprint.ts"

interface Case {
  readonly name: string
  readonly config: ModelConfig
  readonly batch: number
  readonly seq: number
}

const llama = (nLayer: number, nEmbd: number, nHead: number, nKvHead: number, intermediateSize: number, vocabSize: number, tieWeights: boolean): ModelConfig => ({
  arch: "llama", family: "llama", vocabSize, blockSize: 512, maxPositionEmbeddings: 2048, nLayer, nHead, nKvHead, headDim: nEmbd / nHead, nEmbd, intermediateSize, tieWeights,
  rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: "default" }, qkvBias: false, oBias: false, mlpBias: false, slidingWindow: null,
})

export const CASES: ReadonlyArray<Case> = [
  { name: "gpt2 2×128 V1024", config: { vocabSize: 1024, blockSize: 128, nLayer: 2, nHead: 4, nEmbd: 128, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }, batch: 8, seq: 128 },
  { name: "llama 4×256 V8192", config: llama(4, 256, 4, 2, 688, 8192, true), batch: 4, seq: 256 },
  { name: "llama 8×512 V16384", config: llama(8, 512, 8, 4, 1376, 16384, false), batch: 4, seq: 128 },
  // SmolLM2-135M's published shape (30 layers, 576 wide, 9 / 3 heads, SwiGLU 1536, V 49152, tied).
  { name: "SmolLM2-135M shape", config: llama(30, 576, 9, 3, 1536, 49152, true), batch: 1, seq: 256 },
]
const METHODS = ["lora", "full"]
const MIB = 2 ** 20

const child = async (dir: string, backend: "wasm" | "native" | "cpu", method: string, batch: number, seq: number): Promise<void> => {
  const tf = await import("@tensorflow/tfjs")
  const { initBackend } = await import("../src/model/kernels/backend.ts")
  const { loadModel } = await import("../src/model/safetensors.ts")
  const { Adapter } = await import("../src/adapters/adapter.ts")
  const { getMethod } = await import("../src/adapters/index.ts")
  const { resolveSettings } = await import("../src/adapters/settings.ts")
  const { trainAdapter } = await import("../src/adapters/train-loop.ts")
  await initBackend(backend, 1)
  const heap = (): number => (backend === "cpu" ? 0 : (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength)
  const heap0 = heap()
  const rss0 = process.memoryUsage().rss
  const model = loadModel(dir)
  const m = getMethod(method)
  const adapter = Adapter.create(m, model.config, resolveSettings(m, { rank: 8, targets: projectionsOf(model.config), seed: 0 }), { model })
  const V = model.config.vocabSize
  const batchAt = () => {
    const n = batch * seq
    const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % V)
    return { idx: tf.tensor2d(ids, [batch, seq], "int32"), targets: tf.tensor2d(ids.map((x) => (x + 1) % V), [batch, seq], "int32"), mask: tf.tensor2d(new Float32Array(n).fill(1), [batch, seq]) }
  }
  const ckpt = mkdtempSync(join(tmpdir(), "mem-ckpt-"))
  const r = await trainAdapter(model, adapter, { at: batchAt }, {
    steps: 3, schedule: { lr: 1e-4, minLr: 1e-5, warmup: 1, total: 3 }, trainer: { weightDecay: 0.01, gradClip: 1, seed: 0 }, checkpointDir: ckpt, checkpointEvery: 1,
  })
  rmSync(ckpt, { recursive: true, force: true })
  console.log(JSON.stringify({ peakTensorBytes: r.peakTensorBytes, heap0, heap: heap(), rss0, maxRss: process.resourceUsage().maxRSS * 1024 }))
}

const make = async (dir: string, index: number): Promise<void> => {
  const { initGPT } = await import("../src/model/arch/model.ts")
  const { saveModel } = await import("../src/model/safetensors.ts")
  const { initBackend } = await import("../src/model/kernels/backend.ts")
  await initBackend("cpu")
  saveModel(dir, initGPT((CASES[index] as Case).config, 0))
}

const self = fileURLToPath(import.meta.url)
const [mode, ...rest] = process.argv.slice(2)
if (mode === "--child") await child(rest[0]!, rest[1] as "wasm", rest[2]!, Number(rest[3]), Number(rest[4]))
else if (mode === "--make") await make(rest[0]!, Number(rest[1]))
else {
  const backends = (mode ?? "wasm,native").split(",")
  const picked = rest[0] === undefined ? [0, 1, 2] : rest[0].split(",").map(Number)
  const methods = rest[1] === undefined ? METHODS : rest[1].split(",")
  const tsx = (args: string[]) => execFileSync(process.execPath, ["--import", "tsx", self, ...args], { encoding: "utf8", maxBuffer: 1 << 24 })
  console.log("| case | B×T | method | backend | tensors est. / meas. (MiB) | heap est. / meas. growth (MiB) | RSS est. / meas. (MiB) | before: heap, RSS (MiB) |")
  console.log("|---|---|---|---|---|---|---|---|")
  for (const i of picked) {
    const c = CASES[i] as Case
    const dir = mkdtempSync(join(tmpdir(), "mem-base-"))
    mkdirSync(dir, { recursive: true })
    tsx(["--make", dir, String(i)])
    for (const method of methods)
      for (const backend of backends) {
        const targets: ReadonlyArray<ProjName> = projectionsOf(c.config)
        const est = estimateTrainMemory(trainMemoryInput({ config: c.config, batch: c.batch, seq: c.seq, headRows: c.batch * c.seq, method, rank: 8, targets, dropout: 0 }))
        const out = tsx(["--child", dir, backend, method, String(c.batch), String(c.seq)]).trim().split("\n").at(-1) ?? "{}"
        const m = JSON.parse(out) as { peakTensorBytes: number; heap0: number; heap: number; rss0: number; maxRss: number }
        const f = (x: number) => (x / MIB).toFixed(0)
        const heapCol = backend === "cpu" ? "–" : `${f(backend === "native" ? est.nativeHeapBytes : est.heapBytes)} / ${f(m.heap - m.heap0)}`
        const rssEst = backend === "cpu" ? est.cpuRssBytes : backend === "native" ? est.nativeRssBytes : est.rssBytes
        console.log(`| ${c.name} | ${c.batch}×${c.seq} | ${method} | ${backend} | ${f(est.tensorBytes)} / ${f(m.peakTensorBytes)} | ${heapCol} | ${f(rssEst)} / ${f(m.maxRss)} | ${backend === "cpu" ? "–" : f(m.heap0)}, ${f(m.rss0)} |`)
      }
    rmSync(dir, { recursive: true, force: true })
  }
}
