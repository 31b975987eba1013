/** The whole screen, drawn from a `DashboardState`: logs above, then header, grid and running stages. */
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
  /** Terminal height: the grid gives up rows to keep the live area on screen. */
  readonly rows?: number
}

/** Header, blank lines and the grid's header line. */
const CHROME_LINES = 6
/** Running stages listed at most; the grid already shows every one. */
const MAX_RUNNING = 6

export const Dashboard = ({ state, now, columns, rows }: DashboardProps) => {
  const startedAt = state.run?.startedAt ?? now
  const elapsed = state.end?.durationMs ?? now - startedAt
  const running = Object.values(state.instances)
    .filter((v) => v.state === "running")
    .sort(byStart)
  const shown = running.slice(0, MAX_RUNNING)
  const maxRows = rows === undefined ? undefined : Math.max(3, rows - CHROME_LINES - 2 * shown.length - 1)
  return (
    <Box flexDirection="column" width={columns}>
      <Logs logs={state.logs} startedAt={startedAt} />
      <Header run={state.run} counts={countStates(state)} elapsedMs={elapsed} end={state.end} />
      {state.grid.rows.length === 0 ? null : (
        <Box marginTop={1}>
          <Grid grid={state.grid} instances={state.instances} columns={columns} maxRows={maxRows} />
        </Box>
      )}
      {running.length === 0 ? null : (
        <Box marginTop={1}>
          <Running running={shown} columns={columns} now={now} />
        </Box>
      )}
      {running.length > shown.length ? <Text color="gray">{`  … and ${running.length - shown.length} more running`}</Text> : null}
    </Box>
  )
}

const byStart = (a: InstanceView, b: InstanceView): number =>
  (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.info.id.localeCompare(b.info.id)
