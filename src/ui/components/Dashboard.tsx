/** The whole screen, drawn from a `DashboardState`: logs above, then header, grid, running stages and, at the end, the comparison. */
import { Box, Text } from "ink"
import { countStates, type DashboardState, type InstanceView } from "../state.ts"
import { Grid } from "./Grid.tsx"
import { Header } from "./Header.tsx"
import { Logs } from "./Logs.tsx"
import { Running } from "./Running.tsx"

export interface DashboardProps {
  readonly state: DashboardState
  /** Wall clock for the elapsed time and running timers (epoch ms). */
  readonly now: number
  readonly columns: number
  /** The comparison table, drawn last (the sink asks for it when the run is over). */
  readonly comparison?: string
}

export const Dashboard = ({ state, now, columns, comparison }: DashboardProps) => {
  const startedAt = state.run?.startedAt ?? now
  const elapsed = state.end?.durationMs ?? now - startedAt
  const running = Object.values(state.instances)
    .filter((v) => v.state === "running")
    .sort(byStart)
  return (
    <Box flexDirection="column" width={columns}>
      <Logs logs={state.logs} startedAt={startedAt} />
      <Header run={state.run} counts={countStates(state)} elapsedMs={elapsed} end={state.end} />
      {state.grid.rows.length === 0 ? null : (
        <Box marginTop={1}>
          <Grid grid={state.grid} instances={state.instances} columns={columns} />
        </Box>
      )}
      {running.length === 0 ? null : (
        <Box marginTop={1}>
          <Running running={running} columns={columns} now={now} />
        </Box>
      )}
      {comparison === undefined ? null : (
        <Box marginTop={1}>
          <Text>{comparison}</Text>
        </Box>
      )}
    </Box>
  )
}

const byStart = (a: InstanceView, b: InstanceView): number =>
  (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.info.id.localeCompare(b.info.id)
