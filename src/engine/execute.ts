/**
 * One instance, end to end: take its fingerprint lock (or wait for another run to finish it and
 * take the cache hit), run it in a worker, and commit: digest the output folder, move it into
 * the store, then one SQLite transaction. Interruption removes the partial output and records it.
 */
import { mkdirSync, rmSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import type { PlannedInstance } from "../pipeline/plan.ts"
import { resolveRefs } from "../pipeline/refs.ts"
import { digestFolder, makeTmpDir, placeInStore, scratchDir } from "../store/artifacts.ts"
import { tryLock, unlock } from "../store/locks.ts"
import type { CacheHit, Store } from "../store/store.ts"
import type { RunEvent } from "./events.ts"
import type { Executor } from "./executor.ts"
import type { WireError } from "./protocol.ts"
import type { BackendName, InputArtifact } from "./stage.ts"

export interface ExecuteContext {
  readonly store: Store
  readonly pool: Executor
  readonly runId: number
  readonly runsDir: string
  readonly projectDir: string
  readonly pipelineDir: string
  readonly backend: BackendName
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

export const artifactOf = (p: PlannedInstance, hit: { readonly artifactPath: string; readonly summary: CacheHit["summary"] }, runsDir: string): InputArtifact => ({
  id: p.instance.id,
  kind: p.instance.kind,
  dir: path.join(runsDir, hit.artifactPath),
  fingerprint: p.fingerprint,
  factors: p.instance.factors,
  summary: hit.summary,
})

/** Takes the lock, or returns the hit another run committed while we waited. */
const lockOrHit = (ctx: ExecuteContext, p: PlannedInstance, force: boolean): Effect.Effect<CacheHit | undefined> =>
  Effect.gen(function* () {
    while (true) {
      const lock = tryLock(ctx.store.db, p.fingerprint, ctx.runId)
      const hit = force ? undefined : ctx.store.cacheLookup(p.fingerprint)
      if (hit !== undefined) {
        if (lock.acquired) unlock(ctx.store.db, p.fingerprint)
        return hit
      }
      if (lock.acquired) return undefined
      yield* Effect.sleep(LOCK_POLL_MS)
    }
  })

const commit = (ctx: ExecuteContext, p: PlannedInstance, run: { readonly executionId: number; readonly tmp: string; readonly started: number; readonly metrics: Array<{ step: number | null; name: string; value: number }> }, done: { readonly summary: CacheHit["summary"]; readonly peakRssBytes: number }): InputArtifact => {
  const manifest = digestFolder(run.tmp)
  const rel = placeInStore(ctx.runsDir, run.tmp, manifest.digest)
  const finals = Object.entries(done.summary).flatMap(([name, v]) => (typeof v === "number" && Number.isFinite(v) ? [{ step: null, name, value: v }] : []))
  ctx.store.commit({
    executionId: run.executionId,
    fingerprint: p.fingerprint,
    artifact: { ...manifest, path: rel },
    summary: done.summary,
    metrics: [...run.metrics, ...finals],
    durationMs: Date.now() - run.started,
    peakRssBytes: done.peakRssBytes,
  })
  rmSync(scratchDir(ctx.runsDir, p.fingerprint), { recursive: true, force: true })
  return artifactOf(p, { artifactPath: rel, summary: done.summary }, ctx.runsDir)
}

export const executeInstance = (ctx: ExecuteContext, p: PlannedInstance, slot: number, force: boolean): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const { instance } = p
    const hit = yield* lockOrHit(ctx, p, force)
    if (hit !== undefined) return { type: "cached", artifact: artifactOf(p, hit, ctx.runsDir), hit } as const
    const executionId = ctx.store.insertExecution({ runId: ctx.runId, instanceId: instance.id, stage: instance.stage, kind: instance.kind, fingerprint: p.fingerprint, fields: p.fields, factors: instance.factors, status: "running" })
    const run = { executionId, tmp: makeTmpDir(ctx.runsDir), started: Date.now(), metrics: [] as Array<{ step: number | null; name: string; value: number }> }
    const scratch = scratchDir(ctx.runsDir, p.fingerprint)
    mkdirSync(scratch, { recursive: true })
    ctx.emit({ type: "stage-started", at: run.started, id: instance.id, worker: slot })
    const inputs = Object.fromEntries(Object.entries(instance.inputs).map(([name, id]) => [name, ctx.results.get(id)!]))
    const collected = Object.fromEntries(Object.entries(instance.collected).map(([name, ids]) => [name, ids.map((id) => ctx.results.get(id)!)]))
    const resolved = resolveRefs(instance.rawParams, instance.refs, (id) => ctx.results.get(id)?.summary)
    const job = { id: instance.id, kind: instance.kind, rawParams: resolved.ok ? resolved.value : instance.rawParams, factors: instance.factors, inputs, collected, outDir: run.tmp, scratchDir: scratch, projectDir: ctx.projectDir, pipelineDir: ctx.pipelineDir, backend: ctx.backend, threads: ctx.threadsFor(instance.id) }
    const end = (status: "failed" | "interrupted", error: WireError) => {
      rmSync(run.tmp, { recursive: true, force: true })
      ctx.store.endExecution({ executionId, fingerprint: p.fingerprint, status, error, metrics: run.metrics, durationMs: Date.now() - run.started })
    }
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
            end("interrupted", { tag: "StageError", reason: "Interrupted", message: "interrupted" })
            ctx.emit({ type: "stage-interrupted", at: Date.now(), id: instance.id })
          }),
        ),
      ))
    return yield* Effect.uninterruptible(
      Effect.sync((): Outcome => {
        if (outcome.type === "failed") {
          end("failed", outcome.error)
          ctx.emit({ type: "stage-failed", at: Date.now(), id: instance.id, error: outcome.error })
          return outcome
        }
        const artifact = commit(ctx, p, run, outcome)
        ctx.emit({ type: "stage-finished", at: Date.now(), id: instance.id, durationMs: Date.now() - run.started, summary: outcome.summary })
        return { type: "succeeded", artifact }
      }),
    )
  })
