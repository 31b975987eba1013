/**
 * The process entry wrapper (instead of @effect/platform-node, which needs Node 22): run the CLI
 * on the main fiber; SIGINT/SIGTERM interrupt it so finalizers run (workers stopped, partial
 * outputs removed, the run recorded as interrupted), then exit 130.
 */
import { Cause, Effect, Exit, Fiber } from "effect"
import type { Registry } from "../engine/registry.ts"
import { cli } from "./main.ts"

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
      process.stderr.write(`peftlab: internal error\n${Cause.pretty(exit.cause)}\n`)
      process.exitCode = 70
    }
  })
}
