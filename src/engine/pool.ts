/**
 * A pool of long-lived worker processes, one per job slot, reused across stages. A worker that
 * dies by itself (killed, out of memory, a crash in native code) is dropped and a fresh one
 * forked for the next job; the stage it ran fails with "worker died (signal …)" and the last
 * lines the worker printed. Interrupting a job sends `interrupt`, then SIGKILL after a grace period.
 *
 * Workers' stdout/stderr pass through the parent (to its stderr, or to the worker log while the
 * dashboard owns the terminal), which keeps each worker's last lines for that message.
 * `PEFTLAB_WORKER_NODE_ARGS` adds Node flags to the workers (e.g. `--max-old-space-size=4096`).
 */
import { fork } from "node:child_process"
import { closeSync, openSync, writeSync } from "node:fs"
import type { ChildProcess } from "node:child_process"
import * as path from "node:path"
import { Effect } from "effect"
import { projectRoot } from "./project.ts"
import type { Executor, JobEvent, JobOutcome } from "./executor.ts"
import type { FromWorker, Job } from "./protocol.ts"

const GRACE_MS = 3_000
const LAST_LINES = 12

/** The last lines a worker printed (partial lines included), for the "worker died" message. */
class Tail {
  private text = ""
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString("utf8")).slice(-8_192)
  }
  lines(): ReadonlyArray<string> {
    // V8's native stack dump after a fatal error says nothing to a user: keep the words around it.
    const noise = (l: string) => /^\s*\d+: 0x[0-9a-f]+/.test(l) || l.includes("----- Native stack trace -----")
    return this.text.split("\n").map((l) => l.trimEnd()).filter((l) => l.length > 0 && !noise(l)).slice(-LAST_LINES)
  }
}

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
  private readonly tails = new WeakMap<ChildProcess, Tail>()

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
    const extra = (process.env["PEFTLAB_WORKER_NODE_ARGS"] ?? "").split(/\s+/).filter((a) => a.length > 0)
    const child = fork(entry, [this.options.registryModule], { execArgv: [...extra, "--import", tsx], stdio: ["ignore", "pipe", "pipe", "ipc"] })
    const tail = new Tail()
    this.tails.set(child, tail)
    const out = this.options.workerLog === undefined ? 2 : this.logFd()
    const pass = (chunk: Buffer) => {
      tail.push(chunk)
      try {
        writeSync(out, chunk)
      } catch {
        // the log's disk is full: the tail still has the lines
      }
    }
    child.stdout?.on("data", pass)
    child.stderr?.on("data", pass)
    return child
  }

  /** "worker died (signal SIGKILL) during the stage; its last lines (…): …". */
  private diedMessage(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`
    const lines = this.tails.get(child)?.lines() ?? []
    const where = this.options.workerLog === undefined ? "" : ` (worker log: ${this.options.workerLog})`
    const oom = lines.some((l) => /heap out of memory|Allocation failed/i.test(l)) ? " — out of memory" : ""
    return `worker died (${how})${oom} during the stage${lines.length === 0 ? `; it printed nothing${where}` : `; its last lines${where}:\n${lines.map((l) => `    ${l}`).join("\n")}`}`
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
      // "exit" can come before the last output is read: give the pipes a moment to drain.
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        setTimeout(() => finish({ type: "failed", error: { tag: "WorkerDied", reason: "WorkerDied", message: this.diedMessage(child, code, signal) } }), 50)
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
