/**
 * One instance, end to end: take its fingerprint lock (or wait for another run to finish it and
 * take the cache hit), run it in a worker, and commit: digest the output folder, move it into
 * the store, then one SQLite transaction. Interruption removes the partial output and records it.
 *
 * Resource faults on the coordinator's side (disk full while creating the tmp folder, placing
 * the artifact or committing to SQLite) fail the stage with a `ResourceFault` that names what
 * and where; the temporary folder, and a store folder this stage placed but could not commit,
 * are removed. Recording the failure itself may fail on a full disk: that is tolerated (the run
 * row stays `running` and the next start's recovery marks it interrupted).
 */
import { mkdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { Instance } from "../pipeline/expand.ts"
import type { PlannedInstance } from "./plan.ts"
import { resolveRefs } from "../pipeline/refs.ts"
import { digestFolder, makeTmpDir, placeInStore, scratchDir } from "../store/artifacts.ts"
import { asResourceFault, ResourceFault } from "../store/faults.ts"
import { tryLock, unlock } from "../store/locks.ts"
import type { LockHolder } from "../store/locks.ts"
import type { CacheHit, Store } from "../store/store.ts"
import type { RunEvent } from "../contracts/events.ts"
import type { Executor } from "./executor.ts"
import type { WireError } from "./protocol.ts"
import type { BackendName, InputArtifact } from "../contracts/stage.ts"

export interface ExecuteContext {
  readonly store: Store
  readonly pool: Executor
  readonly runId: number
  readonly runsDir: string
  readonly projectDir: string
  readonly pipelineDir: string
  /** Each instance's compute backend (the run's, or tensorflow for one asking for GPUs; backend.ts). */
  readonly backendOf: (instance: Instance) => BackendName
  /** BLAS threads per instance (engine/threads.ts). */
  readonly threadsFor: (id: string) => number
  readonly emit: (e: RunEvent) => void
  /** Committed results of instances that finished (or were cached) earlier in this run. */
  readonly results: ReadonlyMap<string, InputArtifact>
}

export type Outcome =
  | { readonly type: "cached"; readonly artifact: InputArtifact; readonly hit: CacheHit }
  | { readonly type: "succeeded"; readonly artifact: InputArtifact }
  | { readonly type: "failed"; readonly error: WireError }

const LOCK_POLL_MS = 50

/** The wire form of a resource fault: the scheduler ends a fail-fast run at once on this tag. */
export const RESOURCE_FAULT_TAG = "ResourceFault"

export const faultError = (f: ResourceFault): WireError => ({ tag: RESOURCE_FAULT_TAG, reason: f.code, message: f.message })

export const artifactOf = (p: PlannedInstance, hit: { readonly artifactPath: string; readonly summary: CacheHit["summary"] }, runsDir: string): InputArtifact => ({
  id: p.instance.id,
  kind: p.instance.kind,
  dir: path.join(runsDir, hit.artifactPath),
  fingerprint: p.fingerprint,
  factors: p.instance.factors,
  summary: hit.summary,
})

/** `f()`, with a resource fault as a typed failure and anything else a defect (a bug). */
const attempt = <A>(during: string, where: string, f: () => A): Effect.Effect<A, ResourceFault> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      const fault = asResourceFault(e, during, where)
      return fault === undefined ? Effect.die(e) : Effect.fail(fault)
    }
  })

/** Best effort while cleaning up after a fault: a second fault (still no space) is ignored. */
const tolerate = (during: string, f: () => void): void => {
  try {
    f()
  } catch (e) {
    if (asResourceFault(e, during, "") === undefined) throw e
  }
}

const holderText = (h: LockHolder) => `run ${h.runId} (pid ${h.pid}), which has held it since ${h.since}`

