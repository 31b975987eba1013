/**
 * What some tests need from the machine beyond Node: tmux, a running Slurm, a tmpfs mount (root),
 * the native addon. A test that needs one calls `needs(...)` (for a whole file or describe) or
 * `needsHere(ctx, ...)` (inside one test). Where the facility is missing the test is skipped with a
 * note — what is missing and the command that provides it — and tests/setup/skip-summary.ts lists
 * those notes at the end of the run. Under PEFTLAB_REQUIRE_ALL=1 (.ci/run sets it) a missing
 * facility fails the test instead: CI runs everything.
 *
 * Probes run once per test process, when first asked, and take milliseconds (a `squeue`, a
 * mount and unmount of an empty tmpfs).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { beforeEach, type TestContext } from "vitest"
import { HOW_TO_GET_NATIVE, loadNative } from "../../src/model/kernels/native.ts"
import { PROVIDE } from "./skip-summary.ts"

export type Facility = "tmux" | "slurm" | "slurm-admin" | "tmpfs" | "native"

/** Where it is missing: why, and the command that provides it. */
interface Missing {
  readonly why: string
  readonly provide: string
}

export const REQUIRE_ALL = process.env["PEFTLAB_REQUIRE_ALL"] === "1"

const isRoot = (): boolean => process.getuid?.() === 0

const onPath = (name: string): string | undefined =>
  (process.env["PATH"] ?? "").split(path.delimiter).map((d) => path.join(d, name)).find((f) => existsSync(f))

const probes: Record<Facility, () => Missing | undefined> = {
  tmux: () => (onPath("tmux") === undefined ? { why: "tmux is not on PATH", provide: "apt-get install tmux (macOS: brew install tmux)" } : undefined),
  slurm: () => {
    const r = spawnSync("squeue", ["-h", "-o", "%i"], { encoding: "utf8" })
    if (r.status === 0) return undefined
    return {
      why: (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT" ? "Slurm is not installed (no squeue on PATH)" : `no Slurm cluster answers (squeue: ${r.error?.message ?? r.stderr.trim()})`,
      provide: "as root: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge && bash scripts/slurm-up.sh (the test setup runs slurm-up.sh itself when the tests run as root)",
    }
  },
  // scripts/slurm-up.sh runs the cluster with SlurmUser=root: only root may `scontrol update` a node or another's job end time.
  "slurm-admin": () =>
    isRoot() ? undefined : { why: "taking the node down and moving a job's end time (scontrol update) is for Slurm's admin, root on the local cluster", provide: "run the tests as root (sudo npm test)" },
  tmpfs: () => {
    const provide = "run the tests as root, or in a container with CAP_SYS_ADMIN (sudo npm test)"
    if (!isRoot()) return { why: "mounting a tmpfs needs root", provide }
    const dir = mkdtempSync(path.join(os.tmpdir(), "peftlab-probe-"))
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "pipe" })
      execFileSync("umount", [dir], { stdio: "pipe" })
      return undefined
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim()
      return { why: `mount -t tmpfs failed: ${stderr || String(e)}`, provide }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  native: () => {
    const s = loadNative()
    // The reason ends with its own how-to ("; to get it, …"): the provide line says it.
    return s.ok ? undefined : { why: s.reason.split("; to ")[0]!, provide: HOW_TO_GET_NATIVE }
  },
}

const known = new Map<Facility, Missing | undefined>()

/** Undefined where present; else why not and how to get it. */
export const missing = (f: Facility): Missing | undefined => {
  if (!known.has(f)) known.set(f, probes[f]())
  return known.get(f)
}

/** The note a skipped test carries (skip-summary.ts groups by it). */
export const note = (f: Facility, m: Missing): string => `${f}: ${m.why}${PROVIDE}${m.provide}`

/** Skips the running test where a facility is missing; under PEFTLAB_REQUIRE_ALL=1 fails it. */
export const needsHere = (ctx: TestContext, ...facilities: ReadonlyArray<Facility>): void => {
  for (const f of facilities) {
    const m = missing(f)
    if (m === undefined) continue
    if (REQUIRE_ALL) throw new Error(`PEFTLAB_REQUIRE_ALL=1 and ${note(f, m)}`)
    ctx.skip(note(f, m))
  }
}

/**
 * Every test of the enclosing file or describe needs these facilities. Returns whether all are
 * present, so that beforeAll/afterAll hooks which would use them can do nothing otherwise.
 */
export const needs = (...facilities: ReadonlyArray<Facility>): boolean => {
  beforeEach((ctx) => needsHere(ctx, ...facilities))
  return facilities.every((f) => missing(f) === undefined)
}
