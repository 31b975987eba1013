/** Messages between the scheduler (parent) and a worker process, over Node IPC (JSON). */
import type { StageContext } from "../contracts/stage.ts"

/** What a worker needs to build the instance's StageContext: its fields, params still raw. */
export type Job = Pick<StageContext<unknown>, "id" | "factors" | "inputs" | "collected" | "outDir" | "scratchDir" | "projectDir" | "pipelineDir" | "backend" | "threads"> & {
  readonly kind: string
  /** Params before decoding (values chosen upstream already in place): the worker decodes them with the kind's schema. */
  readonly rawParams: unknown
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
