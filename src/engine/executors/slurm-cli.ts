/**
 * The Slurm commands the executor uses, and nothing else: `sbatch --parsable`, one bulk
 * `squeue` for many jobs, `scontrol -o show job` (only when a job left the queue without an exit
 * file, for its exit code), `scancel`. No `sacct`: clusters often run without accounting.
 */
import { execFile } from "node:child_process"

export interface CommandResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const command = (file: string, args: ReadonlyArray<string>): Promise<CommandResult> =>
  new Promise((resolve) => {
    execFile(file, [...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127
      resolve({ code, stdout, stderr: error !== null && stderr === "" ? error.message : stderr })
    })
  })

export interface QueueRow {
  readonly jobId: string
  readonly name: string
  readonly state: string
  readonly reason: string
  readonly node: string
}

const FORMAT = "%i|%j|%T|%r|%N"

const parseRows = (stdout: string): Array<QueueRow> =>
  stdout.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const [jobId = "", name = "", state = "", reason = "", node = ""] = l.split("|")
    return { jobId: jobId.trim(), name, state, reason, node }
  })

/** One `squeue` for all the given jobs (finished ones included until Slurm purges them). */
export const squeueJobs = async (ids: ReadonlyArray<string>): Promise<Map<string, QueueRow> | undefined> => {
  if (ids.length === 0) return new Map()
  const r = await command("squeue", ["-h", "-t", "all", "-j", ids.join(","), "-o", FORMAT])
  // Every id purged: squeue says "Invalid job id specified" (rc 1); then none is listed.
  if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) return undefined
  return new Map(parseRows(r.stdout).map((row) => [row.jobId, row]))
}

/** Every job of this user (names included), for finding a dead coordinator's orphans. */
export const squeueMine = async (user: string): Promise<Array<QueueRow>> => {
  const r = await command("squeue", ["-h", "-u", user, "-o", FORMAT])
  if (r.code !== 0) throw new Error(`squeue failed: ${r.stderr.trim() || `exit ${r.code}`}`)
  return parseRows(r.stdout)
}

/** `scontrol -o show job N` → JobState, Reason, ExitCode (undefined once Slurm purged the job). */
export const jobDetail = async (id: string): Promise<{ state: string; reason: string; exitCode: string } | undefined> => {
  const r = await command("scontrol", ["-o", "show", "job", id])
  if (r.code !== 0) return undefined
  const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S+)`).exec(r.stdout)?.[1] ?? ""
  return { state: field("JobState"), reason: field("Reason"), exitCode: field("ExitCode") }
}

export const scancel = (ids: ReadonlyArray<string>): Promise<CommandResult> =>
  ids.length === 0 ? Promise.resolve({ code: 0, stdout: "", stderr: "" }) : command("scancel", [...ids])

/** States after which a job runs no more. */
export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED"])

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Cancels and waits (bounded) until none of the jobs is pending or running any more. */
export const cancelAndWait = async (ids: ReadonlyArray<string>, timeoutMs = 30_000): Promise<void> => {
  if (ids.length === 0) return
  await scancel(ids)
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const rows = await squeueJobs(ids)
    if (rows !== undefined && [...rows.values()].every((r) => TERMINAL.has(r.state))) return
    await sleep(100)
  }
}
