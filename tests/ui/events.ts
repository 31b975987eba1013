/** A small run for the UI tests: tokenize and build-model shared, attach-adapter per method, train and eval per method × seed. */
import type { InstanceInfo, RunEvent } from "../../src/contracts/events.ts"

export const T0 = 1_700_000_000_000

const instance = (kind: string, factors: InstanceInfo["factors"] = {}, plan: InstanceInfo["plan"] = "pending"): InstanceInfo => {
  const f = Object.entries(factors).map(([k, v]) => `${k}=${v}`).join(",")
  return { id: f === "" ? kind : `${kind}[${f}]`, stage: kind, kind, factors, plan }
}

export const methods = ["lora", "vera"] as const
export const seeds = [1, 2] as const

export const instances: ReadonlyArray<InstanceInfo> = [
  instance("tokenize", {}, "cached"),
  instance("build-model", {}, "cached"),
  ...methods.map((method) => instance("attach-adapter", { method })),
  ...methods.flatMap((method) => seeds.map((seed) => instance("train", { method, seed }))),
  ...methods.flatMap((method) => seeds.map((seed) => instance("eval", { method, seed }))),
]

export const runStarted: RunEvent = {
  type: "run-started",
  at: T0,
  runId: 7,
  pipeline: "quick",
  pipelinePath: "pipelines/quick.yaml",
  backend: "wasm",
  jobs: 2,
  axes: [
    { name: "method", values: [...methods] },
    { name: "seed", values: [...seeds] },
  ],
  instances,
}
