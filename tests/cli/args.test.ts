/** Command-line handling that needs no pipeline: usage errors exit 2 and write nothing. */
import { existsSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseCommand, UsageError } from "../../src/cli/args.ts"
import { runCli, tempDir } from "./helpers.ts"

describe("cli arguments", () => {
  it.each([
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["run"], "run: expected <pipeline.yaml>"],
    [["run", "p.yaml", "--jobs", "0"], "--jobs must be a positive integer"],
    [["run", "p.yaml", "--backend", "tpu"], '--backend must be one of auto, tensorflow, native, wasm, cpu, got "tpu"'],
    [["run", "p.yaml", "--plain", "--json"], "--plain and --json exclude each other"],
    [["status", "p.yaml", "--bogus"], "Unknown option '--bogus'"],
  ])("%j → exit 2: %s", async (argv, message) => {
    const r = await runCli(argv)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
  })

  it("runs dir: --runs-dir over PEFTLAB_RUNS_DIR over ./runs", () => {
    expect(parseCommand(["runs", "--runs-dir", "/x"], { PEFTLAB_RUNS_DIR: "/y" })).toMatchObject({ runsDir: "/x" })
    expect(parseCommand(["runs"], { PEFTLAB_RUNS_DIR: "/y" })).toMatchObject({ runsDir: "/y" })
    expect(parseCommand(["runs"], {})).toMatchObject({ runsDir: path.resolve("runs") })
    expect(parseCommand(["gc", "extra"], {})).toBeInstanceOf(UsageError)
  })

  it("a missing pipeline file is invalid input; runs and gc on no runs dir create nothing", async () => {
    const dir = tempDir()
    const runs = path.join(dir, "runs")
    const r = await runCli(["run", path.join(dir, "nope.yaml"), "--runs-dir", runs])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("nope.yaml:1:1: cannot read pipeline: no such file")
    expect((await runCli(["runs", "--runs-dir", runs])).code).toBe(0)
    expect((await runCli(["gc", "--runs-dir", runs])).code).toBe(0)
    expect(existsSync(runs)).toBe(false)
  })
})
