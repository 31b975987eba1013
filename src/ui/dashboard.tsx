/**
 * The live dashboard as an `EventSink`. Every event is folded into the state at once
 * (`reduce` is cheap and pure); drawing is throttled to at most 10 frames per second on a
 * timer, so `onEvent` never waits for the terminal. A 1 s tick keeps the clocks moving
 * while no events arrive.
 *
 * A frame costs a few milliseconds of Ink layout (bench/ui-render.tsx); the pause after a
 * frame grows with its cost so drawing stays under ~10% of one core on big grids. React's
 * development build (NODE_ENV unset) more than doubles that cost: the CLI entry should set
 * NODE_ENV=production before anything loads — before tsx too, which picks the JSX runtime
 * (jsx vs jsxDEV) from it; changing it later leaves React rendering nothing.
 *
 * The comparison: `opts.comparison` is called once, in `close()` — after the engine has
 * written the run's last rows to SQLite. Its text is printed under the final frame after
 * Ink lets go of the screen, so a tall table never pushes the live area past the terminal's
 * height (where Ink would clear the screen and its scrollback to redraw).
 */
import { performance } from "node:perf_hooks"
import { render } from "ink"
import type { RunEvent } from "../contracts/events.ts"
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
/** Pause ≥ this many times the last frame's cost: drawing takes at most 1/(1+9) of the time. */
const PAUSE_PER_COST = 9
const TICK_MS = 1000

export const makeDashboard = (opts: DashboardOptions): EventSink => {
  let state: DashboardState = initialState
  let closed = false
  const frame = () => (
    <Dashboard
      state={state}
      now={Date.now()}
      columns={opts.columns ?? opts.stdout.columns ?? 80}
      rows={opts.stdout.rows}
    />
  )
  // Ink's own throttle is set looser than ours so each of our frames is drawn at once (on
  // its leading edge) and its cost is measured here; ours is the one that limits.
  const ink = render(frame(), { stdout: opts.stdout, exitOnCtrlC: false, patchConsole: false, maxFps: 20 })
  const frames = throttle(() => {
    ink.rerender(frame())
    opts.onDraw?.()
  })
  const tick = setInterval(frames.request, TICK_MS)
  tick.unref()
  opts.stdout.on("resize", frames.request)
  return {
    onEvent: (event: RunEvent) => {
      state = reduce(state, event)
      if (!closed) frames.request()
    },
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(tick)
      frames.cancel()
      opts.stdout.off("resize", frames.request)
      ink.rerender(frame())
      ink.unmount()
      await ink.waitUntilExit()
      const comparison = safeComparison(opts.comparison)
      if (comparison !== undefined) opts.stdout.write(`\n${comparison.trimEnd()}\n`)
    },
  }
}

/**
 * Runs `draw` on a timer, at most once per pause, however often it is requested. The pause
 * is measured from the end of the last draw (a slow frame cannot eat into it) and is at
 * least PAUSE_PER_COST times that draw's cost.
 */
const throttle = (draw: () => void): { readonly request: () => void; readonly cancel: () => void } => {
  let timer: NodeJS.Timeout | undefined
  let lastDraw = 0
  let pause = MIN_FRAME_MS
  const run = (): void => {
    timer = undefined
    const start = performance.now()
    draw()
    lastDraw = Date.now()
    pause = Math.max(MIN_FRAME_MS, PAUSE_PER_COST * (performance.now() - start))
  }
  return {
    request: () => {
      if (timer !== undefined) return
      timer = setTimeout(run, Math.max(0, lastDraw + pause - Date.now()))
      timer.unref()
    },
    cancel: () => clearTimeout(timer),
  }
}

const safeComparison = (make: (() => string | undefined) | undefined): string | undefined => {
  try {
    return make?.()
  } catch (error) {
    return `comparison unavailable: ${error instanceof Error ? error.message : String(error)}`
  }
}
