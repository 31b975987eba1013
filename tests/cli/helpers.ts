/** Running the real CLI in tests: in-process (fast, for exit codes and messages) or as a child process (crashes, signals). */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { cli } from "../../src/cli/main.ts"
import type { Registry } from "../../src/engine/registry.ts"
import { registry } from "../fixtures/registry.ts"

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const ENTRY = path.join(ROOT, "tests/fixtures/cli-with-fakes.ts")

export const tempDir = (prefix = "peftlab-test-"): string => mkdtempSync(path.join(os.tmpdir(), prefix))

export const writePipeline = (dir: string, name: string, yaml: string): string => {
  const file = path.join(dir, name)
  writeFileSync(file, yaml)
  return file
}

const collect = () => {
  const stream = new PassThrough()
  let text = ""
  stream.on("data", (d: Buffer) => (text += d.toString()))
  return { stream: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => text }
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The CLI's main in this process, with the fake kinds registered. */
export const runCli = async (argv: ReadonlyArray<string>, with_: Registry = registry): Promise<CliResult> => {
  const out = collect()
  const err = collect()
  const code = await Effect.runPromise(cli(argv, with_, { stdout: out.stream, stderr: err.stream, env: {}, argv }))
  await new Promise((r) => setImmediate(r))
  return { code, stdout: out.text(), stderr: err.text() }
}

/** The CLI as its own process (what a user runs), with the fake kinds registered. */
export const spawnCli = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): ChildProcess & { readonly output: () => string; readonly exited: Promise<number | null> } => {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...argv], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: false, env: { ...process.env, ...env } })
  let output = ""
  child.stdout.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal === null ? null : -1))))
  return Object.assign(child, { output: () => output, exited })
}

/** Resolves once the child's output contains `text` (no fixed sleeps). */
export const waitForOutput = (child: ReturnType<typeof spawnCli>, text: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = () => {
      if (child.output().includes(text)) {
        child.stdout?.off("data", check)
        child.stderr?.off("data", check)
        resolve()
      }
    }
    child.stdout?.on("data", check)
    child.stderr?.on("data", check)
    child.once("exit", () => (child.output().includes(text) ? resolve() : reject(new Error(`exited before "${text}":\n${child.output()}`))))
    check()
  })
