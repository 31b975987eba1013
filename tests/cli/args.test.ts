/** Command-line handling that needs no pipeline: usage errors exit 2 and write nothing. */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseCommand, UsageError } from "../../src/cli/args.ts"
import { ROOT, runCli, tempDir } from "./helpers.ts"

describe("cli arguments", () => {
  it.each([
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["run"], "run: expected <pipeline.yaml>"],
    [["run", "p.yaml", "--jobs", "0"], "--jobs must be a positive integer"],
    [["run", "p.yaml", "--backend", "tpu"], '--backend must be one of auto, tensorflow, native, wasm, cpu, got "tpu"'],
    [["run", "p.yaml", "--plain", "--json"], "--plain and --json exclude each other"],
    [["status", "p.yaml", "--bogus"], "unknown option --bogus"],
    [["compare", "--frmat", "md"], 'unknown option --frmat (did you mean "format"?)'],
    [["stauts", "p.yaml"], 'unknown command "stauts" (did you mean "status"?)'],
    // Flags are per command: another command's flag is an error naming what this one takes.
    [["status", "p.yaml", "--jobs", "2"], "status does not take --jobs (it takes --json, --backend, --runs-dir, --resources)"],
    [["status", "p.yaml", "-j2"], "status does not take -j"],
    [["why", "p.yaml", "x", "--force", "x"], "why does not take --force"],
    [["compare", "--out", "x.svg"], "compare does not take --out"],
    [["plot", "--out", "x.svg", "--format", "md"], "plot does not take --format"],
    [["runs", "--keep-going"], "runs does not take --keep-going"],
    [["gc", "--backend", "cpu"], "gc does not take --backend"],
    [["compare", "--run", "0"], "--run must be a positive integer"],
    [["compare", "--run", "x"], '--run must be a positive integer, got "x"'],
  ])("%j → exit 2: %s", async (argv, message) => {
    const r = await runCli(argv)
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
  })

  it("--version prints package.json's version; <command> --help prints that command's flags, exit 0", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }
    for (const argv of [["--version"], ["-V"]]) expect(await runCli(argv)).toEqual({ code: 0, stdout: `peftlab ${version}\n`, stderr: "" })
    const help = await runCli(["status", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout.split("\n")[0]).toBe("usage: peftlab status <pipeline.yaml> [options]")
    expect(help.stdout).toContain("--runs-dir DIR")
    expect(help.stdout).not.toContain("--jobs")
    expect((await runCli(["help", "run"])).stdout).toContain("-j, --jobs N")
    expect((await runCli(["run", "-h"])).stdout).toContain("--force ID-GLOB")
    // A usage error after a command prints that command's help, not the whole usage.
    const bad = await runCli(["plot"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("plot: --out <file.svg|file.png> is required\nusage: peftlab plot")
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

  it("compare/plot with an unreadable or nameless pipeline: exit 2 naming the file, never another pipeline's results", async () => {
    const dir = tempDir()
    const broken = path.join(dir, "broken.yaml")
    writeFileSync(broken, "name: [\n")
    const r = await runCli(["compare", broken, "--runs-dir", path.join(dir, "runs")])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:1: `))
    const nameless = path.join(dir, "nameless.yaml")
    writeFileSync(nameless, "stages: {}\n")
    const p = await runCli(["plot", nameless, "--out", path.join(dir, "x.svg"), "--runs-dir", path.join(dir, "runs")])
    expect(p).toMatchObject({ code: 2, stderr: `${nameless}: not a pipeline (no \`name:\`)\n` })
  })
})

describe("after a failure under the dashboard", () => {
  it("names the worker log and prints only the lines this run wrote, last ones last", async () => {
    const { workerLogTail } = await import("../../src/cli/main.ts")
    const dir = tempDir()
    const log = path.join(dir, "worker.log")
    writeFileSync(log, "an older run\n")
    const from = readFileSync(log).length
    writeFileSync(log, "an older run\n" + Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n")
    const text = workerLogTail(log, from, 3)
    expect(text).toBe(`worker log: ${log}, last 3 lines of this run:\n  line 18\n  line 19\n  line 20\n`)
    expect(workerLogTail(log, readFileSync(log).length)).toBe(`worker log: ${log} (nothing written by this run)\n`)
  })
})
