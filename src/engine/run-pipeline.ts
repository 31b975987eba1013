/**
 * A whole run: open the store (recovering from crashed runs), plan, record the run, schedule,
 * and record how it ended — also when interrupted, in a finalizer. Events go to the sink and,
 * batched, to the `events` table.
 *
 * On a full disk the events table may refuse rows: events are then kept in a bounded buffer and
 * retried at the next flush, the oldest dropped past the bound; the scheduler never waits on
 * them, and the run says how many it could not store. Recording the run's end may fail the same
 * way: the run row then stays `running` until the next start's recovery marks it interrupted.
 */
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import type { Pipeline } from "../pipeline/compile.ts"
import { planPipeline } from "./plan.ts"
import type { PlannedInstance } from "./plan.ts"
import type { Instance } from "../pipeline/expand.ts"
import type { EventSink } from "../ui/sink.ts"
import { openDb } from "../store/db.ts"
import { asResourceFault } from "../store/faults.ts"
import { recoverStale } from "../store/recover.ts"
import { Store } from "../store/store.ts"
import type { RunEvent } from "../contracts/events.ts"
import { backendIdentity } from "./backend.ts"
import { dependencyFields } from "./fingerprint.ts"
import { WorkerPool } from "./pool.ts"
import { blasThreads } from "./threads.ts"
import type { Executor, ExecutorName } from "./executor.ts"
import type { Resources } from "../pipeline/resources.ts"
import { emptyCounts, schedule } from "./scheduler.ts"
import type { BackendName } from "../contracts/stage.ts"

export interface RunOptions {
  readonly pipeline: Pipeline
  readonly registryModule: string
  readonly runsDir: string
  readonly projectDir: string
  readonly backend: BackendName
  /** An instance's own backend where it differs (one asking for GPUs gets tensorflow when it loads; backend.ts); default `backend`. */
  readonly backendOf?: (instance: Instance) => BackendName
  readonly jobs: number
  readonly keepGoing: boolean
  readonly force: (id: string) => boolean
  readonly sink: EventSink
  readonly argv: ReadonlyArray<string>
  /** Workers' stdout/stderr file name inside the runs dir; unset: the parent's stderr. */
  readonly workerLog?: string
  /** Where instances run (default `local`); `slurm`: `jobs` Slurm jobs in flight, `slurmBatch` instances per job at most. */
  readonly executor?: ExecutorName
  readonly resources?: Resources
  readonly slurmBatch?: number
}

export type RunStatus = "succeeded" | "failed" | "interrupted"

export interface RunResult {
  readonly status: RunStatus
  /** What the user should know beyond the events: events not stored, the end not recorded. */
  readonly notes: ReadonlyArray<string>
}

/** Past this many unstored events (a full disk), the oldest are dropped. */
const MAX_BUFFERED_EVENTS = 20_000

const openStore = (runsDir: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Store(openDb(runsDir, { create: true, check: true })!, runsDir)),
    (store) => Effect.sync(() => store.db.close()),
  )

export const makePlan = (store: Store | undefined, options: Pick<RunOptions, "pipeline" | "projectDir" | "backend" | "backendOf" | "force">): ReadonlyArray<PlannedInstance> => {
  const own = options.backendOf
  return planPipeline(options.pipeline, {
    context: {
      projectDir: options.projectDir, pipelineDir: options.pipeline.dir, backend: backendIdentity(options.backend), deps: dependencyFields(options.projectDir),
      backendOf: own && ((i: Instance) => backendIdentity(own(i))),
    },
    lookup: (fps) => store?.cacheLookupMany(fps) ?? new Map(),
    lastGoodFields: (id) => store?.lastGoodFields(id),
    force: options.force,
    missReason: (fp) => store?.damaged.get(fp),
  })
}

const environment = (options: RunOptions) => ({ node: process.version, platform: process.platform, cpus: os.cpus().length, backend: backendIdentity(options.backend), argv: options.argv })

