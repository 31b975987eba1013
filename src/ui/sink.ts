/** Where run events go: the Ink dashboard, one readable line per event, or JSON lines. */
import type { RunEvent } from "../contracts/events.ts"

export interface EventSink {
  readonly onEvent: (e: RunEvent) => void
  /** Flush and release the output; resolves once everything is written. */
  readonly close: () => Promise<void>
}

/** Writes to a stream and resolves `close` after the last write drained. */
export const streamCloser = (out: NodeJS.WritableStream) => (): Promise<void> =>
  new Promise((resolve) => {
    if (out.write("")) resolve()
    else out.once("drain", () => resolve())
  })
