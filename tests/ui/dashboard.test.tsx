import { EventEmitter } from "node:events"
import { stripVTControlCharacters } from "node:util"
import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../src/contracts/events.ts"
import { makeDashboard, MIN_FRAME_MS } from "../../src/ui/dashboard.tsx"
import { runStarted, T0 } from "./events.ts"

/** Just enough of a TTY write stream for Ink: it records what is written. */
class FakeTty extends EventEmitter {
  readonly isTTY = true
  readonly columns = 80
  readonly rows = 40
  readonly chunks: Array<string> = []
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(String(chunk))
    return true
  }
  text(): string {
    return stripVTControlCharacters(this.chunks.join(""))
  }
}

const TRAIN = "train[method=lora,seed=1]"
const TOTAL = 1_000_000_000
const progress = (step: number): RunEvent => ({ type: "stage-progress", at: T0 + 1000 + step, id: TRAIN, step, total: TOTAL })
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("makeDashboard", () => {
  it("folds every event at once but draws at most once per MIN_FRAME_MS, never inside onEvent", async () => {
    const stdout = new FakeTty()
    const draws: Array<number> = []
    const sink = makeDashboard({ stdout: stdout as unknown as NodeJS.WriteStream, onDraw: () => draws.push(Date.now()) })
    sink.onEvent(runStarted)
    sink.onEvent({ type: "stage-started", at: T0 + 1000, id: TRAIN, worker: 1 })
    let step = 0
    while (draws.length < 4) {
      // A burst of events per turn of the event loop, like a busy worker pool.
      const before = draws.length
      for (let n = 0; n < 20; n++) sink.onEvent(progress(++step))
      expect(draws.length).toBe(before)
      await tick()
    }
    const gaps = draws.slice(1).map((t, n) => t - (draws[n] ?? 0))
    // Timers may fire up to a millisecond early by rounding.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_FRAME_MS - 1)
    expect(step).toBeGreaterThan(4 * 20)
    await sink.close()
    // The last event folded shows in the final frame, whatever frames were skipped.
    expect(stdout.text()).toContain(`${TRAIN}  ${step}/${TOTAL}`)
  })

  it("asks for the comparison on close and leaves it on screen under the grid", async () => {
    const stdout = new FakeTty()
    let asked = 0
    const sink = makeDashboard({
      stdout: stdout as unknown as NodeJS.WriteStream,
      comparison: () => {
        asked += 1
        return "method  accuracy\nlora    0.800 ± 0.050"
      },
    })
    sink.onEvent(runStarted)
    sink.onEvent({ type: "run-finished", at: T0 + 5000, runId: 7, status: "succeeded", durationMs: 5000, counts: { cached: 2, succeeded: 10, failed: 0, interrupted: 0, skipped: 0 } })
    expect(asked).toBe(0)
    await sink.close()
    await sink.close()
    expect(asked).toBe(1)
    const text = stdout.text()
    expect(text).toContain("run #7 · wasm · 2 jobs · 0:05 · succeeded")
    expect(text.lastIndexOf("lora    0.800 ± 0.050")).toBeGreaterThan(text.lastIndexOf("vera   2"))
  })

  it("shows why the comparison is missing instead of failing the run", async () => {
    const stdout = new FakeTty()
    const sink = makeDashboard({ stdout: stdout as unknown as NodeJS.WriteStream, columns: 60, comparison: () => { throw new Error("no runs recorded yet") } })
    sink.onEvent(runStarted)
    await sink.close()
    expect(stdout.text()).toContain("peftlab · quick")
    expect(stdout.text()).toContain("comparison unavailable: no runs recorded yet")
  })
})
