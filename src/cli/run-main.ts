/**
 * The process entry wrapper (instead of @effect/platform-node, which needs Node 22): run the CLI
 * on the main fiber; SIGINT/SIGTERM interrupt it so finalizers run (workers stopped, partial
 * outputs removed, the run recorded as interrupted), then exit 130.
 *
 * Exit 70 is for bugs only (every expected failure has its own code, see main.ts): one line of
 * apology and the path of a file holding the details; the stack trace on the terminal only with
 * PEFTLAB_DEBUG=1.
 */
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cause, Effect, Exit, Fiber } from "effect"
import type { Registry } from "../engine/registry.ts"
import { cli } from "./main.ts"

/** Writes the bug's details to a file; returns its path (undefined when even that fails). */
const writeBugReport = (details: string, argv: ReadonlyArray<string>): string | undefined => {
  const file = path.join(os.tmpdir(), `peftlab-bug-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}.log`)
  try {
    writeFileSync(file, `peftlab ${argv.join(" ")}\nnode ${process.version} ${process.platform}\n\n${details}\n`)
    return file
  } catch {
    return undefined
  }
}

export const bugReport = (cause: Cause.Cause<unknown>, argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): string => {
  const details = Cause.pretty(cause)
  const file = writeBugReport(details, argv)
  const where = file === undefined ? "" : ` Details: ${file}`
  const debug = env["PEFTLAB_DEBUG"] === "1" ? `\n${details}` : file === undefined ? `\n${details}` : " (PEFTLAB_DEBUG=1 prints them here)"
  return `peftlab: internal error — this is a bug in peftlab, sorry; please report it.${where}${debug}\n`
}

export const runMain = (registry: Registry): void => {
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env, argv: process.argv.slice(2) }
  const fiber = Effect.runFork(cli(io.argv, registry, io))
  const keepAlive = setInterval(() => {}, 2 ** 30)
  const interrupt = () => {
    process.stderr.write("\ninterrupting…\n")
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.once("SIGINT", interrupt)
  process.once("SIGTERM", interrupt)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    if (Exit.isSuccess(exit)) process.exitCode = exit.value
    else if (Cause.hasInterruptsOnly(exit.cause)) process.exitCode = 130
    else {
      process.stderr.write(bugReport(exit.cause, io.argv, io.env))
      process.exitCode = 70
    }
  })
}
