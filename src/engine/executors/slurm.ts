/**
 * The Slurm executor. The coordinator (this process) keeps the DAG — no Slurm dependencies, as
 * `afterok` on a failed job pends forever — and is the only SQLite writer. Ready instances are
 * packed into batches (same resources, up to `batchSize`, spread over at most `maxJobs` jobs in
 * flight), each batch one `sbatch` job running slurm-worker.ts on whichever node Slurm picks.
 *
 * Why files and not a socket or sacct: workers report through `<i>.events` / `<i>.exit` files
 * in the batch folder under the shared runs directory (as Nextflow's `.exitcode`). Compute nodes
 * often cannot open connections back to the submit host, `sacct` needs accounting storage that
 * many clusters lack (and which lags), while a shared filesystem is required anyway for the
 * artifacts; a file outlives the coordinator, and an exit file written by rename is whole.
 * Slurm's own state comes from one bulk `squeue` per interval for all of the run's jobs: it is
 * used for pending/running (shown on the dashboard), and for a job that ended without writing
 * an exit file (cancelled, timed out, node lost, refused at launch): the stage fails with Slurm's
 * state, reason and exit code. Jobs are submitted with `--no-requeue`, so Slurm never starts a
 * batch a second time behind the coordinator's back. A job that COMPLETED without an exit file
 * is given `exitGraceMs` (NFS attribute caching) before it is declared lost.
 *
 * Job names are `peftlab.<runs dir tag>.<run id>.<fingerprint>[+n]`: a coordinator starting on
 * a runs directory cancels the jobs of its dead predecessors (and waits until they are gone)
 * before it recovers the store, so no stage ever runs twice at once; a resubmitted train resumes
 * from the checkpoint in its scratch folder.
 */
import { createHash } from "node:crypto"
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Database as Db } from "better-sqlite3"
import { Effect } from "effect"
import { isAlive } from "../../store/liveness.ts"
import type { RunEvent } from "../../contracts/events.ts"
import type { Executor, JobEvent, JobMeta, JobOutcome } from "../executor.ts"
import { projectRoot } from "../project.ts"
import type { FromWorker, Job, WireError } from "../protocol.ts"
import type { Resources } from "./resources.ts"
import { resourceKey, sbatchFlags } from "./resources.ts"
import { cancelAndWait, command, jobDetail, squeueJobs, squeueMine, TERMINAL } from "./slurm-cli.ts"
import { batchFile, eventsFile, exitFile } from "./batch-files.ts"
import type { BatchFile } from "./batch-files.ts"

export interface SlurmOptions {
  readonly runsDir: string
  readonly registryModule: string
  readonly runId: number
  /** Slurm jobs in flight at most (`--jobs`). */
  readonly maxJobs: number
  /** Instances per Slurm job at most (`--slurm-batch`). */
  readonly batchSize: number
  /** Resources of stages that name none (`--resources`). */
  readonly defaults: Resources
  readonly emit: (e: RunEvent) => void
  readonly pollMs?: number
  readonly exitGraceMs?: number
}

interface Member {
  readonly job: Job
  readonly meta: JobMeta
  readonly key: string
  readonly resources: Resources
  readonly onEvent: (e: JobEvent) => void
  readonly resume: (o: JobOutcome) => void
  batch?: Batch
  index: number
  offset: number
  settled: boolean
}

interface Batch {
  readonly seq: number
  readonly dir: string
  readonly members: ReadonlyArray<Member>
  slurmId?: string
  state: string
  reason: string
  node: string
  goneAt?: number
  cancelling?: Promise<void>
  done: boolean
}

/** A short tag of the runs directory, so runs on other directories never touch our jobs. */
export const runsDirTag = (runsDir: string): string => createHash("sha256").update(realpathSync(runsDir)).digest("hex").slice(0, 8)

export const jobName = (tag: string, runId: number, fingerprints: ReadonlyArray<string>): string =>
  `peftlab.${tag}.${runId}.${fingerprints[0]!.slice(0, 12)}${fingerprints.length > 1 ? `+${fingerprints.length - 1}` : ""}`

/**
 * Cancels the jobs left by coordinators of this runs directory that are no longer alive (killed
 * with -9), and waits until Slurm has stopped them. Jobs of a live run (another coordinator on
 * the same directory) are left alone. Returns how many were cancelled.
 */
