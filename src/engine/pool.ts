/**
 * A pool of long-lived worker processes, one per job slot, reused across stages. A worker that
 * dies is dropped and a fresh one forked for the next job; the stage it ran is reported `died`.
 * Interrupting a job sends `interrupt`, then SIGKILL after a grace period.
 */
import { fork } from "node:child_process"
import { closeSync, openSync } from "node:fs"
import type { ChildProcess } from "node:child_process"
import * as path from "node:path"
import { Effect } from "effect"
import { projectRoot } from "./project.ts"
import type { Executor } from "./executor.ts"
import type { FromWorker, Job, WireError } from "./protocol.ts"

export type JobEvent = Extract<FromWorker, { type: "progress" | "metric" | "log" }>

export type JobOutcome =
  | { readonly type: "done"; readonly summary: Readonly<Record<string, number | string | boolean>>; readonly peakRssBytes: number }
  | { readonly type: "failed"; readonly error: WireError }

const GRACE_MS = 3_000

export interface PoolOptions {
  readonly size: number
  readonly registryModule: string
  /**
   * Where workers' stdout/stderr go: the parent's stderr, or a log file (while the dashboard
   * owns the terminal, stray output would tear its frames).
   */
  readonly workerLog?: string
}

export class WorkerPool implements Executor {
  get slots(): number {
    return this.options.size
  }

  private readonly children: Array<ChildProcess | undefined>

  constructor(private readonly options: PoolOptions) {
    this.children = Array.from({ length: options.size }, () => undefined)
  }

  private fd: number | undefined

  private logFd(): number {
    this.fd ??= openSync(this.options.workerLog!, "a")
    return this.fd
  }

  private spawn(): ChildProcess {
    const entry = path.join(projectRoot(), "src", "engine", "worker.ts")
    const tsx = import.meta.resolve("tsx")
    return fork(entry, [this.options.registryModule], {
      execArgv: ["--import", tsx],
      stdio: this.options.workerLog === undefined ? ["ignore", 2, 2, "ipc"] : ["ignore", this.logFd(), this.logFd(), "ipc"],
    })
  }

  private child(slot: number): ChildProcess {
    const existing = this.children[slot]
    if (existing !== undefined && existing.exitCode === null && existing.signalCode === null && existing.connected) return existing
    const child = this.spawn()
    this.children[slot] = child
    child.once("exit", () => {
      if (this.children[slot] === child) this.children[slot] = undefined
    })
    return child
  }

  /** Runs one job on the worker of `slot`; interruption stops the stage in the worker. */
  run(slot: number, job: Job, onEvent: (e: JobEvent) => void): Effect.Effect<JobOutcome> {
    return Effect.callback<JobOutcome>((resume) => {
      const child = this.child(slot)
      let settled = false
      const finish = (outcome: JobOutcome) => {
        if (settled) return
        settled = true
        child.off("message", onMessage)
        child.off("exit", onExit)
        resume(Effect.succeed(outcome))
      }
      const onMessage = (m: FromWorker) => {
        if (m.type === "done" || m.type === "failed") finish(m)
        else if (m.type !== "ready") onEvent(m)
      }
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        finish({ type: "failed", error: { tag: "WorkerDied", reason: "Failed", message: `worker exited (${signal ?? `code ${code}`}) during the stage` } })
      child.on("message", onMessage)
      child.on("exit", onExit)
      child.send({ type: "run", job })
      return Effect.promise(() => this.stop(child, () => settled))
    })
  }

  /** Ask the worker to interrupt its stage; kill it if it has not answered after the grace period. */
  private stop(child: ChildProcess, settled: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (settled() || child.exitCode !== null) return resolve()
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
      }, GRACE_MS)
      const done = () => {
        clearTimeout(timer)
        child.off("message", onMessage)
        child.off("exit", done)
        resolve()
      }
      const onMessage = (m: FromWorker) => {
        if (m.type === "done" || m.type === "failed") done()
      }
      child.on("message", onMessage)
      child.on("exit", done)
      if (child.connected) child.send({ type: "interrupt" })
    })
  }

  /** Ends every worker (they exit when the IPC channel closes). */
  shutdown(): void {
    for (const child of this.children) if (child?.connected) child.disconnect()
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
