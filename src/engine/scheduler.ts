/**
 * The scheduler: runs the ready set of a plan, up to `jobs` at once, one worker slot each.
 * Fail-fast (default): after a failure nothing new starts, running stages finish, and every
 * instance that did not run is recorded as skipped. `keepGoing`: only the dependents of a
 * failed instance are skipped. A resource fault (disk full …) under fail-fast also interrupts
 * the running stages (they would meet the same wall): the run ends within the pool's grace period.
 */
import { Effect, Fiber, Queue } from "effect"
import { dependenciesOf } from "../pipeline/expand.ts"
import type { PlannedInstance } from "./plan.ts"
import type { StageStatus } from "../contracts/events.ts"
import { artifactOf, executeInstance, RESOURCE_FAULT_TAG } from "./execute.ts"
import type { ExecuteContext, Outcome } from "./execute.ts"
import type { InputArtifact } from "../contracts/stage.ts"
import type { ExecutionRecord } from "../store/store.ts"

export interface ScheduleOptions {
  readonly jobs: number
  readonly keepGoing: boolean
  readonly force: (id: string) => boolean
  /** Updated as instances end, so an interrupted run can still report what happened. */
  readonly counts: Counts
}

export type Counts = Record<StageStatus, number>

export const emptyCounts = (): Counts => ({ cached: 0, succeeded: 0, failed: 0, interrupted: 0, skipped: 0 })

interface Completion {
  readonly id: string
  readonly slot: number
  readonly outcome: Outcome
}

export const schedule = (ctx: Omit<ExecuteContext, "results">, plan: ReadonlyArray<PlannedInstance>, options: ScheduleOptions): Effect.Effect<Counts> =>
  Effect.scoped(Effect.gen(function* () {
    const counts = options.counts
    const results = new Map<string, InputArtifact>()
    const byId = new Map(plan.map((p) => [p.instance.id, p]))
    const dependents = new Map<string, Array<string>>()
    const missing = new Map<string, number>()
    const finished = new Set<string>()
    const ready: Array<string> = []
    // Depth-first across the matrix: among ready instances, cache hits first, then the deepest
    // stage (a cell's eval before another cell's train), ties in plan order. Cells complete one
    // after another, so results (and the dashboard's rows) arrive early rather than all at the end.
    const depth = new Map<string, number>()
    const priority = new Map<string, number>()
    for (const [index, p] of plan.entries()) {
      const d = Math.max(-1, ...dependenciesOf(p.instance).map((i) => depth.get(i) ?? 0)) + 1
      depth.set(p.instance.id, d)
      priority.set(p.instance.id, p.cached !== undefined ? Number.MAX_SAFE_INTEGER : d + 1 - (index + 1) / (plan.length + 1))
    }
    const takeNext = (): string => {
      let best = 0
      for (let i = 1; i < ready.length; i++) if (priority.get(ready[i]!)! > priority.get(ready[best]!)!) best = i
      return ready.splice(best, 1)[0]!
    }
    for (const p of plan) {
      const deps = dependenciesOf(p.instance)
      missing.set(p.instance.id, deps.length)
      for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), p.instance.id])
      if (deps.length === 0) ready.push(p.instance.id)
    }
    // Hits and skips are recorded in batches: one transaction per scheduling round, not per row.
    let rows: Array<ExecutionRecord> = []
    const flushRows = () => {
      ctx.store.insertExecutions(rows)
      rows = []
    }
    const skip = (id: string, because: string) => {
      if (finished.has(id)) return
      finished.add(id)
      counts.skipped++
      const p = byId.get(id)!
      rows.push({ runId: ctx.runId, instanceId: id, stage: p.instance.stage, kind: p.instance.kind, fingerprint: p.fingerprint, fields: p.fields, factors: p.instance.factors, status: "skipped" })
      ctx.emit({ type: "stage-skipped", at: Date.now(), id, because })
      for (const d of dependents.get(id) ?? []) skip(d, `needs ${id}`)
    }
    const satisfied = (id: string, artifact: InputArtifact) => {
      results.set(id, artifact)
      for (const d of dependents.get(id) ?? []) {
        const left = missing.get(d)! - 1
        missing.set(d, left)
        if (left === 0) ready.push(d)
      }
    }
    const cached = (p: PlannedInstance, hit: NonNullable<PlannedInstance["cached"]>) => {
      finished.add(p.instance.id)
      counts.cached++
      rows.push({ runId: ctx.runId, instanceId: p.instance.id, stage: p.instance.stage, kind: p.instance.kind, fingerprint: p.fingerprint, fields: p.fields, factors: p.instance.factors, status: "cached", cached: hit })
      ctx.emit({ type: "stage-cached", at: Date.now(), id: p.instance.id })
      satisfied(p.instance.id, artifactOf(p, hit, ctx.runsDir))
    }
    const done = yield* Queue.unbounded<Completion>()
    const free = Array.from({ length: options.jobs }, (_, i) => options.jobs - 1 - i)
    let running = 0
    let stopping = false
    const fibers = new Map<Fiber.Fiber<unknown>, string>()
    // On interruption, stop every running stage and wait until each has recorded itself.
    yield* Effect.addFinalizer(() => Fiber.interruptAll([...fibers.keys()]))
    const record = (c: Completion) => {
      running--
      free.push(c.slot)
      finished.add(c.id)
      if (c.outcome.type === "failed") {
        counts.failed++
        if (!options.keepGoing) stopping = true
        for (const d of dependents.get(c.id) ?? []) skip(d, `needs ${c.id}, which failed`)
      } else if (c.outcome.type === "cached") {
        finished.delete(c.id)
        cached(byId.get(c.id)!, c.outcome.hit)
      } else {
        counts.succeeded++
        satisfied(c.id, c.outcome.artifact)
      }
    }
    while (true) {
      while (!stopping && ready.length > 0) {
        const id = takeNext()
        const p = byId.get(id)!
        if (p.cached !== undefined) {
          cached(p, p.cached)
          continue
        }
        if (free.length === 0) {
          ready.unshift(id)
          break
        }
        const slot = free.pop()!
        running++
        const fiber = yield* Effect.forkChild(executeInstance({ ...ctx, results }, p, slot, options.force(id)).pipe(Effect.flatMap((outcome) => Queue.offer(done, { id, slot, outcome }))))
        fibers.set(fiber, id)
        fiber.addObserver(() => fibers.delete(fiber))
      }
      flushRows()
      if (running === 0) break
      const c = yield* Queue.take(done)
      record(c)
      if (c.outcome.type === "failed" && c.outcome.error.tag === RESOURCE_FAULT_TAG && !options.keepGoing) {
        // Stop the others now (each records itself interrupted), keep what finished meanwhile.
        const others = [...fibers.entries()]
        yield* Fiber.interruptAll(others.map(([f]) => f))
        for (let more = yield* Queue.poll(done); more._tag === "Some"; more = yield* Queue.poll(done)) record(more.value)
        for (const [, id] of others) finished.add(id)
        break
      }
    }
    for (const p of plan) if (!finished.has(p.instance.id)) skip(p.instance.id, "the run stopped after a failure")
    flushRows()
    return counts
  }))
