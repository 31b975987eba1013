/**
 * A worker process: imports the stage registry once (argv[2] is its module URL), then runs one
 * job at a time for the parent, streaming events back over IPC. It never touches SQLite.
 * Ctrl-C reaches the whole process group; the worker ignores SIGINT and waits for the parent's
 * `interrupt`, which aborts the stage's signal and interrupts its fiber.
 */
import { Effect, Fiber } from "effect"
import type { FromWorker, ToWorker } from "./protocol.ts"
import { startJob } from "./run-job.ts"
import type { RunningJob } from "./run-job.ts"
import type { AnyStageDefinition } from "../contracts/stage.ts"

const send = (m: FromWorker): void => {
  process.send?.(m)
}

const main = async () => {
  const registryUrl = process.argv[2]
  if (registryUrl === undefined) throw new Error("worker: missing registry module URL")
  const { stages } = (await import(registryUrl)) as { stages: ReadonlyArray<AnyStageDefinition> }
  const kinds = new Map(stages.map((s) => [s.kind, s]))
  let current: RunningJob | undefined
  process.on("SIGINT", () => {})
  process.on("disconnect", () => process.exit(0))
  process.on("message", (m: ToWorker) => {
    if (m.type === "interrupt") {
      current?.abort.abort()
      if (current !== undefined) Effect.runFork(Fiber.interrupt(current.fiber))
      return
    }
    current = startJob(kinds, m.job, send, () => (current = undefined))
  })
  send({ type: "ready" })
}

void main()
