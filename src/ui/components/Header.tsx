/** The first two lines: what runs where, for how long, and how many stages are in each state. */
import { Box, Text } from "ink"
import { clock, GLYPHS, COLORS } from "../format.ts"
import type { InstanceState, RunEnd, RunHeader } from "../state.ts"

export interface HeaderProps {
  readonly run?: RunHeader
  readonly counts: Readonly<Record<InstanceState, number>>
  readonly elapsedMs: number
  readonly end?: RunEnd
}

const SHOWN: ReadonlyArray<readonly [InstanceState, string]> = [
  ["cached", "cached"],
  ["running", "running"],
  ["succeeded", "done"],
  ["failed", "failed"],
  ["skipped", "skipped"],
  ["interrupted", "interrupted"],
  ["pending", "pending"],
]

export const Header = ({ run, counts, elapsedMs, end }: HeaderProps) => (
  <Box flexDirection="column">
    <Text wrap="truncate">
      <Text bold>peftlab</Text>
      {run === undefined
        ? " · waiting for the plan…"
        : ` · ${run.pipeline} · run #${run.runId} · ${run.backend} · ${run.jobs} job${run.jobs === 1 ? "" : "s"} · ${clock(elapsedMs)}`}
      {end === undefined ? "" : <Text color={end.status === "succeeded" ? "green" : "red"}>{` · ${end.status}`}</Text>}
    </Text>
    <Text wrap="truncate">
      {SHOWN.filter(([state]) => counts[state] > 0 || state !== "interrupted").map(([state, label], n) => (
        <Text key={state} color={counts[state] > 0 ? COLORS[state] : "gray"}>
          {`${n === 0 ? "" : "  "}${GLYPHS[state]} ${counts[state]} ${label}`}
        </Text>
      ))}
    </Text>
  </Box>
)