/** The end of a run is recorded even on Ctrl-C: only the scheduling itself is interruptible. */
export const runPipeline = (options: RunOptions): Effect.Effect<RunResult> =>
  Effect.scoped(Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const store = yield* openStore(options.runsDir)
      // Jobs of a dead coordinator must be stopped before their locks and tmp folders are freed.
      if (options.executor === "slurm") yield* Effect.promise(async () => (await import("./executors/slurm.ts")).cancelOrphans(store.db, options.runsDir))
      recoverStale(store.db, options.runsDir)
      const { pipeline } = options
      // Registered before planning, so gc (which removes nothing while a run is live) cannot
      // delete a cache entry this plan is about to use; an input error while planning removes
      // the row again (exit 2 writes nothing).
      const runId = store.beginRun({ pipeline: pipeline.name, pipelinePath: pipeline.displayPath, backend: options.backend, jobs: options.jobs, environment: environment(options) })
      let plan: ReadonlyArray<PlannedInstance>
      try {
        plan = makePlan(store, options)
      } catch (e) {
        store.db.prepare(`DELETE FROM runs WHERE id = ?`).run(runId)
        throw e
      }
      const started = Date.now()
      const counts = emptyCounts()
      let seq = 0
      let buffered: Array<RunEvent> = []
      let dropped = 0
      let unstored: string | undefined
      const notes: Array<string> = []
      const flush = () => {
        try {
          store.insertEvents(runId, seq, buffered)
          seq += buffered.length
          buffered = []
        } catch (e) {
          const fault = asResourceFault(e, "recording the run's events", path.join(options.runsDir, "peftlab.db"))
          if (fault === undefined) throw e
          unstored = fault.message
          if (buffered.length > MAX_BUFFERED_EVENTS) {
            dropped += buffered.length - MAX_BUFFERED_EVENTS
            buffered = buffered.slice(-MAX_BUFFERED_EVENTS)
          }
        }
      }
      const emit = (e: RunEvent) => {
        if (e.type === "stage-interrupted") counts.interrupted++
        options.sink.onEvent(e)
        buffered.push(e)
        if (buffered.length >= 200 && buffered.length % 200 === 0) flush()
      }
      const pool = yield* Effect.acquireRelease(
        options.executor === "slurm"
          ? Effect.promise(async (): Promise<Executor> => {
              const { SlurmExecutor } = await import("./executors/slurm.ts")
              return new SlurmExecutor({ runsDir: options.runsDir, registryModule: options.registryModule, runId, maxJobs: options.jobs, batchSize: options.slurmBatch ?? 256, defaults: options.resources ?? {}, emit })
            })
          : Effect.sync((): Executor => new WorkerPool({ size: options.jobs, registryModule: options.registryModule, ...(options.workerLog === undefined ? {} : { workerLog: path.join(options.runsDir, options.workerLog) }) })),
        (p) => Effect.promise(async () => p.shutdown()),
      )
      emit({
        type: "run-started", at: started, runId, pipeline: pipeline.name, pipelinePath: pipeline.displayPath, backend: options.backend, jobs: options.jobs,
        axes: pipeline.axes,
        instances: plan.map((p) => ({ id: p.instance.id, stage: p.instance.stage, kind: p.instance.kind, factors: p.instance.factors, plan: p.cached ? "cached" : "pending", ...(p.reason ? { reason: p.reason } : {}) })),
      })
      const threadsFor = blasThreads(plan, options.jobs, os.cpus().length)
      const ctx = { store, pool, runId, runsDir: options.runsDir, projectDir: options.projectDir, pipelineDir: pipeline.dir, backendOf: options.backendOf ?? (() => options.backend), threadsFor, emit }
      const exit = yield* Effect.exit(restore(schedule(ctx, plan, { jobs: pool.slots, keepGoing: options.keepGoing, force: options.force, counts })))
      const status: RunStatus = Exit.isSuccess(exit) ? (counts.failed > 0 ? "failed" : "succeeded") : "interrupted"
      emit({ type: "run-finished", at: Date.now(), runId, status, durationMs: Date.now() - started, counts })
      flush()
      if (unstored !== undefined && (buffered.length > 0 || dropped > 0))
        notes.push(`${buffered.length + dropped} events of run ${runId} could not be stored in the runs database: ${unstored}`)
      try {
        store.finishRun(runId, status)
      } catch (e) {
        const fault = asResourceFault(e, "recording the end of the run", path.join(options.runsDir, "peftlab.db"))
        if (fault === undefined) throw e
        notes.push(`the end of run ${runId} could not be recorded (${fault.message}); the next run will mark it interrupted`)
      }
      return { status, notes }
    }),
  ))
