/** Finished stages, warnings and errors, printed once above the live area (Ink's <Static>). */
import { Static, Text } from "ink"
import { clock } from "../format.ts"
import type { LogKind, LogLine } from "../state.ts"

export interface LogsProps {
  readonly logs: ReadonlyArray<LogLine>
  readonly startedAt: number
}

const COLOR: Readonly<Record<LogKind, string | undefined>> = {
  info: undefined,
  warn: "yellow",
  error: "red",
  done: "green",
}

const MARK: Readonly<Record<LogKind, string>> = { info: " ", warn: "!", error: "✗", done: "✓" }

export const Logs = ({ logs, startedAt }: LogsProps) => (
  <Static items={[...logs]}>
    {(line) => (
      <Text key={line.seq} color={COLOR[line.kind]} wrap="truncate">
        {`${clock(line.at - startedAt).padStart(5)} ${MARK[line.kind]} ${line.text}`}
      </Text>
    )}
  </Static>
)
