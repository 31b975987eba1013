/**
 * Running one job inside a worker process, whatever carries its messages: the pool's worker
 * (Node IPC) and the Slurm worker (files in the shared runs directory) both use this, so a
 * stage's error reaches the coordinator with the same tag, reason and message either way.
 */
import { Cause, Effect, Exit, Schema } from "effect"
import type { Fiber } from "effect"
import type { FromWorker, Job, WireError } from "./protocol.ts"
import type { AnyStageDefinition, StageContext } from "../contracts/stage.ts"
import { StageError } from "../contracts/stage.ts"
import { asResourceFault } from "../store/faults.ts"

export const wireError = (job: Job, cause: Cause.Cause<StageError>): WireError => {
  if (Cause.hasInterruptsOnly(cause)) return { tag: "StageError", reason: "Interrupted", message: "interrupted" }
  const failure = Cause.squash(cause)
  // Disk full, quota, read-only or I/O error while the stage wrote: no stack trace, what and where.
  const fault = asResourceFault(failure, `${job.id} wrote its output or checkpoint`, job.outDir)
  if (fault !== undefined) return { tag: "ResourceFault", reason: fault.code, message: fault.message }
  if (failure instanceof StageError) {
    const code = /\b(ENOSPC|EDQUOT|EROFS|EIO|SQLITE_FULL)\b/.exec(failure.message)?.[1]
    if (code !== undefined) return { tag: "ResourceFault", reason: code, message: failure.message }
    return { tag: "StageError", reason: failure.reason, message: failure.message }
  }
  const message = failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)
  return { tag: "Defect", reason: "Failed", message }
}

const context = (job: Job, def: AnyStageDefinition, signal: AbortSignal, send: (m: FromWorker) => void): StageContext<unknown> => ({
  id: job.id,
  params: Schema.decodeUnknownSync(def.params as Schema.Decoder<unknown> & Schema.Top)(job.rawParams),
  factors: job.factors,
  inputs: job.inputs,
  collected: job.collected,
  outDir: job.outDir,
  scratchDir: job.scratchDir,
  projectDir: job.projectDir,
  pipelineDir: job.pipelineDir,
  backend: job.backend,
  threads: job.threads,
  signal,
  progress: (p) => send({ type: "progress", ...p }),
  metric: (step, name, value) => send({ type: "metric", step, name, value }),
  log: (message, level = "info") => send({ type: "log", level, message }),
})

export interface RunningJob {
  readonly abort: AbortController
  readonly fiber: Fiber.Fiber<unknown, unknown>
}

/** Starts `job`; `send` gets its events, then exactly one `done` or `failed`. */
export const startJob = (kinds: ReadonlyMap<string, AnyStageDefinition>, job: Job, send: (m: FromWorker) => void, onEnd: () => void = () => {}): RunningJob | undefined => {
  const def = kinds.get(job.kind)
  if (def === undefined) {
    send({ type: "failed", error: { tag: "StageError", reason: "Failed", message: `unknown kind ${job.kind}` } })
    onEnd()
    return undefined
  }
  const abort = new AbortController()
  const program = Effect.suspend(() => def.run(context(job, def, abort.signal, send)))
  const fiber = Effect.runFork(program)
  fiber.addObserver((exit) => {
    onEnd()
    if (Exit.isSuccess(exit)) send({ type: "done", summary: exit.value.summary, peakRssBytes: process.resourceUsage().maxRSS * 1024 })
    else send({ type: "failed", error: wireError(job, exit.cause) })
  })
  return { abort, fiber }
}
