/**
 * The dashboard in a real terminal: the real CLI (with stand-in train/eval kinds, so it takes
 * seconds) runs inside a detached tmux session; the test captures the screen as the run goes
 * and checks that the grid fills cell by cell and that the run ends with the comparison table.
 *
 * tmux runs on its own socket (`-L`), so no other tmux server is touched; `-u` forces UTF-8.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { needs } from "../setup/facilities.ts"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
/** tmux from PATH. Without it these tests are skipped saying so (tests/setup/facilities.ts); .ci/run installs it. */
const TMUX = (process.env["PATH"] ?? "").split(path.delimiter).map((d) => path.join(d, "tmux")).find((f) => existsSync(f))
const ENTRY = "tests/e2e/tmux-cli.ts"
const SOCKET = `peftlab-e2e-${process.pid}`
/** The CLI hands the dashboard a comparison callback (src/cli/main.ts). */

// Values in params make each cell's fingerprint distinct (the stand-in eval reads its factors).
const PIPELINE = `name: tmux-e2e
matrix:
  method: [lora, vera]
  seed: [1, 2]
stages:
  data:
    kind: fake-source
    params: { value: 1, durationMs: 200 }
  train:
    kind: train
    foreach: [method, seed]
    needs: { source: data }
    params: { value: "\${method}-\${seed}", durationMs: 1200, steps: 12 }
  eval:
    kind: eval
    foreach: [method, seed]
    needs: { source: train }
    params: { value: "\${method}-\${seed}", durationMs: 100 }
`

const tmux = (...args: ReadonlyArray<string>): string => {
  if (TMUX === undefined) throw new Error("tmux is not on PATH: this test runs the real CLI in a real terminal — install tmux (Debian: apt-get install tmux)")
  return execFileSync(TMUX, ["-L", SOCKET, "-u", "-f", "/dev/null", ...args], { encoding: "utf8" })
}
const screen = (): string => tmux("capture-pane", "-p", "-J", "-t", "e2e")

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/** The grid rows of the last frame on a screen: `method seed …` header, then one row per cell. */
const gridRows = (text: string): ReadonlyArray<string> => {
  const lines = text.split("\n")
  const header = lines.findLastIndex((l) => l.startsWith("method seed"))
  return header < 0 ? [] : lines.slice(header + 2, header + 6)
}
const count = (rows: ReadonlyArray<string>, glyph: string) => rows.join("").split(glyph).length - 1

describe("dashboard in tmux", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "peftlab-tmux-"))
  const snapshots: Array<string> = []
  const present = needs("tmux")

  beforeAll(async () => {
    if (!present) return
    const file = path.join(dir, "tmux-e2e.yaml")
    writeFileSync(file, PIPELINE)
    const env = "env -u CI -u CONTINUOUS_INTEGRATION -u NODE_ENV -u VITEST -u VITEST_POOL_ID -u VITEST_WORKER_ID"
    const cli = `node --import tsx ${ENTRY} run ${shellQuote(file)} --runs-dir ${shellQuote(path.join(dir, "runs"))} --jobs 2`
    tmux("new-session", "-d", "-x", "100", "-y", "50", "-s", "e2e", `cd ${shellQuote(ROOT)} && ${env} ${cli} 2>/dev/null; echo EXIT=$?; sleep 120`)
    const deadline = Date.now() + 90_000
    while (Date.now() < deadline) {
      const now = screen()
      if (now !== snapshots.at(-1)) snapshots.push(now)
      if (/^EXIT=\d+/m.test(now)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`the run did not end; last screen:\n${snapshots.at(-1) ?? ""}`)
  }, 100_000)

  afterAll(() => {
    try {
      tmux("kill-server")
    } catch {
      // The server is already gone.
    }
    rmSync(dir, { recursive: true, force: true })
  })

  it("fills the grid cell by cell while stages run", () => {
    const final = snapshots.at(-1) ?? ""
    expect(final).toMatch(/^EXIT=0$/m)
    const withGrid = snapshots.filter((s) => gridRows(s).length === 4)
    expect(withGrid.length).toBeGreaterThan(2)
    const done = withGrid.map((s) => count(gridRows(s), "✓"))
    // Starts empty, never goes back, ends with 4 train + 4 eval cells done.
    expect(done[0]).toBe(0)
    expect(done.every((n, i) => i === 0 || n >= (done[i - 1] ?? 0))).toBe(true)
    expect(done.at(-1)).toBe(8)
    expect(new Set(done).size).toBeGreaterThan(2)
    // A training stage was seen running: a glyph with its percentage, and its progress line.
    expect(withGrid.some((s) => /▶ \d+%/.test(gridRows(s).join("\n")))).toBe(true)
    expect(snapshots.some((s) => /▶ train\[method=\w+,seed=\d\]  \d+\/12/.test(s))).toBe(true)
    expect(final).toContain("tmux-e2e · run #1")
    expect(final).toContain("succeeded")
  })

  it("leaves a database that `peftlab compare` reads", () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", ENTRY, "compare", "--runs-dir", path.join(dir, "runs")], {
      cwd: ROOT,
      encoding: "utf8",
    })
    expect(out).toMatch(/^lora +2 +0\.715 ± 0\.064 +0\.665 ± 0\.064/m)
    expect(out).toMatch(/^vera +2 +0\.815 ± 0\.064/m)
    expect(out).toMatch(/^majority class +2 +0\.600 ± 0\.000/m)
  })

  it("ends with the comparison table under the grid", () => {
    const final = snapshots.at(-1) ?? ""
    // accuracy = 0.70 (+0.10 for vera) + seed/100: lora 0.71, 0.72 → 0.715 ± t_{0.975,1}·0.00707/√2 = 0.064.
    expect(final).toMatch(/^lora +2 +0\.715 ± 0\.064/m)
    expect(final).toMatch(/^vera +2 +0\.815 ± 0\.064/m)
    expect(final).toMatch(/^vera +2 +\+0\.100 ± 0\.000/m)
    expect(final.indexOf("0.715 ± 0.064")).toBeGreaterThan(final.lastIndexOf("method seed"))
  })
})
