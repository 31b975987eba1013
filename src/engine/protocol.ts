/** Messages between the scheduler (parent) and a worker process, over Node IPC (JSON). */
import type { BackendName, InputArtifact } from "../contracts/stage.ts"
import type { FactorValue } from "../contracts/events.ts"

export interface Job {
  readonly id: string
  readonly kind: string
  /** Params before decoding (values chosen upstream already in place): the worker decodes them with the kind's schema. */
  readonly rawParams: unknown
  readonly factors: Readonly<Record<string, FactorValue>>
  readonly inputs: Readonly<Record<string, InputArtifact>>
  readonly collected: Readonly<Record<string, ReadonlyArray<InputArtifact>>>
  readonly outDir: string
  readonly scratchDir: string
  readonly projectDir: string
  readonly pipelineDir: string
  readonly backend: BackendName
  /** BLAS threads for this stage (native backend; engine/threads.ts). */
  readonly threads: number
}

export type ToWorker = { readonly type: "run"; readonly job: Job } | { readonly type: "interrupt" }

export interface WireError {
  readonly tag: string
  readonly reason: string
  readonly message: string
}

export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "progress"; readonly step: number; readonly total: number; readonly tokensPerSec?: number; readonly message?: string }
  | { readonly type: "metric"; readonly step: number | null; readonly name: string; readonly value: number }
  | { readonly type: "log"; readonly level: "info" | "warn"; readonly message: string }
  | { readonly type: "done"; readonly summary: Readonly<Record<string, number | string | boolean>>; readonly peakRssBytes: number }
  | { readonly type: "failed"; readonly error: WireError }
