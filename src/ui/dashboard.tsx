/**
 * The live dashboard as an `EventSink`. Every event is folded into the state at once
 * (`reduce` is cheap and pure); drawing is throttled to at most 10 frames per second on a
 * timer, so `onEvent` never waits for the terminal. A 1 s tick keeps the clocks moving
 * while no events arrive.
 *
 * The comparison: `opts.comparison` is called once, in `close()` — after the engine has
 * written the run's last rows to SQLite — and its text is drawn under the grid in the final
 * frame, which stays on the screen.
 */
import { render } from "ink"
import type { RunEvent } from "../engine/events.ts"
import { Dashboard } from "./components/Dashboard.tsx"
import type { EventSink } from "./sink.ts"
import { initialState, reduce, type DashboardState } from "./state.ts"

export interface DashboardOptions {
  readonly stdout: NodeJS.WriteStream
  /** Fixed width (tests); otherwise the terminal's, following resizes. */
  readonly columns?: number
  readonly comparison?: () => string | undefined
  /** Called after each throttled draw (tests and benchmarks count frames with it). */
  readonly onDraw?: () => void
}

/** 10 frames per second at most. */
export const MIN_FRAME_MS = 100
const TICK_MS = 1000

export const makeDashboard = (opts: DashboardOptions): EventSink => {
  let state: DashboardState = initialState
  let comparison: string | undefined
  let timer: NodeJS.Timeout | undefined
  let lastDraw = 0
  let closed = false
  const frame = () => (
    <Dashboard
      state={state}
      now={Date.now()}
      columns={opts.columns ?? opts.stdout.columns ?? 80}
      comparison={comparison}
    />
  )
  const ink = render(frame(), { stdout: opts.stdout, exitOnCtrlC: false, patchConsole: false, maxFps: 10 })
  const draw = (): void => {
    timer = undefined
    ink.rerender(frame())
    // Measured after drawing: a slow frame cannot eat into the next one's pause.
    lastDraw = Date.now()
    opts.onDraw?.()
  }
  const schedule = (): void => {
    if (timer !== undefined || closed) return
    timer = setTimeout(draw, Math.max(0, lastDraw + MIN_FRAME_MS - Date.now()))
    timer.unref()
  }
  const tick = setInterval(schedule, TICK_MS)
  tick.unref()
  opts.stdout.on("resize", schedule)
  return {
    onEvent: (event: RunEvent) => {
      state = reduce(state, event)
      schedule()
    },
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(tick)
      clearTimeout(timer)
      opts.stdout.off("resize", schedule)
      comparison = safeComparison(opts.comparison)
      ink.rerender(frame())
      ink.unmount()
      await ink.waitUntilExit()
    },
  }
}

const safeComparison = (make: (() => string | undefined) | undefined): string | undefined => {
  try {
    return make?.()
  } catch (error) {
    return `comparison unavailable: ${error instanceof Error ? error.message : String(error)}`
  }
}
