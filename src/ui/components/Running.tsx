/** One block per running stage: progress bar, step/total, tokens/s, ETA and the loss sparkline. */
import { Box, Text } from "ink"
import { bar, clock, compact, etaMs, fit, sparkline } from "../format.ts"
import type { InstanceView } from "../state.ts"

export interface RunningProps {
  readonly running: ReadonlyArray<InstanceView>
  readonly columns: number
  readonly now: number
}

const INDENT = 2

/** `120/400  5.2k tok/s  ETA 0:53` — the parts that are known. */
export const progressText = (view: InstanceView, now: number): string => {
  const p = view.progress
  if (p === undefined) return view.startedAt === undefined ? "" : `running ${clock(now - view.startedAt)}`
  const eta = etaMs(p)
  return [
    `${p.step}/${p.total}`,
    p.tokensPerSec === undefined ? undefined : `${compact(p.tokensPerSec)} tok/s`,
    eta === undefined ? undefined : `ETA ${clock(eta)}`,
    p.message,
  ]
    .filter((s): s is string => s !== undefined && s !== "")
    .join("  ")
}

/** `--executor slurm`: `job 42 PENDING (Priority)` or `job 42 on node3`. */
export const slurmText = (view: InstanceView): string => {
  const s = view.slurm
  if (s === undefined) return ""
  return s.state === "RUNNING" ? `job ${s.jobId} on ${s.node ?? "?"}` : `job ${s.jobId} ${s.state}${s.reason ? ` (${s.reason})` : ""}`
}

/** Second line: the bar takes half the width, the loss sparkline and last value the rest. */
export const barLine = (view: InstanceView, columns: number): string => {
  const width = Math.max(10, columns - INDENT)
  const p = view.progress
  const last = view.losses.at(-1)
  const lossText = last === undefined ? "" : ` loss ${last.toFixed(3)}`
  const barWidth = p === undefined ? 0 : view.losses.length > 0 ? Math.floor(width / 2) : width
  const sparkWidth = Math.max(0, width - barWidth - lossText.length - 2)
  const left = p === undefined ? "" : bar(p.total > 0 ? p.step / p.total : 0, barWidth)
  const right = view.losses.length === 0 ? "" : `${sparkline(view.losses, sparkWidth)}${lossText}`
  return fit([left, right].filter((s) => s !== "").join("  "), width)
}

export const Running = ({ running, columns, now }: RunningProps) => (
  <Box flexDirection="column">
    {running.map((view) => (
      <Box key={view.info.id} flexDirection="column">
        <Text wrap="truncate">
          <Text color="cyan">{"▶ "}</Text>
          <Text bold>{view.info.id}</Text>
          {`  ${progressText(view, now)}`}
          {view.slurm === undefined ? null : <Text dimColor>{`  ${slurmText(view)}`}</Text>}
        </Text>
        {view.progress === undefined && view.losses.length === 0 ? null : (
          <Text color="cyan" wrap="truncate">{" ".repeat(INDENT) + barLine(view, columns)}</Text>
        )}
      </Box>
    ))}
  </Box>
)