export const cancelOrphans = async (db: Db, runsDir: string): Promise<number> => {
  const prefix = `peftlab.${runsDirTag(runsDir)}.`
  const rows = (await squeueMine(os.userInfo().username)).filter((r) => r.name.startsWith(prefix))
  const live = (runId: number) => {
    const run = db.prepare(`SELECT pid, pid_start, status FROM runs WHERE id = ?`).get(runId) as { pid: number; pid_start: string | null; status: string } | undefined
    return run !== undefined && run.status === "running" && run.pid !== process.pid && isAlive(run.pid, run.pid_start)
  }
  const orphans = rows.filter((r) => !live(Number(r.name.slice(prefix.length).split(".")[0])) && !TERMINAL.has(r.state)).map((r) => r.jobId)
  await cancelAndWait(orphans)
  return orphans.length
}

/** Checks that the Slurm client commands answer; the message says what to do when not. */
export const slurmAvailable = async (): Promise<string | undefined> => {
  const r = await command("squeue", ["-h", "-o", "%i"])
  if (r.code === 0) return undefined
  const why = r.code === 127 ? "squeue not found (the Slurm client is not installed)" : r.stderr.trim()
  return `--executor slurm: Slurm does not answer: ${why}. For a local test cluster run: bash scripts/slurm-up.sh`
}

const PACK_QUIET_MS = 30
const PACK_MAX_MS = 500

/** Pending reasons that no amount of waiting fixes. */
const NEVER_RUNS = new Set(["PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit", "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS", "AssocMaxCpuPerJobLimit", "AssocMaxNodePerJobLimit", "AssocMaxWallDurationPerJobLimit", "QOSMaxCpuPerJobLimit", "QOSMaxNodePerJobLimit", "QOSMaxWallDurationPerJobLimit", "QOSMaxMemoryPerJob", "QOSMaxGRESPerJob"])

const slurmError = (reason: string, message: string): WireError => ({ tag: "SlurmJob", reason, message })

export class SlurmExecutor implements Executor {
  readonly slots: number
  private readonly queue: Array<Member> = []
  private readonly batches = new Set<Batch>()
  private readonly tag: string
  private readonly root: string
  private seq = 0
  private pumpTimer: NodeJS.Timeout | undefined
  private pumpFirstAt: number | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false
  private readonly pollMs: number
  private readonly exitGraceMs: number

  constructor(private readonly options: SlurmOptions) {
    // Enough instances handed over for every job in flight to carry a full batch.
    this.slots = options.maxJobs * options.batchSize
    this.tag = runsDirTag(options.runsDir)
    this.root = path.join(options.runsDir, "slurm", String(options.runId))
    this.pollMs = options.pollMs ?? 250
    this.exitGraceMs = options.exitGraceMs ?? 30_000
  }

  run(_slot: number, job: Job, onEvent: (e: JobEvent) => void, meta: JobMeta): Effect.Effect<JobOutcome> {
    return Effect.callback<JobOutcome>((resume) => {
      const resources = { ...this.options.defaults, ...meta.resources }
      const member: Member = { job, meta, resources, key: resourceKey(resources), onEvent, resume: (o) => resume(Effect.succeed(o)), index: 0, offset: 0, settled: false }
      this.queue.push(member)
      this.schedulePump()
      return Effect.promise(() => this.cancel(member))
    })
  }

  private inFlight(): number {
    let n = 0
    for (const b of this.batches) if (!b.done) n++
    return n
  }

