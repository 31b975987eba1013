/** `--executor slurm` on screen: stage-slurm events fold into the instance's view, the running line and --plain. */
import { render } from "ink-testing-library"
import { describe, expect, it } from "vitest"
import type { RunEvent } from "../../src/contracts/events.ts"
import { Running, slurmText } from "../../src/ui/components/Running.tsx"
import { formatPlain } from "../../src/ui/plain.ts"
import { initialState, reduce } from "../../src/ui/state.ts"
import { runStarted, T0 } from "./events.ts"

const id = "attach-adapter[method=lora]"
const events: ReadonlyArray<RunEvent> = [
  runStarted,
  { type: "stage-started", at: T0 + 1, id, worker: 0 },
  { type: "stage-slurm", at: T0 + 2, id, jobId: "42", state: "PENDING", reason: "Priority" },
]

describe("Slurm states on the dashboard", () => {
  it("pending with its reason, then running on its node", () => {
    const pending = events.reduce(reduce, initialState)
    expect(pending.instances[id]!.slurm).toEqual({ jobId: "42", state: "PENDING", reason: "Priority" })
    expect(slurmText(pending.instances[id]!)).toBe("job 42 PENDING (Priority)")
    const running = reduce(pending, { type: "stage-slurm", at: T0 + 3, id, jobId: "42", state: "RUNNING", node: "node3" })
    expect(slurmText(running.instances[id]!)).toBe("job 42 on node3")
    const frame = render(<Running running={[running.instances[id]!]} columns={80} now={T0 + 4} />).lastFrame()
    expect(frame).toContain(`▶ ${id}  running 0:00  job 42 on node3`)
  })

  it("--plain prints one line per state change", () => {
    expect(formatPlain({ type: "stage-slurm", at: T0, id, jobId: "42", state: "PENDING", reason: "Resources" })).toBe(`slurm     ${id}: job 42 PENDING (Resources)`)
    expect(formatPlain({ type: "stage-slurm", at: T0, id, jobId: "42", state: "RUNNING", node: "vm" })).toBe(`slurm     ${id}: job 42 RUNNING on vm`)
  })
})
