/** Stage resources: the YAML is validated at plan time (exit 2, file:line:col); flags for sbatch. */
import { describe, expect, it } from "vitest"
import { parseResources, sbatchFlags, slurmTime } from "../../../src/engine/executors/resources.ts"
import { runCli, tempDir, writePipeline } from "../../cli/helpers.ts"
import { existsSync } from "node:fs"
import * as path from "node:path"

describe("resources", () => {
  it("time units become Slurm minutes; Slurm's own formats pass through", () => {
    expect(["30m", "2h", "1h30m", "90s", "1d", "59s", "10", "1:30:00", "2-12"].map(slurmTime)).toEqual(["30", "120", "90", "2", "1440", "1", "10", "1:30:00", "2-12"])
  })

  it("sbatch flags: gpus become --gres, zero gpus none", () => {
    expect(sbatchFlags({ cpus: 2, mem: "4G", time: "30m", gpus: 1, partition: "gpu" })).toEqual(["--cpus-per-task=2", "--mem=4G", "--time=30", "--gres=gpu:1", "--partition=gpu"])
    expect(sbatchFlags({ gpus: 0 })).toEqual([])
  })

  it("--resources: key=value pairs decoded by the same schema", () => {
    expect(parseResources("cpus=2,mem=512M,time=1h")).toEqual({ cpus: 2, mem: "512M", time: "1h" })
    expect(parseResources("cpu=2")).toMatch(/expected key=value pairs with keys cpus, mem, time, gpus, partition, got "cpu=2"/)
    expect(parseResources("cpus=two")).toMatch(/Expected.*got "two"|expected/i)
  })

  it("malformed resources in YAML: exit 2 with file:line:col for each, nothing written", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "bad.yaml", `name: bad
stages:
  src:
    kind: fake-source
    resources: { cpus: 0, mem: 4X, time: soon, gpu: 1 }
`)
    const runs = path.join(dir, "runs")
    const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--executor", "slurm"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file}:5:24: stages.src.resources.cpus: expected a value greater than 0, got 0`)
    expect(r.stderr).toContain(`${file}:5:32: stages.src.resources.mem: expected a memory size like 4G, 500M or 1024 (MB), got "4X"`)
    expect(r.stderr).toContain(`${file}:5:42: stages.src.resources.time: expected a time limit like 30m, 2h, 1h30m or Slurm's HH:MM:SS, got "soon"`)
    expect(r.stderr).toContain(`${file}:5:48: stages.src.resources.gpu: unknown key "gpu" (did you mean "gpus"?)`)
    expect(existsSync(runs)).toBe(false)
  })

  it("--executor and --resources are checked like the other flags (exit 2)", async () => {
    const dir = tempDir()
    const file = writePipeline(dir, "ok.yaml", `name: ok\nstages:\n  src: { kind: fake-source }\n`)
    expect((await runCli(["run", file, "--executor", "pbs"])).stderr).toContain(`--executor must be one of local, slurm, got "pbs"`)
    const r = await runCli(["run", file, "--resources", "mem=lots"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--resources: ")
  })
})
