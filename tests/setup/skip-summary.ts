/**
 * A vitest reporter (next to the default one): at the end of the run, every test skipped for a
 * missing facility (tests/setup/facilities.ts), grouped by reason, with the command that
 * provides it — so a skip is never silent. Under PEFTLAB_REQUIRE_ALL=1 such a skip fails the run
 * (facilities.ts already fails the test itself; this catches a `ctx.skip(note)` made elsewhere).
 */
import * as path from "node:path"
import type { Reporter, TestCase } from "vitest/node"

/** Between a note's reason and its command (facilities.ts writes notes so). */
export const PROVIDE = " — provide it: "

export default class SkipSummary implements Reporter {
  /** note → test files and test count. */
  private readonly skipped = new Map<string, { files: Set<string>; tests: number }>()

  onTestRunStart(): void {
    this.skipped.clear()
  }

  onTestCaseResult(test: TestCase): void {
    const r = test.result()
    if (r.state !== "skipped" || r.note === undefined) return
    const entry = this.skipped.get(r.note) ?? { files: new Set<string>(), tests: 0 }
    entry.files.add(path.relative(process.cwd(), test.module.moduleId))
    entry.tests++
    this.skipped.set(r.note, entry)
  }

  onTestRunEnd(): void {
    if (this.skipped.size === 0) return
    const total = [...this.skipped.values()].reduce((n, e) => n + e.tests, 0)
    const lines = [`SKIPPED ${total} test${total === 1 ? "" : "s"} for missing facilities (PEFTLAB_REQUIRE_ALL=1 makes each a failure):`]
    for (const [note, e] of this.skipped) {
      const [why, provide] = note.split(PROVIDE)
      lines.push(`  ${e.tests} × ${why}`, ...(provide === undefined ? [] : [`      provide it: ${provide}`]), `      in ${[...e.files].sort().join(", ")}`)
    }
    process.stdout.write(`\n${lines.join("\n")}\n`)
    if (process.env["PEFTLAB_REQUIRE_ALL"] === "1") process.exitCode = 1
  }
}