/** Takes the lock, or returns the hit another run committed while we waited (saying whom we wait for). */
const lockOrHit = (ctx: ExecuteContext, p: PlannedInstance, force: boolean): Effect.Effect<CacheHit | undefined, ResourceFault> =>
  Effect.gen(function* () {
    let waitingFor: string | undefined
    while (true) {
      const lock = yield* attempt(`taking the lock of ${p.instance.id}`, path.join(ctx.runsDir, "peftlab.db"), () => tryLock(ctx.store.db, p.fingerprint, ctx.runId))
      const hit = force ? undefined : ctx.store.cacheLookup(p.fingerprint)
      if (hit !== undefined) {
        if (lock.acquired) tolerate("unlocking", () => unlock(ctx.store.db, p.fingerprint))
        return hit
      }
      if (lock.acquired) {
        if (lock.tookOverFrom !== undefined)
          ctx.emit({ type: "stage-log", at: Date.now(), id: p.instance.id, level: "warn", message: `took over the lock of ${holderText(lock.tookOverFrom)}: that process is gone` })
        return undefined
      }
      const key = `${lock.holder.runId}/${lock.holder.pid}`
      if (waitingFor !== key) {
        waitingFor = key
        ctx.emit({ type: "stage-log", at: Date.now(), id: p.instance.id, level: "warn", message: `waiting for ${holderText(lock.holder)}` })
      }
      yield* Effect.sleep(LOCK_POLL_MS)
    }
  })

interface Running {
  readonly executionId: number
  readonly tmp: string
  readonly started: number
  readonly metrics: Array<{ step: number | null; name: string; value: number }>
}

const commit = (ctx: ExecuteContext, p: PlannedInstance, run: Running, done: { readonly summary: CacheHit["summary"]; readonly peakRssBytes: number }): Effect.Effect<InputArtifact, ResourceFault> =>
  Effect.gen(function* () {
    const what = `committing the artifact of ${p.instance.id}`
    const manifest = yield* attempt(what, run.tmp, () => digestFolder(run.tmp))
    const placed = yield* attempt(what, path.join(ctx.runsDir, "store"), () => placeInStore(ctx.runsDir, run.tmp, manifest))
    const finals = Object.entries(done.summary).flatMap(([name, v]) => (typeof v === "number" && Number.isFinite(v) ? [{ step: null, name, value: v }] : []))
    yield* attempt(`recording ${p.instance.id} in the runs database`, path.join(ctx.runsDir, "peftlab.db"), () =>
      ctx.store.commit({
        executionId: run.executionId,
        fingerprint: p.fingerprint,
        artifact: { ...manifest, path: placed.rel },
        summary: done.summary,
        metrics: [...run.metrics, ...finals],
        durationMs: Date.now() - run.started,
        peakRssBytes: done.peakRssBytes,
      }),
    ).pipe(
      // Not committed: a folder we just placed is an orphan; remove it now rather than at the next start.
      Effect.tapError(() => Effect.sync(() => placed.placed && rmSync(path.join(ctx.runsDir, placed.rel), { recursive: true, force: true }))),
    )
    rmSync(scratchDir(ctx.runsDir, p.fingerprint), { recursive: true, force: true })
    return artifactOf(p, { artifactPath: placed.rel, summary: done.summary }, ctx.runsDir)
  })

