/**
 * A full disk, on a tmpfs runs directory the test mounts: filled during an artifact write, during
 * a checkpoint, and during SQLite's commit. Each: exit 1 within seconds (a sibling stage that
 * would otherwise run forever is interrupted), a message saying what filled up and where, no
 * temporary files, nothing partial committed; a rerun with space resumes (from the last good
 * checkpoint) and ends with the same artifact digests as a clean run on a roomy disk.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli, tempDir, writePipeline } from "../cli/helpers.ts"
import { needs } from "../setup/facilities.ts"
import { digests, expectNothingPartial, filesUnder, mountTmpfs, runProcess, unmountAll } from "./helpers.ts"

needs("tmpfs")
afterAll(unmountAll)

interface Knobs {
  readonly hold: string
  readonly arm: string
  readonly ballast: string
}

/** `faulty` is the stage that meets the full disk; `slow` holds until the test lets it go. */
const pipeline = (faulty: string, k: Knobs) => `name: full-disk
stages:
  a: { kind: fake-source, params: { value: 1 } }
  faulty: { kind: fake-step, needs: { source: a }, params: ${faulty} }
  slow: { kind: fake-source, params: { value: 2, holdWhileExists: "${k.hold}" } }
`

const CASES = {
  "an artifact write": () => `{ value: 3, writeBytes: 3000000 }`,
  "a checkpoint": (k: Knobs) => `{ value: 3, steps: 6, checkpointBytes: 200000, fillDisk: "${k.ballast}", fillIfExists: "${k.arm}", fillAtStep: 4 }`,
  "SQLite's commit": (k: Knobs) => `{ value: 3, steps: 1500, fillDisk: "${k.ballast}", fillIfExists: "${k.arm}" }`,
} as const

/** The same pipeline on a roomy disk, nothing held or armed: the digests a rerun must match. */
const cleanDigests = async (name: keyof typeof CASES): Promise<Readonly<Record<string, string>>> => {
  const dir = tempDir()
  const k = { hold: path.join(dir, "no-hold"), arm: path.join(dir, "not-armed"), ballast: path.join(dir, "ballast") }
  const file = writePipeline(dir, "clean.yaml", pipeline(CASES[name](k), k))
  const runs = path.join(dir, "runs")
  const r = await runCli(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
  expect(r.code, r.stdout + r.stderr).toBe(0)
  return digests(runs)
}

describe("a full disk fails the stage cleanly and loses nothing", () => {
  for (const name of Object.keys(CASES) as Array<keyof typeof CASES>) {
    it(`filled during ${name}: exit 1 within seconds, clear message, no tmp files; a rerun with space matches a clean run`, async () => {
      const dir = tempDir()
      const mnt = mountTmpfs(2)
      const runs = path.join(mnt, "runs")
      const k = { hold: path.join(dir, "hold"), arm: path.join(dir, "arm"), ballast: path.join(mnt, "ballast") }
      writeFileSync(k.hold, "")
      writeFileSync(k.arm, "")
      const file = writePipeline(dir, "full.yaml", pipeline(CASES[name](k), k))

      const r = await runProcess(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
      console.log(`full disk during ${name}: exit ${r.code}, ${r.secondsAfterFailure?.toFixed(1)} s after the FAILED line (${r.seconds.toFixed(1)} s in all)\n${r.output.split("\n").filter((l) => /FAILED|peftlab:|interrupted/.test(l)).join("\n")}`)
      expect(r.code, r.output).toBe(1)
      // Ends within the grace period (3 s) plus bookkeeping, though `slow` would hold forever.
      expect(r.secondsAfterFailure).toBeLessThan(8)
      expect(r.output).toMatch(/FAILED\s+faulty: (ENOSPC|SQLITE_FULL): .*(no space left on the device \(ENOSPC\)|disk is full \(SQLITE_FULL\)) while .* at \//)
      expect(r.output).toMatch(/interrupted slow/)
      expect(r.output).not.toMatch(/internal error|    at /)
      expectNothingPartial(runs)
      if (name === "a checkpoint") {
        const ckpt = filesUnder(path.join(runs, "scratch")).filter((f) => f.endsWith("ckpt.bin"))
        expect(ckpt).toHaveLength(1)
        expect(readFileSync(path.join(runs, "scratch", ckpt[0]!)).readUInt32LE(0)).toBe(3)
      }

      // Make room, let the slow stage finish, and run again.
      rmSync(k.ballast, { force: true })
      rmSync(k.arm)
      rmSync(k.hold)
      execFileSync("mount", ["-o", "remount,size=16m", mnt])
      const again = await runProcess(["run", file, "--runs-dir", runs, "--plain", "--jobs", "2"])
      expect(again.code, again.output).toBe(0)
      expect(again.output).toMatch(/cached\s+a\n/)
      if (name === "a checkpoint") expect(again.output).toMatch(/faulty: resumed from the checkpoint at step 3/)
      expectNothingPartial(runs)
      expect(digests(runs)).toEqual(await cleanDigests(name))
    }, 90_000)
  }
})
