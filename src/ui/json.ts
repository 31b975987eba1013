/** `--json`: every RunEvent as one JSON object per line (the objects of src/contracts/events.ts). */
import type { EventSink } from "./sink.ts"
import { streamCloser } from "./sink.ts"

export const makeJsonSink = (out: NodeJS.WritableStream): EventSink => ({
  onEvent: (e) => {
    out.write(JSON.stringify(e) + "\n")
  },
  close: streamCloser(out),
})
