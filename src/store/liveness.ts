/**
 * Is the process that holds a lock (or owns a run, or a tmp folder) still the same live process?
 * A bare pid check is fooled by pid reuse: after a crash, another process may get the dead run's
 * pid and keep its locks "alive" forever. So a holder is identified by pid + start time: on
 * Linux the start time is field 22 of /proc/<pid>/stat (clock ticks since boot), which a
 * recycled pid cannot repeat. Where /proc is absent the start time is null and liveness falls
 * back to the pid alone.
 */
import { readFileSync } from "node:fs"

/** The process's start time as a decimal string, or null where the platform does not tell. */
export const processStart = (pid: number): string | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return fields[19] ?? null // field 22 overall = index 19 after pid, comm and state
  } catch {
    return null
  }
}

let own: string | null | undefined

/** This process's start time (read once). */
export const ownStart = (): string | null => (own === undefined ? (own = processStart(process.pid)) : own)

const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e instanceof Error && "code" in e && e.code === "EPERM"
  }
}

/**
 * True when `pid` is alive and, when `start` was recorded, is still the process that recorded it.
 * Our own pid counts as alive only with our own start time.
 */
export const isAlive = (pid: number, start: string | null = null): boolean => {
  if (!Number.isInteger(pid) || pid <= 0 || !pidExists(pid)) return false
  if (start === null) return true
  const now = processStart(pid)
  return now === null || now === start
}
