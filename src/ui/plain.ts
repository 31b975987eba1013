/** `--plain` (and any non-TTY stdout): one readable line per event. */
import type { RunEvent } from "../contracts/events.ts"
import type { EventSink } from "./sink.ts"
import { streamCloser } from "./sink.ts"

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`

const summaryText = (summary: Readonly<Record<string, number | string | boolean>>): string =>
  Object.entries(summary)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : String(v)}`)
    .join(" ")

/** The line for an event, or undefined for events too chatty for a log (progress, metrics). */
export const formatPlain = (e: RunEvent): string | undefined => {
  switch (e.type) {
    case "run-started": {
      const pending = e.instances.filter((i) => i.plan === "pending").length
      return `run ${e.runId}: ${e.pipeline} (${e.pipelinePath}) — ${e.instances.length} stages, ${pending} to run, ${e.jobs} jobs, backend ${e.backend}`
    }
    case "stage-cached":
      return `cached    ${e.id}`
    case "stage-started":
      return `started   ${e.id} (worker ${e.worker})`
    case "stage-slurm":
      return `slurm     ${e.id}: job ${e.jobId} ${e.state}${e.reason ? ` (${e.reason})` : ""}${e.node ? ` on ${e.node}` : ""}`
    case "stage-progress":
    case "stage-metric":
      return undefined
    case "stage-log":
      return `${e.level === "warn" ? "warning" : "log"}   ${e.id}: ${e.message}`
    case "stage-finished":
      return `finished  ${e.id} in ${seconds(e.durationMs)}${Object.keys(e.summary).length > 0 ? ` — ${summaryText(e.summary)}` : ""}`
    case "stage-failed":
      return `FAILED    ${e.id}: ${e.error.reason}: ${e.error.message}`
    case "stage-skipped":
      return `skipped   ${e.id} (${e.because})`
    case "stage-interrupted":
      return `interrupted ${e.id}`
    case "run-finished": {
      const counts = Object.entries(e.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ")
      return `run ${e.runId} ${e.status} in ${seconds(e.durationMs)}: ${counts || "nothing to do"}`
    }
  }
}

export const makePlainSink = (out: NodeJS.WritableStream): EventSink => ({
  onEvent: (e) => {
    const line = formatPlain(e)
    if (line !== undefined) out.write(line + "\n")
  },
  close: streamCloser(out),
})
