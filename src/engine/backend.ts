/**
 * `--backend` resolution, decided in the parent before planning (the backend is part of every
 * fingerprint). The probe lives with the model code: `auto` = tfjs-node-gpu when it loads,
 * else native (wasm + OpenBLAS), else wasm, else cpu.
 *
 * Instances whose resources ask for GPUs (`gpus ≥ 1`, the stage's own or `--resources`') prefer
 * the tensorflow backend: they get it when @tensorflow/tfjs-node-gpu loads here, else the run's
 * backend like every other instance. The coordinator decides this before planning, with the same
 * guarded import as `auto`, rather than letting the worker choose: the fingerprint must name the
 * backend that computes the result (backends differ in the last bits), and it must be known at
 * plan time — a consumer's fingerprint contains its producer's, and `status`/`why` plan without
 * running anything. On a cluster the project and its node_modules are on the shared filesystem,
 * so the worker imports the same package; a worker where it still does not load fails its stage
 * (initBackend) instead of computing on another backend under a tensorflow fingerprint.
 */
import type { Instance } from "../pipeline/expand.ts"
import type { Resources } from "../pipeline/resources.ts"
import type { BackendRequest } from "../model/kernels/backend-probe.ts"
import { resolveBackend, tensorflowLoads } from "../model/kernels/backend-probe.ts"
import type { BackendName } from "../contracts/stage.ts"
export { BackendUnavailable, backendIdentity, resolveBackend } from "../model/kernels/backend-probe.ts"

/** `"auto" | BackendName`, defined once, beside the probe that resolves it. */
export type { BackendRequest }

export const BACKEND_REQUESTS: ReadonlyArray<BackendRequest> = ["auto", "tensorflow", "native", "wasm", "cpu"]

/** Whether an instance asks for GPUs: its stage's `resources.gpus`, else the `--resources` default. */
export const wantsGpu = (instance: Pick<Instance, "resources">, defaults: Resources): boolean => (instance.resources?.gpus ?? defaults.gpus ?? 0) >= 1

export interface RunBackends {
  /** The run's backend (`--backend` resolved): every instance's unless it asks for GPUs. */
  readonly run: BackendName
  /** Each instance's backend: `run`, or tensorflow for one that asks for GPUs when it loads here. */
  readonly of: (instance: Pick<Instance, "resources">) => BackendName
}

export interface BackendsOptions {
  readonly instances: ReadonlyArray<Pick<Instance, "id" | "resources">>
  /** `--resources` (a stage's own `resources` win). */
  readonly defaults: Resources
  /** Whether tensorflow loads here; tests fake it. Asked only when some instance wants GPUs. */
  readonly tensorflow?: () => Promise<boolean>
  readonly say?: (line: string) => void
}

/**
 * Resolves `--backend`, then the backend of the instances that ask for GPUs. When tensorflow
 * does not load, says once which instances asked for GPUs and what they run on instead.
 */
export const resolveBackends = async (requested: BackendRequest, options: BackendsOptions): Promise<RunBackends> => {
  const say = options.say ?? ((l: string) => process.stderr.write(`${l}\n`))
  const run = await resolveBackend(requested, say)
  const gpu = options.instances.filter((i) => wantsGpu(i, options.defaults))
  if (gpu.length === 0 || run === "tensorflow") return { run, of: () => run }
  const loads = await (options.tensorflow ?? tensorflowLoads)()
  const onGpu: BackendName = loads ? "tensorflow" : run
  if (!loads) {
    const ids = gpu.slice(0, 3).map((i) => i.id).join(", ") + (gpu.length > 3 ? `, +${gpu.length - 3} more` : "")
    say(`peftlab: ${ids} ask${gpu.length === 1 ? "s" : ""} for GPUs, but @tensorflow/tfjs-node-gpu does not load here: ${gpu.length === 1 ? "it runs" : "they run"} on ${run}, like the rest of the run`)
  }
  return { run, of: (instance) => (wantsGpu(instance, options.defaults) ? onGpu : run) }
}