  /**
   * Packs once the scheduler has handed over what became ready together: it starts each
   * instance in its own fiber (a lock and a row in SQLite first), so they arrive spread over a
   * few milliseconds. Waits until none arrived for PACK_QUIET_MS, at most PACK_MAX_MS, so the
   * first few do not take a job of their own.
   */
  private schedulePump(): void {
    const now = Date.now()
    this.pumpFirstAt ??= now
    if (this.pumpTimer !== undefined) clearTimeout(this.pumpTimer)
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined
      this.pumpFirstAt = undefined
      this.pump()
    }, Math.max(0, Math.min(PACK_QUIET_MS, this.pumpFirstAt + PACK_MAX_MS - now)))
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight() < this.options.maxJobs) {
      const key = this.queue[0]!.key
      const same = this.queue.filter((m) => m.key === key)
      const free = this.options.maxJobs - this.inFlight()
      const size = Math.max(1, Math.min(this.options.batchSize, Math.ceil(same.length / free)))
      const members = same.slice(0, size)
      for (const m of members) this.queue.splice(this.queue.indexOf(m), 1)
      this.submit(members)
    }
  }

  private submit(members: ReadonlyArray<Member>): void {
    const seq = this.seq++
    const dir = path.join(this.root, String(seq))
    const batch: Batch = { seq, dir, members, state: "SUBMITTING", reason: "", node: "", done: false }
    members.forEach((m, i) => {
      m.batch = batch
      m.index = i
    })
    this.batches.add(batch)
    mkdirSync(dir, { recursive: true })
    // BLAS threads: the CPUs Slurm gives the job (1 unless `cpus` says otherwise), not the
    // coordinator's share of its own cores. Numerics do not depend on it (engine/threads.ts).
    const file: BatchFile = { jobs: members.map((m) => ({ ...m.job, threads: m.resources.cpus ?? 1 })) }
    writeFileSync(batchFile(dir), JSON.stringify(file))
    const tsx = import.meta.resolve("tsx")
    const worker = path.join(projectRoot(), "src", "engine", "executors", "slurm-worker.ts")
    const script = path.join(dir, "job.sh")
    writeFileSync(script, `#!/bin/sh\nexec ${[process.execPath, "--import", tsx, worker, this.options.registryModule, dir].map(shellQuote).join(" ")}\n`, { mode: 0o755 })
    const name = jobName(this.tag, this.options.runId, members.map((m) => m.meta.fingerprint))
    // --no-requeue: Slurm would otherwise requeue a job whose node failed (JobRequeue=1, the
    // default) and start it again after a 120 s hold, its worker rerunning the whole batch —
    // instances that already reported, into folders the coordinator has committed or removed.
    // Retries belong to the coordinator: the instance fails with NODE_FAIL and its reason, and a
    // rerun resumes it from its checkpoint.
    const args = ["--parsable", "--no-requeue", `--job-name=${name}`, `--output=${path.join(dir, "slurm.out")}`, `--chdir=${projectRoot()}`, "--export=ALL", ...sbatchFlags(members[0]!.resources), script]
    void command("sbatch", args).then((r) => {
      if (r.code !== 0) {
        // Refused at submission (more CPUs or memory than any node has, unknown partition…):
        // the stage fails with Slurm's own words, never pends.
        const message = r.stderr.split("\n").map((l) => l.replace(/^sbatch: error: /, "").trim()).filter((l) => l !== "").join("; ")
        batch.done = true
        this.batches.delete(batch)
        for (const m of members) this.settle(m, { type: "failed", error: slurmError("Refused", `Slurm refused the job: ${message || `sbatch exit ${r.code}`}`) })
        this.schedulePump()
        return
      }
      batch.slurmId = r.stdout.trim().split(";")[0]!
      this.setState(batch, "PENDING", "", "")
      if (members.every((m) => m.settled)) void this.cancelBatch(batch) // interrupted while submitting
      this.startPolling()
    })
  }

  private setState(batch: Batch, state: string, rawReason: string, node: string): void {
    const reason = rawReason === "None" ? "" : rawReason
    if (batch.state === state && batch.reason === reason && batch.node === node) return
    batch.state = state
    batch.reason = reason
    batch.node = node
    const at = Date.now()
    for (const m of batch.members) {
      if (m.settled) continue
      this.options.emit({ type: "stage-slurm", at, id: m.job.id, jobId: batch.slurmId ?? "", state, ...(reason ? { reason } : {}), ...(node ? { node } : {}) })
    }
  }

  private startPolling(): void {
    this.timer ??= setInterval(() => void this.poll(), this.pollMs)
  }

  private settle(m: Member, outcome: JobOutcome): void {
    if (m.settled) return
    m.settled = true
    m.resume(outcome)
    // A job whose instances all ended frees its place at once (it may still be exiting).
    if (m.batch !== undefined && m.batch.members.every((x) => x.settled) && !m.batch.done) {
      m.batch.done = true
      this.schedulePump()
    }
  }

  /** New event lines of a member (complete lines only), then its exit file if written. */
  private readFiles(m: Member): void {
    const batch = m.batch!
    const events = eventsFile(batch.dir, m.index)
    if (existsSync(events)) {
      const fd = openSync(events, "r")
      try {
        const size = fstatSync(fd).size
        if (size > m.offset) {
          const buf = Buffer.alloc(size - m.offset)
          readSync(fd, buf, 0, buf.length, m.offset)
          const text = buf.toString("utf8")
          const end = text.lastIndexOf("\n")
          if (end >= 0) {
            m.offset += Buffer.byteLength(text.slice(0, end + 1))
            for (const line of text.slice(0, end).split("\n")) if (line !== "") m.onEvent(JSON.parse(line) as JobEvent)
          }
        }
      } finally {
        closeSync(fd)
      }
    }
    const exit = exitFile(batch.dir, m.index)
    if (existsSync(exit)) {
      const outcome = JSON.parse(readFileSync(exit, "utf8")) as FromWorker
      if (outcome.type === "done" || outcome.type === "failed") this.settle(m, outcome)
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const live = [...this.batches].filter((b) => b.slurmId !== undefined)
      for (const b of live) for (const m of b.members) if (!m.settled && m.batch === b) this.readFiles(m)
      const rows = await squeueJobs(live.filter((b) => b.goneAt === undefined).map((b) => b.slurmId!))
      const now = Date.now()
      for (const b of live) {
        if (rows !== undefined && b.goneAt === undefined) {
          const row = rows.get(b.slurmId!)
          if (row !== undefined) this.setState(b, row.state, row.reason, row.node)
          if (row?.state === "PENDING" && NEVER_RUNS.has(row.reason)) await this.refusedWhilePending(b, row.reason)
          if (row === undefined || TERMINAL.has(row.state)) b.goneAt = now
        }
        if (b.goneAt !== undefined) await this.afterEnd(b, now)
        if (b.members.every((m) => m.settled || m.batch !== b)) this.batches.delete(b)
      }
      if (this.batches.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    } finally {
      this.polling = false
    }
  }

  /** A job left the queue: members without an exit file fail with Slurm's account of it. */
  private async afterEnd(b: Batch, now: number): Promise<void> {
    for (const m of b.members) if (!m.settled && m.batch === b) this.readFiles(m)
    if (b.members.every((m) => m.settled || m.batch !== b)) return
    const completed = b.state === "COMPLETED"
    if (now - b.goneAt! < (completed ? this.exitGraceMs : Math.min(1_000, this.exitGraceMs))) return
    const detail = await jobDetail(b.slurmId!)
    const state = detail?.state || b.state
    const reason = detail?.reason || b.reason
    const exitCode = detail?.exitCode ? `, exit code ${detail.exitCode}` : ""
    const why = completed
      ? `Slurm job ${b.slurmId} completed but wrote no exit file within ${this.exitGraceMs / 1000} s (is the runs directory shared with the nodes?)`
      : `Slurm job ${b.slurmId} ${state}${reason && reason !== "None" ? ` (${reason})` : ""}${exitCode}${b.node ? ` on ${b.node}` : ""}`
    const tail = this.outputTail(b)
    const error = slurmError(state || "Lost", tail ? `${why}; job output: ${tail}` : why)
    // The instance that was running fails; those of the batch that never started go back to
    // the queue (unless someone cancelled the job: then they are cancelled too).
    const left = b.members.filter((m) => !m.settled && m.batch === b)
    const [running, ...unstarted] = left
    this.settle(running!, { type: "failed", error })
    for (const m of unstarted) {
      if (state === "CANCELLED" || existsSync(eventsFile(b.dir, m.index))) this.settle(m, { type: "failed", error })
      else {
        m.settled = false
        m.batch = undefined
        m.offset = 0
        this.queue.push(m)
      }
    }
    b.done = true
    this.schedulePump()
  }

  /**
   * A job the cluster accepted but can never start (a cluster without `EnforcePartLimits`
   * queues a job larger than its partition): cancel it and fail its instances with the reason.
   */
  private async refusedWhilePending(b: Batch, reason: string): Promise<void> {
    const why = `Slurm job ${b.slurmId} can never start (pending with reason ${reason}); cancelled`
    for (const m of b.members) this.settle(m, { type: "failed", error: slurmError("Refused", why) })
    await this.cancelBatch(b)
  }

  /** The last lines of the job's output file (launch errors land there). */
  private outputTail(b: Batch): string {
    try {
      const lines = readFileSync(path.join(b.dir, "slurm.out"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/PMIx|pmix/.test(l))
      return lines.slice(-3).join(" | ")
    } catch {
      return ""
    }
  }

  private cancelBatch(b: Batch): Promise<void> {
    b.cancelling ??= b.slurmId === undefined ? Promise.resolve() : cancelAndWait([b.slurmId])
    return b.cancelling
  }

  /** Interruption of one instance: drop it if not submitted, else cancel its job and wait for it to stop. */
  private async cancel(m: Member): Promise<void> {
    const queued = this.queue.indexOf(m)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      return
    }
    if (m.settled) return
    m.settled = true
    const b = m.batch
    if (b === undefined) return
    if (b.slurmId === undefined) {
      // Still submitting: the submission callback cancels once it has the id. Wait for that.
      while (b.slurmId === undefined && !b.done) await new Promise((r) => setTimeout(r, 20))
    }
    await this.cancelBatch(b)
  }

  /** Cancels every job still held (normally none: interruption cancelled them) and stops polling. */
  async shutdown(): Promise<void> {
    if (this.pumpTimer !== undefined) clearTimeout(this.pumpTimer)
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    const ids = [...this.batches].flatMap((b) => (b.slurmId !== undefined && !b.done ? [b.slurmId] : []))
    await cancelAndWait(ids)
  }
}

const shellQuote = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`)
