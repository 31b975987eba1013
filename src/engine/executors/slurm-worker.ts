/**
 * The process a Slurm job runs: `node --import tsx slurm-worker.ts <registry URL> <batch dir>`.
 * It runs the batch's jobs (`batch.json`, one or several ready instances) one after another
 * with the same code as a local worker (run-job.ts), and reports through files in the batch
 * folder, which lives in the shared runs directory:
 *
 * - `<i>.events`: one JSON line per progress/metric/log event of job i (appended);
 * - `<i>.exit`:   job i's outcome (`done` with its summary, or `failed` with the stage's error),
 *   written to a temporary name and renamed, so the coordinator never reads half a file.
 *
 * It never touches SQLite. On SIGTERM (scancel, time limit) it aborts the running stage and
 * exits 143 without an exit file: the coordinator then reports Slurm's state and reason.
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { Effect, Fiber } from "effect"
import type { FromWorker } from "../protocol.ts"
import { startJob } from "../run-job.ts"
import type { RunningJob } from "../run-job.ts"
import type { AnyStageDefinition } from "../../contracts/stage.ts"
import { batchFile, eventsFile, exitFile } from "./batch-files.ts"
import type { BatchFile } from "./batch-files.ts"


const main = async () => {
  const [registryUrl, dir] = process.argv.slice(2)
  if (registryUrl === undefined || dir === undefined) throw new Error("slurm-worker: usage: slurm-worker.ts <registry URL> <batch dir>")
  const batch = JSON.parse(readFileSync(batchFile(dir), "utf8")) as BatchFile
  const { stages } = (await import(registryUrl)) as { stages: ReadonlyArray<AnyStageDefinition> }
  const kinds = new Map(stages.map((s) => [s.kind, s]))
  let current: RunningJob | undefined
  let stopping = false
  process.on("SIGTERM", () => {
    current?.abort.abort()
    if (current === undefined) process.exit(143)
    Effect.runFork(Fiber.interrupt(current.fiber))
    setTimeout(() => process.exit(143), 50).unref()
    stopping = true
  })
  for (const [i, job] of batch.jobs.entries()) {
    if (stopping) break
    const outcome = await new Promise<FromWorker>((resolve) => {
      current = startJob(kinds, job, (m) => {
        if (m.type === "done" || m.type === "failed") resolve(m)
        else if (m.type !== "ready") appendFileSync(eventsFile(dir, i), JSON.stringify(m) + "\n")
      })
    })
    current = undefined
    if (stopping) break
    const file = exitFile(dir, i)
    writeFileSync(`${file}.tmp`, JSON.stringify(outcome))
    renameSync(`${file}.tmp`, file)
  }
  process.exit(stopping ? 143 : 0)
}

void main()