export const executeInstance = (ctx: ExecuteContext, p: PlannedInstance, slot: number, force: boolean): Effect.Effect<Outcome> => {
  const { instance } = p
  const failed = (error: WireError): Outcome => {
    ctx.emit({ type: "stage-failed", at: Date.now(), id: instance.id, error })
    return { type: "failed", error }
  }
  return Effect.gen(function* () {
    const hit = yield* lockOrHit(ctx, p, force)
    if (hit !== undefined) return { type: "cached", artifact: artifactOf(p, hit, ctx.runsDir), hit } as const
    const executionId = yield* attempt(`recording the start of ${instance.id}`, path.join(ctx.runsDir, "peftlab.db"), () =>
      ctx.store.insertExecution({ runId: ctx.runId, instanceId: instance.id, stage: instance.stage, kind: instance.kind, fingerprint: p.fingerprint, fields: p.fields, factors: instance.factors, status: "running" }),
    ).pipe(Effect.tapError(() => Effect.sync(() => tolerate("unlocking", () => unlock(ctx.store.db, p.fingerprint)))))
    const started = Date.now()
    const metrics: Running["metrics"] = []
    const end = (status: "failed" | "interrupted", error: WireError, tmp?: string) => {
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
      tolerate("recording the end of a stage", () => ctx.store.endExecution({ executionId, fingerprint: p.fingerprint, status, error, metrics, durationMs: Date.now() - started }))
    }
    const scratch = scratchDir(ctx.runsDir, p.fingerprint)
    const tmp = yield* attempt(`creating the output folders of ${instance.id}`, path.join(ctx.runsDir, "tmp"), () => {
      mkdirSync(scratch, { recursive: true })
      return makeTmpDir(ctx.runsDir)
    }).pipe(Effect.tapError((f) => Effect.sync(() => end("failed", faultError(f)))))
    const run: Running = { executionId, tmp, started, metrics }
    ctx.emit({ type: "stage-started", at: run.started, id: instance.id, worker: slot })
    const inputs = Object.fromEntries(Object.entries(instance.inputs).map(([name, id]) => [name, ctx.results.get(id)!]))
    const collected = Object.fromEntries(Object.entries(instance.collected).map(([name, ids]) => [name, ids.map((id) => ctx.results.get(id)!)]))
    const resolved = resolveRefs(instance.rawParams, instance.refs, (id) => ctx.results.get(id)?.summary)
    const job = { id: instance.id, kind: instance.kind, rawParams: resolved.ok ? resolved.value : instance.rawParams, factors: instance.factors, inputs, collected, outDir: run.tmp, scratchDir: scratch, projectDir: ctx.projectDir, pipelineDir: ctx.pipelineDir, backend: ctx.backendOf(instance), threads: ctx.threadsFor(instance.id) }
    // A param chosen upstream that its chooser did not record: fail this instance, never the run.
    const unresolved: { readonly type: "failed"; readonly error: WireError } | undefined = resolved.ok ? undefined : { type: "failed", error: { tag: "StageError", reason: "MissingInput", message: resolved.message } }
    const outcome = unresolved ?? (yield* ctx.pool
      .run(slot, job, (e) => {
        const at = Date.now()
        if (e.type === "metric") run.metrics.push({ step: e.step, name: e.name, value: e.value })
        if (e.type === "progress") ctx.emit({ ...e, type: "stage-progress", at, id: instance.id })
        else if (e.type === "metric") ctx.emit({ ...e, type: "stage-metric", at, id: instance.id })
        else ctx.emit({ ...e, type: "stage-log", at, id: instance.id })
      }, { fingerprint: p.fingerprint, resources: instance.resources })
      .pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            end("interrupted", { tag: "StageError", reason: "Interrupted", message: "interrupted" }, run.tmp)
            ctx.emit({ type: "stage-interrupted", at: Date.now(), id: instance.id })
          }),
        ),
      ))
    return yield* Effect.uninterruptible(
      Effect.gen(function* () {
        if (outcome.type === "failed") {
          end("failed", outcome.error, run.tmp)
          return failed(outcome.error)
        }
        const committed = yield* Effect.result(commit(ctx, p, run, outcome))
        if (committed._tag === "Failure") {
          const error = faultError(committed.failure)
          end("failed", error, run.tmp)
          return failed(error)
        }
        ctx.emit({ type: "stage-finished", at: Date.now(), id: instance.id, durationMs: Date.now() - run.started, summary: outcome.summary })
        return { type: "succeeded", artifact: committed.success } as const
      }),
    )
  }).pipe(Effect.catch((f: ResourceFault) => Effect.sync(() => failed(faultError(f)))))
}
