/**
 * A worker process: imports the stage registry once (argv[2] is its module URL), then runs one
 * job at a time for the parent, streaming events back over IPC. It never touches SQLite.
 * Ctrl-C reaches the whole process group; the worker ignores SIGINT and waits for the parent's
 * `interrupt`, which aborts the stage's signal and interrupts its fiber.
 */
import { Cause, Effect, Exit, Fiber, Schema } from "effect"
import type { FromWorker, Job, ToWorker, WireError } from "./protocol.ts"
import type { AnyStageDefinition, StageContext } from "./stage.ts"
import { StageError } from "./stage.ts"
import { asResourceFault } from "../store/faults.ts"

const send = (m: FromWorker): void => {
  process.send?.(m)
}

const wireError = (job: Job, cause: Cause.Cause<StageError>): WireError => {
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

const context = (job: Job, def: AnyStageDefinition, signal: AbortSignal): StageContext<unknown> => ({
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

const main = async () => {
  const registryUrl = process.argv[2]
  if (registryUrl === undefined) throw new Error("worker: missing registry module URL")
  const { stages } = (await import(registryUrl)) as { stages: ReadonlyArray<AnyStageDefinition> }
  const kinds = new Map(stages.map((s) => [s.kind, s]))
  let current: { readonly abort: AbortController; readonly fiber: Fiber.Fiber<unknown, unknown> } | undefined
  process.on("SIGINT", () => {})
  process.on("disconnect", () => process.exit(0))
  process.on("message", (m: ToWorker) => {
    if (m.type === "interrupt") {
      current?.abort.abort()
      if (current !== undefined) Effect.runFork(Fiber.interrupt(current.fiber))
      return
    }
    const def = kinds.get(m.job.kind)
    if (def === undefined) return send({ type: "failed", error: { tag: "StageError", reason: "Failed", message: `unknown kind ${m.job.kind}` } })
    const abort = new AbortController()
    const program = Effect.suspend(() => def.run(context(m.job, def, abort.signal)))
    const fiber = Effect.runFork(program)
    current = { abort, fiber }
    fiber.addObserver((exit) => {
      current = undefined
      if (Exit.isSuccess(exit)) send({ type: "done", summary: exit.value.summary, peakRssBytes: process.resourceUsage().maxRSS * 1024 })
      else send({ type: "failed", error: wireError(m.job, exit.cause) })
    })
  })
  send({ type: "ready" })
}

void main()
