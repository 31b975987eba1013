/**
 * What the dashboard costs the scheduler's process: reducer throughput (every event) and
 * the time of one Ink frame (at most 10 per second) for a 5 methods × 3 seeds ablation at
 * 80 columns with 2 stages running (prints medians of 5 repeats). Run it as the CLI should
 * run: `NODE_ENV=production npx tsx bench/ui-render.tsx` (and without, to see React's dev build).
 */
import { EventEmitter } from "node:events"
import { performance } from "node:perf_hooks"
import { render } from "ink"
import type { InstanceInfo, RunEvent } from "../src/contracts/events.ts"
import { Dashboard } from "../src/ui/components/Dashboard.tsx"
import { initialState, reduce, type DashboardState } from "../src/ui/state.ts"

const METHODS = ["lora", "lora-fa", "vera", "delta-lora", "lora-plus"]
const SEEDS = [1, 2, 3]
const T0 = 1_700_000_000_000

const info = (kind: string, factors: InstanceInfo["factors"]): InstanceInfo => {
  const f = Object.entries(factors).map(([k, v]) => `${k}=${v}`).join(",")
  return { id: f === "" ? kind : `${kind}[${f}]`, stage: kind, kind, factors, plan: "pending" }
}

const instances: Array<InstanceInfo> = [
  info("tokenize", {}),
  info("build-model", {}),
  ...METHODS.flatMap((method) => SEEDS.flatMap((seed) => ["attach-adapter", "train", "eval", "merge"].map((k) => info(k, { method, seed })))),
]

const started: RunEvent = {
  type: "run-started", at: T0, runId: 1, pipeline: "ablation", pipelinePath: "pipelines/ablation.yaml", backend: "wasm", jobs: 2,
  axes: [{ name: "method", values: METHODS }, { name: "seed", values: SEEDS }], instances,
}

const running = ["train[method=lora,seed=1]", "train[method=vera,seed=2]"]
const stepEvents = (steps: number): Array<RunEvent> =>
  Array.from({ length: steps }, (_, s) => running.flatMap((id): Array<RunEvent> => [
    { type: "stage-progress", at: T0 + s, id, step: s, total: steps, tokensPerSec: 5000 },
    { type: "stage-metric", at: T0 + s, id, step: s, name: "loss", value: 3 * Math.exp(-s / 100) },
  ])).flat()

const median = (xs: Array<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

const reducerRate = (): number => {
  const events = stepEvents(10_000)
  const start = [started, ...running.map((id): RunEvent => ({ type: "stage-started", at: T0, id, worker: 0 }))].reduce(reduce, initialState)
  const t = performance.now()
  events.reduce(reduce, start)
  return events.length / ((performance.now() - t) / 1000)
}

class NullTty extends EventEmitter {
  readonly isTTY = true
  readonly columns = 80
  readonly rows = 60
  write(): boolean {
    return true
  }
}

const frameMs = (state: DashboardState, frames: number): number => {
  const stdout = new NullTty() as unknown as NodeJS.WriteStream
  const ink = render(<Dashboard state={state} now={T0} columns={80} />, { stdout, patchConsole: false, exitOnCtrlC: false, debug: true })
  const times: Array<number> = []
  for (let n = 0; n < frames; n++) {
    const t = performance.now()
    ink.rerender(<Dashboard state={state} now={T0 + n * 100} columns={80} />)
    times.push(performance.now() - t)
  }
  ink.unmount()
  return median(times)
}

const state = [started, ...running.map((id): RunEvent => ({ type: "stage-started", at: T0, id, worker: 0 })), ...stepEvents(200)].reduce(reduce, initialState)
const rates: Array<number> = []
const frames: Array<number> = []
for (let r = 0; r < 5; r++) {
  rates.push(reducerRate())
  frames.push(frameMs(state, 100))
}
console.log(`reducer: median ${Math.round(median(rates)).toLocaleString("en-US")} events/s over 5 repeats (${rates.map((x) => Math.round(x / 1000)).join(", ")} k)`)
console.log(`frame (Dashboard rerender, 17 rows × 6 kinds, 2 running, 80 cols): median ${median(frames).toFixed(2)} ms (${frames.map((x) => x.toFixed(2)).join(", ")})`)
console.log(`at 10 frames/s: ${(median(frames) / 100 * 100).toFixed(1)}% of one core in the parent`)
