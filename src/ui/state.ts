/**
 * The dashboard's view model and the pure reducer that folds the run's events into it.
 * Components only draw a `DashboardState`; nothing here touches the terminal, so the whole
 * screen logic is unit-testable by feeding events.
 */
import type { FactorValue, InstanceInfo, RunEvent, StageStatus } from "../contracts/events.ts"
import { layoutGrid, type GridLayout } from "./grid.ts"

export type InstanceState = "pending" | "running" | StageStatus

export interface Progress {
  readonly step: number
  readonly total: number
  readonly tokensPerSec?: number
  readonly message?: string
  /** First progress report seen: the ETA is the average rate since then. */
  readonly firstAt: number
  readonly firstStep: number
  readonly at: number
}

export interface InstanceView {
  readonly info: InstanceInfo
  readonly state: InstanceState
  readonly startedAt?: number
  readonly finishedAt?: number
  readonly progress?: Progress
  /** `--executor slurm`: the instance's job, its state and why it pends or where it runs. */
  readonly slurm?: { readonly jobId: string; readonly state: string; readonly reason?: string; readonly node?: string }
  /** The most recent training losses (per-step `loss` metrics), oldest first. */
  readonly losses: ReadonlyArray<number>
}

export type LogKind = "info" | "warn" | "error" | "done"

export interface LogLine {
  readonly seq: number
  readonly at: number
  readonly kind: LogKind
  readonly id?: string
  readonly text: string
}

export interface RunHeader {
  readonly runId: number
  readonly pipeline: string
  readonly backend: string
  readonly jobs: number
  readonly startedAt: number
  readonly axes: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<FactorValue> }>
}

export interface RunEnd {
  readonly status: "succeeded" | "failed" | "interrupted"
  readonly durationMs: number
}

export interface DashboardState {
  readonly run?: RunHeader
  readonly grid: GridLayout
  readonly instances: Readonly<Record<string, InstanceView>>
  /** Append-only: rendered through Ink's <Static>, which relies on items never moving. */
  readonly logs: ReadonlyArray<LogLine>
  readonly end?: RunEnd
  /** Time of the latest event (epoch ms). */
  readonly lastAt: number
}

/** How many losses the sparkline keeps per instance. */
export const SPARK_POINTS = 40

export const initialState: DashboardState = {
  grid: { axes: [], kinds: [], rows: [] },
  instances: {},
  logs: [],
  lastAt: 0,
}

export const reduce = (state: DashboardState, event: RunEvent): DashboardState => {
  const next = { ...state, lastAt: Math.max(state.lastAt, event.at) }
  switch (event.type) {
    case "run-started":
      return startRun(event)
    case "stage-cached":
      return update(next, event.id, (v) => ({ ...v, state: "cached" }))
    case "stage-started":
      return update(next, event.id, (v) => ({ ...v, state: "running", startedAt: event.at }))
    case "stage-slurm":
      return update(next, event.id, (v) => ({ ...v, slurm: { jobId: event.jobId, state: event.state, ...(event.reason ? { reason: event.reason } : {}), ...(event.node ? { node: event.node } : {}) } }))
    case "stage-progress":
      return update(next, event.id, (v) => ({ ...v, progress: advance(v.progress, event) }))
    case "stage-metric":
      return event.name === "loss" && event.step !== null
        ? update(next, event.id, (v) => ({ ...v, losses: [...v.losses, event.value].slice(-SPARK_POINTS) }))
        : next
    case "stage-log":
      return log(next, { at: event.at, kind: event.level, id: event.id, text: event.message })
    case "stage-finished":
      return log(finish(next, event.id, "succeeded", event.at), {
        at: event.at,
        kind: "done",
        id: event.id,
        text: `${event.id} done in ${formatSeconds(event.durationMs)}${summaryText(event.summary)}`,
      })
    case "stage-failed":
      return log(finish(next, event.id, "failed", event.at), {
        at: event.at,
        kind: "error",
        id: event.id,
        text: `${event.id} failed: ${event.error.reason}: ${event.error.message}`,
      })
    case "stage-skipped":
      return finish(next, event.id, "skipped", event.at)
    case "stage-interrupted":
      return finish(next, event.id, "interrupted", event.at)
    case "run-finished":
      return { ...next, end: { status: event.status, durationMs: event.durationMs } }
  }
}

export const countStates = (state: DashboardState): Readonly<Record<InstanceState, number>> => {
  const counts: Record<InstanceState, number> = {
    pending: 0, running: 0, cached: 0, succeeded: 0, failed: 0, interrupted: 0, skipped: 0,
  }
  for (const view of Object.values(state.instances)) counts[view.state] += 1
  return counts
}

const startRun = (event: Extract<RunEvent, { type: "run-started" }>): DashboardState => {
  const instances: Record<string, InstanceView> = {}
  // Cached instances are announced by the plan; `stage-cached` may follow, or not.
  for (const info of event.instances) {
    instances[info.id] = { info, state: info.plan === "cached" ? "cached" : "pending", losses: [] }
  }
  return {
    run: {
      runId: event.runId,
      pipeline: event.pipeline,
      backend: event.backend,
      jobs: event.jobs,
      startedAt: event.at,
      axes: event.axes,
    },
    grid: layoutGrid(event.axes, event.instances),
    instances,
    logs: [],
    lastAt: event.at,
  }
}

const update = (
  state: DashboardState,
  id: string,
  change: (view: InstanceView) => InstanceView,
): DashboardState => {
  const view = state.instances[id]
  // Events for unknown ids (a run-started we never saw) are dropped, not guessed at.
  return view === undefined ? state : { ...state, instances: { ...state.instances, [id]: change(view) } }
}

const finish = (state: DashboardState, id: string, to: InstanceState, at: number): DashboardState =>
  update(state, id, (v) => ({ ...v, state: to, finishedAt: at }))

const advance = (
  prev: Progress | undefined,
  e: Extract<RunEvent, { type: "stage-progress" }>,
): Progress => ({
  step: e.step,
  total: e.total,
  tokensPerSec: e.tokensPerSec ?? prev?.tokensPerSec,
  message: e.message ?? prev?.message,
  firstAt: prev?.firstAt ?? e.at,
  firstStep: prev?.firstStep ?? e.step,
  at: e.at,
})

const log = (state: DashboardState, line: Omit<LogLine, "seq">): DashboardState => ({
  ...state,
  logs: [...state.logs, { ...line, seq: state.logs.length }],
})

const summaryText = (summary: Readonly<Record<string, number | string | boolean>>): string => {
  const shown = ["accuracy", "final_loss", "trainable_params"]
    .filter((k) => summary[k] !== undefined)
    .map((k) => `${k}=${formatValue(summary[k])}`)
  return shown.length === 0 ? "" : ` (${shown.join(", ")})`
}

const formatValue = (v: number | string | boolean | undefined): string =>
  typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : String(v)

export const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`
