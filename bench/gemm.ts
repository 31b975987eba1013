/**
 * GFLOP/s of the native addon's sgemm, our own GEMM (native/gemm.c, peftlab_gemm.node) side by
 * side with the main addon (OpenBLAS where it was built, peftlab_blas.node), in one process, on
 * the default ablation's products and a SmolLM2-135M-like layer, with 1 and 2 threads.
 *
 * Shapes are M×K×N with op(A) M×K and op(B) K×N, as the training step runs them (ablation: C =
 * 128, MLP 512, V = 1,024, 8 × 128 = 1,024 tokens; forward x·W is NN, the input gradient
 * dy·Wᵀ is NT, the weight gradient xᵀ·dy is TN; the tied head's logits x·Eᵀ are NT). SmolLM2-
 * 135M: C = 576, MLP 1,536, 2,048 tokens.
 *
 * Each figure is the median of ROUNDS timings (each ≥ 50 ms of back-to-back calls on warm
 * operands, β = 0); in every round each addon runs once per shape, alternating, so load from
 * other jobs hits both alike. OpenBLAS's kernels are what the environment makes them
 * (OPENBLAS_CORETYPE, which peftlab respects; else peftlab's pick from the CPU's flags).
 *   npx tsx bench/gemm.ts     (ROUNDS=5; writes bench/gemm.results.<main addon's BLAS>-<core>.json,
 *                              e.g. gemm.results.openblas-skylakex.json: OPENBLAS_CORETYPE=SkylakeX …)
 */
import { writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { BLAS_ADDON_PATH as ADDON_PATH, GEMM_ADDON_PATH, loadNative, type BlasAddon } from "../src/model/kernels/native.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const root = join(import.meta.dirname, "..")

// loadNative sets OPENBLAS_CORETYPE from the CPU (unless the machine did) before OpenBLAS loads.
const own0 = loadNative() // the run's addon (the own GEMM by default); it also sets OPENBLAS_CORETYPE before OpenBLAS loads
if (!own0.ok) throw new Error(own0.reason)
const own = createRequire(import.meta.url)(GEMM_ADDON_PATH) as BlasAddon
const system = createRequire(import.meta.url)(ADDON_PATH) as BlasAddon
const main = { blas: system.info().blas ?? "openblas", core: system.info().core, addon: system }
const addons: Array<{ name: string; addon: BlasAddon }> = [{ name: `own ${own.info().core}`, addon: own }]
if (main.blas !== "own") addons.push({ name: `${main.blas} ${main.core}`, addon: main.addon })
else console.log(`${ADDON_PATH} is the own GEMM too: no OpenBLAS column`)

const SHAPES: Array<{ what: string; M: number; K: number; N: number; tA: boolean; tB: boolean }> = [
  { what: "q, k, v, o: x·W", M: 1024, K: 128, N: 128, tA: false, tB: false },
  { what: "MLP up: x·W", M: 1024, K: 128, N: 512, tA: false, tB: false },
  { what: "MLP down: x·W", M: 1024, K: 512, N: 128, tA: false, tB: false },
  { what: "tied logits: x·Eᵀ", M: 1024, K: 128, N: 1024, tA: false, tB: true },
  { what: "MLP up, input grad: dy·Wᵀ", M: 1024, K: 512, N: 128, tA: false, tB: true },
  { what: "MLP down, input grad: dy·Wᵀ", M: 1024, K: 128, N: 512, tA: false, tB: true },
  { what: "q, k, v, o weight grad: xᵀ·dy", M: 128, K: 1024, N: 128, tA: true, tB: false },
  { what: "MLP up weight grad: xᵀ·dy", M: 128, K: 1024, N: 512, tA: true, tB: false },
  { what: "MLP down weight grad: xᵀ·dy", M: 512, K: 1024, N: 128, tA: true, tB: false },
  { what: "SmolLM2-135M MLP up: x·W", M: 2048, K: 576, N: 1536, tA: false, tB: false },
  { what: "SmolLM2-135M MLP down: x·W", M: 2048, K: 1536, N: 576, tA: false, tB: false },
]

const heap = new Float32Array(3 * 2048 * 1536 + 64)
for (let i = 0; i < heap.length; i++) heap[i] = ((i * 2654435761) % 1000) / 1000 - 0.5
const region = 2048 * 1536 * 4 // bytes per operand

/**
 * Seconds per call over ≥ 50 ms of calls: wall clock, and the process's CPU time (user + system),
 * which a loaded machine inflates less (a descheduled thread uses none). With 1 thread only the
 * caller works; with 2 the CPU time is both threads' (spinning included).
 */
const time = (addon: BlasAddon, s: (typeof SHAPES)[number]): { wall: number; cpu: number } => {
  const call = () =>
    addon.sgemm(heap.buffer, s.tA, s.tB, s.M, s.N, s.K, 1, 0, s.tA ? s.M : s.K, 0, region, s.tB ? s.K : s.N, 0, 0, 2 * region, s.N, 0, 1)
  call()
  let n = 0
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  while (performance.now() - t0 < 50) {
    call()
    n++
  }
  const c = process.cpuUsage(c0)
  return { wall: (performance.now() - t0) / 1000 / n, cpu: (c.user + c.system) / 1e6 / n }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const rows: Array<Record<string, string | number>> = []
for (const threads of [1, 2]) {
  for (const a of addons) a.addon.setThreads(threads)
  const samples = new Map<string, number[]>()
  const add = (key: string, x: number) => samples.set(key, [...(samples.get(key) ?? []), x])
  for (let r = 0; r < ROUNDS; r++)
    for (const [i, s] of SHAPES.entries())
      for (const a of r % 2 === 0 ? addons : [...addons].reverse()) {
        const t = time(a.addon, s)
        add(`${i} ${a.name}`, (2 * s.M * s.N * s.K) / t.wall / 1e9)
        add(`${i} ${a.name} cpu`, (2 * s.M * s.N * s.K) / t.cpu / 1e9)
      }
  const gflops = (key: string) => Number(median(samples.get(key)!).toFixed(1))
  for (const [i, s] of SHAPES.entries()) {
    const row: Record<string, string | number> = { threads, shape: `${s.M}×${s.K}×${s.N} ${s.tA ? "T" : "N"}${s.tB ? "T" : "N"}`, what: s.what }
    for (const a of addons) row[a.name] = gflops(`${i} ${a.name}`)
    if (addons.length === 2) row.ratio = Number(((row[addons[0]!.name] as number) / (row[addons[1]!.name] as number)).toFixed(2))
    for (const a of addons) row[`${a.name} (CPU time)`] = gflops(`${i} ${a.name} cpu`)
    if (addons.length === 2) row["ratio (CPU time)"] = Number(((row[`${addons[0]!.name} (CPU time)`] as number) / (row[`${addons[1]!.name} (CPU time)`] as number)).toFixed(2))
    rows.push(row)
    console.log(JSON.stringify(row))
  }
}
for (const a of addons) a.addon.setThreads(1)
writeFileSync(join(root, `bench/gemm.results.${main.blas}-${main.core.toLowerCase()}.json`), JSON.stringify({ rounds: ROUNDS, addons: addons.map((a) => a.name), rows }, null, 2) + "\n")
