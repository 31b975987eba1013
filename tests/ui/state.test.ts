import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../src/contracts/events.ts"
import { countStates, initialState, reduce, SPARK_POINTS } from "../../src/ui/state.ts"
import { runStarted, T0 } from "./events.ts"

const fold = (events: ReadonlyArray<RunEvent>) => events.reduce(reduce, initialState)
const TRAIN = "train[method=lora,seed=1]"

describe("reduce", () => {
  it("starts from the plan: cached instances are cached, the rest pending", () => {
    const s = fold([runStarted])
    expect(s.run).toMatchObject({ runId: 7, pipeline: "quick", backend: "wasm", jobs: 2, startedAt: T0 })
    expect(countStates(s)).toMatchObject({ cached: 2, pending: 10, running: 0 })
  })

  it("follows an instance through started, progress, metrics and finished", () => {
    const s = fold([
      runStarted,
      { type: "stage-started", at: T0 + 1000, id: TRAIN, worker: 1 },
      { type: "stage-progress", at: T0 + 2000, id: TRAIN, step: 10, total: 100, tokensPerSec: 5000 },
      { type: "stage-metric", at: T0 + 2000, id: TRAIN, step: 10, name: "loss", value: 3.5 },
      { type: "stage-metric", at: T0 + 2000, id: TRAIN, step: 10, name: "lr", value: 0.001 },
      { type: "stage-metric", at: T0 + 2000, id: TRAIN, step: null, name: "loss", value: 9 },
      { type: "stage-progress", at: T0 + 4000, id: TRAIN, step: 30, total: 100 },
      { type: "stage-metric", at: T0 + 4000, id: TRAIN, step: 30, name: "loss", value: 2.5 },
    ])
    const view = s.instances[TRAIN]
    expect(view?.state).toBe("running")
    expect(view?.startedAt).toBe(T0 + 1000)
    // tokens/s is kept from the last report that had it; the ETA base is the first report.
    expect(view?.progress).toEqual({ step: 30, total: 100, tokensPerSec: 5000, message: undefined, firstAt: T0 + 2000, firstStep: 10, at: T0 + 4000 })
    expect(view?.losses).toEqual([3.5, 2.5])
    expect(countStates(s).running).toBe(1)

    const done = reduce(s, { type: "stage-finished", at: T0 + 9000, id: TRAIN, durationMs: 8000, summary: { final_loss: 1.23456 } })
    expect(done.instances[TRAIN]?.state).toBe("succeeded")
    expect(done.logs).toEqual([{ seq: 0, at: T0 + 9000, kind: "done", id: TRAIN, text: `${TRAIN} done in 8.0s (final_loss=1.235)` }])
  })

  it("keeps only the last SPARK_POINTS losses", () => {
    const metrics: Array<RunEvent> = Array.from({ length: SPARK_POINTS + 5 }, (_, n) => ({
      type: "stage-metric", at: T0 + n, id: TRAIN, step: n, name: "loss", value: n,
    }))
    const losses = fold([runStarted, ...metrics]).instances[TRAIN]?.losses
    expect(losses).toHaveLength(SPARK_POINTS)
    expect(losses?.[0]).toBe(5)
  })

  it("records failures, skips and the end of the run", () => {
    const s = fold([
      runStarted,
      { type: "stage-failed", at: T0 + 5, id: TRAIN, error: { tag: "StageError", reason: "Diverged", message: "loss is NaN at step 41" } },
      { type: "stage-skipped", at: T0 + 6, id: "eval[method=lora,seed=1]", because: TRAIN },
      { type: "stage-log", at: T0 + 7, id: "eval[method=vera,seed=1]", level: "warn", message: "small split" },
      { type: "run-finished", at: T0 + 8, runId: 7, status: "failed", durationMs: 8, counts: { cached: 2, succeeded: 0, failed: 1, interrupted: 0, skipped: 1 } },
    ])
    expect(countStates(s)).toMatchObject({ failed: 1, skipped: 1, cached: 2, pending: 8 })
    expect(s.logs.map((l) => [l.kind, l.text])).toEqual([
      ["error", `${TRAIN} failed: Diverged: loss is NaN at step 41`],
      ["warn", "small split"],
    ])
    expect(s.end).toEqual({ status: "failed", durationMs: 8 })
    expect(s.lastAt).toBe(T0 + 8)
  })

  it("ignores events for ids the plan did not announce", () => {
    const s = fold([runStarted])
    const after = reduce(s, { type: "stage-started", at: T0 + 1, id: "nope", worker: 0 })
    expect(after.instances).toBe(s.instances)
  })

  it("does not mutate the state it is given", () => {
    const s = fold([runStarted])
    const frozen = JSON.stringify(s)
    reduce(s, { type: "stage-started", at: T0 + 1, id: TRAIN, worker: 0 })
    expect(JSON.stringify(s)).toBe(frozen)
  })
})
