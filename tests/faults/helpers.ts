/** The fault suite's tools: a tmpfs the test mounts itself, and what a clean store looks like. */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { expect } from "vitest"
import { spawnCli, tempDir } from "../cli/helpers.ts"

const mounted: Array<string> = []

/**
 * A fresh tmpfs of `mib` MiB. Tests that mount one call `needs("tmpfs")` (tests/setup/
 * facilities.ts): skipped with the reason where mounting is impossible, failed under CI.
 */
export const mountTmpfs = (mib: number): string => {
  const dir = tempDir("peftlab-tmpfs-")
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir], { stdio: "pipe" })
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e)
    throw new Error(`the fault suite mounts a small tmpfs to fill it and could not: ${stderr || String(e)} (run the tests as root, or in a container with CAP_SYS_ADMIN)`)
  }
  mounted.push(dir)
  return dir
}

export const unmountAll = (): void => {
  for (const dir of mounted.splice(0)) execFileSync("umount", ["-l", dir], { stdio: "pipe" })
}

/**
 * Runs the CLI as its own process; resolves with the exit code, output, seconds taken and
 * seconds from the first `FAILED` line to the exit (how long the run took to end after a fault).
 */
export const runProcess = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
  const t0 = Date.now()
  const child = spawnCli(argv, env)
  let failedAt: number | undefined
  const watch = () => {
    if (failedAt === undefined && child.output().includes("FAILED")) failedAt = Date.now()
  }
  child.stdout?.on("data", watch)
  child.stderr?.on("data", watch)
  const code = await child.exited
  const end = Date.now()
  return { code, output: child.output(), seconds: (end - t0) / 1000, secondsAfterFailure: failedAt === undefined ? undefined : (end - failedAt) / 1000 }
}

/** Every file under `dir`, relative. */
export const filesUnder = (dir: string): ReadonlyArray<string> =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))) : []

/** Nothing partial: no tmp folders, no `*.tmp` file anywhere, store folders = artifact rows, integrity ok. */
export const expectNothingPartial = (runs: string): void => {
  expect(existsSync(path.join(runs, "tmp")) ? readdirSync(path.join(runs, "tmp")) : []).toEqual([])
  expect(filesUnder(runs).filter((f) => f.endsWith(".tmp"))).toEqual([])
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  try {
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
    const digests = (db.prepare(`SELECT digest FROM artifacts`).all() as Array<{ digest: string }>).map((r) => r.digest).sort()
    const store = path.join(runs, "store")
    const folders = existsSync(store) ? readdirSync(store).flatMap((p) => readdirSync(path.join(store, p))).sort() : []
    expect(folders).toEqual(digests)
  } finally {
    db.close()
  }
}

/** instance id → artifact digest of its latest committed result. */
export const digests = (runs: string): Readonly<Record<string, string>> => {
  const db = new Database(path.join(runs, "peftlab.db"), { readonly: true })
  try {
    const rows = db
      .prepare(`SELECT instance_id AS id, artifact_digest AS digest FROM executions WHERE status IN ('succeeded','cached') AND artifact_digest IS NOT NULL ORDER BY id`)
      .all() as Array<{ id: string; digest: string }>
    return Object.fromEntries(rows.map((r) => [r.id, r.digest]))
  } finally {
    db.close()
  }
}
