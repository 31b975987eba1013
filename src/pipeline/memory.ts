/**
 * Memory at plan time (docs/DESIGN.md): each instance whose kind estimates its peak memory (`memory`,
 * from its params and its inputs' plan-time `facts`) is held to what its backend can address and
 * what the machine has. `status` shows the estimates; `status` and `run` refuse an instance that
 * cannot fit (exit 2, nothing run or written) with the estimate and the limit — a wasm heap that
 * cannot grow does not fail cleanly mid-run (tfjs-backend-wasm 4.22 hangs or aborts).
 *
 * Limits:
 * - wasm and native: the wasm heap, 4 GiB (wasm32's 65,536 pages of 64 KiB; native's tensors
 *   live in the same heap, OpenBLAS works on it in place). Measured: tfjs-backend-wasm 4.22
 *   grows its heap to 3,936 MiB and no further.
 * - every backend: the machine's memory, os.totalmem() less 1/8 (the OS, the coordinator, the
 *   page cache of the store; on this 24 GiB machine 21 GiB). The process's estimated peak RSS
 *   is held to it. Concurrent stages (`--jobs N`) share it: each is held to it alone.
 * tensorflow (tfjs-node, GPU) keeps tensors outside any heap: the machine's limit only (GPU
 * memory is not estimated).
 */
import { totalmem } from "node:os"
import type { BackendName, MemoryNeed } from "../contracts/stage.ts"
import type { Instance } from "./expand.ts"
import type { Problem } from "./problems.ts"

export const WASM_HEAP_LIMIT = 4 * 2 ** 30

/** What the machine lends one stage: its memory less an eighth. */
export const machineLimit = (total: number = totalmem()): number => Math.floor((total * 7) / 8)

export interface MemoryCheck {
  readonly need: MemoryNeed
  readonly backend: BackendName
  /** The binding estimate and limit: the wasm heap's or the process's. */
  readonly bytes: number
  readonly limit: number
  readonly what: "wasm heap" | "memory"
  readonly fits: boolean
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`

/** Every instance's plan-time facts, producers first (instances come in dependency order). */
export const planFacts = (instances: ReadonlyArray<Instance>, pipelineDir: string): ReadonlyMap<string, unknown> => {
  const facts = new Map<string, unknown>()
  for (const i of instances) {
    if (i.def.facts === undefined) continue
    facts.set(i.id, i.def.facts(i.params, inputFacts(i, facts), pipelineDir))
  }
  return facts
}

const inputFacts = (i: Instance, facts: ReadonlyMap<string, unknown>): Readonly<Record<string, unknown>> =>
  Object.fromEntries(Object.entries(i.inputs).map(([name, id]) => [name, facts.get(id)]))

/** The binding check of one estimate on one backend. */
export const checkNeed = (need: MemoryNeed, backend: BackendName, machine: number): MemoryCheck => {
  const heap = backend === "wasm" || backend === "native"
  const heapBytes = backend === "native" ? need.nativeHeapBytes : need.heapBytes
  const rss = backend === "native" ? need.nativeRssBytes : backend === "wasm" ? need.rssBytes : need.cpuRssBytes
  if (heap && heapBytes > WASM_HEAP_LIMIT) return { need, backend, bytes: heapBytes, limit: WASM_HEAP_LIMIT, what: "wasm heap", fits: false }
  if (rss > machine) return { need, backend, bytes: rss, limit: machine, what: "memory", fits: false }
  return heap && heapBytes / WASM_HEAP_LIMIT > rss / machine
    ? { need, backend, bytes: heapBytes, limit: WASM_HEAP_LIMIT, what: "wasm heap", fits: true }
    : { need, backend, bytes: rss, limit: machine, what: "memory", fits: true }
}

export interface MemoryPlan {
  readonly checks: ReadonlyMap<string, MemoryCheck>
  readonly problems: ReadonlyArray<Problem>
}

/**
 * Estimates every instance that trains and checks it against its backend's limits. Params that
 * set the size (batch_size, max_length, block_size) are pointed at when the YAML sets them.
 */
export const memoryPlan = (
  pipeline: { readonly instances: ReadonlyArray<Instance>; readonly dir: string },
  backendOf: (i: Instance) => BackendName,
  machine: number = machineLimit(),
): MemoryPlan => {
  const facts = planFacts(pipeline.instances, pipeline.dir)
  const checks = new Map<string, MemoryCheck>()
  const problems: Array<Problem> = []
  for (const i of pipeline.instances) {
    const need = i.def.memory?.(i.params, inputFacts(i, facts))
    if (need === undefined) continue
    const backend = backendOf(i)
    const check = checkNeed(need, backend, machine)
    checks.set(i.id, check)
    if (check.fits) continue
    const raw = (i.rawParams ?? {}) as Readonly<Record<string, unknown>>
    const knob = ["batch_size", "max_length", "block_size"].find((k) => k in raw)
    const cpu = check.what === "wasm heap" ? "; the cpu backend (--backend cpu) has no such heap, only the machine's limit" : ""
    problems.push({
      path: knob === undefined ? ["stages", i.stage] : ["stages", i.stage, "params", knob],
      message: `${i.id} needs an estimated ${gib(check.bytes)} of ${check.what === "wasm heap" ? "wasm heap" : "memory"} on the ${backend} backend, more than its limit of ${gib(check.limit)}${check.what === "memory" ? " (this machine's memory less 1/8)" : " (wasm32)"}: ${need.detail}. Lower batch_size${i.kind === "train" ? " or max_length" : ""}, or train fewer weights${cpu}`,
    })
  }
  return { checks, problems }
}
