/** Command-line parsing: argv → a typed command, or a usage error (exit 2). */
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Data } from "effect"
import { BACKEND_REQUESTS } from "../engine/backend.ts"
import type { BackendRequest } from "../engine/backend.ts"
import { EXECUTORS } from "../engine/executor.ts"
import type { ExecutorName } from "../engine/executor.ts"
import { parseResources } from "../engine/executors/resources.ts"
import type { Resources } from "../engine/executors/resources.ts"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export const USAGE = `usage:
  peftlab run <pipeline.yaml> [--jobs N] [--plain | --json] [--keep-going] [--force <id-glob>] [--backend auto|tensorflow|native|wasm|cpu] [--runs-dir DIR]
        [--executor local|slurm] [--resources cpus=1,mem=2G,time=1h,gpus=0,partition=P] [--slurm-batch N] [--db FILE]
  peftlab status <pipeline.yaml> [--json] [--backend B] [--runs-dir DIR]
  peftlab why <pipeline.yaml> <stage-id> [--backend B] [--runs-dir DIR]
  peftlab compare [<pipeline.yaml>] [--baseline lora] [--format table|md|csv|json|latex] [--runs-dir DIR]
  peftlab plot [<pipeline.yaml>] --out curves.svg|.png [--runs-dir DIR]
  peftlab export <pipeline.yaml> <stage-id> <out-dir> [--backend B] [--runs-dir DIR]
  peftlab runs [--json] [--runs-dir DIR]
  peftlab gc [--runs-dir DIR]
exit codes: 0 done, 1 a stage failed, 2 invalid input, 130 interrupted. PEFTLAB_RUNS_DIR overrides runs/.`

export type Output = "auto" | "plain" | "json"

interface Common {
  readonly runsDir: string
  readonly backend: BackendRequest
}

export type Command =
  | (Common & { readonly type: "run"; readonly pipeline: string; readonly jobs: number; readonly output: Output; readonly keepGoing: boolean; readonly force: ReadonlyArray<string>; readonly executor: ExecutorName; readonly resources: Resources; readonly slurmBatch: number; readonly db?: string })
  | (Common & { readonly type: "status"; readonly pipeline: string; readonly json: boolean })
  | (Common & { readonly type: "why"; readonly pipeline: string; readonly id: string })
  | (Common & { readonly type: "export"; readonly pipeline: string; readonly id: string; readonly out: string })
  | (Common & { readonly type: "compare"; readonly pipeline?: string; readonly baseline: string; readonly format: "table" | "md" | "csv" | "json" | "latex" })
  | (Common & { readonly type: "plot"; readonly pipeline?: string; readonly out: string })
  | (Common & { readonly type: "runs"; readonly json: boolean })
  | (Common & { readonly type: "gc" })
  | { readonly type: "help" }

const OPTIONS = {
  jobs: { type: "string", short: "j" },
  plain: { type: "boolean" },
  json: { type: "boolean" },
  "keep-going": { type: "boolean", short: "k" },
  force: { type: "string", multiple: true },
  backend: { type: "string" },
  "runs-dir": { type: "string" },
  baseline: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
  executor: { type: "string" },
  resources: { type: "string" },
  "slurm-batch": { type: "string" },
  db: { type: "string" },
} as const

const FORMATS = ["table", "md", "csv", "json", "latex"] as const

const oneOf = <T extends string>(what: string, value: string, allowed: ReadonlyArray<T>): T => {
  if ((allowed as ReadonlyArray<string>).includes(value)) return value as T
  throw new UsageError({ message: `--${what} must be one of ${allowed.join(", ")}, got "${value}"` })
}

const positive = (value: string, what = "jobs"): number => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError({ message: `--${what} must be a positive integer, got "${value}"` })
  return n
}

const resourcesFlag = (value: string | undefined): Resources => {
  if (value === undefined) return {}
  const r = parseResources(value)
  if (typeof r === "string") throw new UsageError({ message: `--resources: ${r}` })
  return r
}

const parse = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Command => {
  const { values: v, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  const [command, ...rest] = positionals
  if (v.help === true || command === undefined || command === "help") return { type: "help" }
  const common: Common = {
    runsDir: path.resolve(v["runs-dir"] ?? env["PEFTLAB_RUNS_DIR"] ?? "runs"),
    backend: oneOf("backend", v.backend ?? "auto", BACKEND_REQUESTS),
  }
  const need = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError({ message: `${command}: expected ${what}` })
  }
  switch (command) {
    case "run":
      need(1, "<pipeline.yaml>")
      if (v.plain === true && v.json === true) throw new UsageError({ message: "--plain and --json exclude each other" })
      return { ...common, type: "run", pipeline: rest[0]!, jobs: positive(v.jobs ?? String(os.availableParallelism())), output: v.json ? "json" : v.plain ? "plain" : "auto", keepGoing: v["keep-going"] === true, force: v.force ?? [],
        executor: oneOf("executor", v.executor ?? "local", EXECUTORS), resources: resourcesFlag(v.resources), slurmBatch: positive(v["slurm-batch"] ?? "256", "slurm-batch"),
        ...(v.db === undefined ? {} : { db: path.resolve(v.db) }) }
    case "status":
      need(1, "<pipeline.yaml>")
      return { ...common, type: "status", pipeline: rest[0]!, json: v.json === true }
    case "why":
      need(2, "<pipeline.yaml> <stage-id>")
      return { ...common, type: "why", pipeline: rest[0]!, id: rest[1]! }
    case "export":
      need(3, "<pipeline.yaml> <stage-id> <out-dir>")
      return { ...common, type: "export", pipeline: rest[0]!, id: rest[1]!, out: rest[2]! }
    case "compare":
      if (rest.length > 1) throw new UsageError({ message: "compare: expected at most one pipeline" })
      return { ...common, type: "compare", ...(rest[0] ? { pipeline: rest[0] } : {}), baseline: v.baseline ?? "lora", format: oneOf("format", v.format ?? "table", FORMATS) }
    case "plot":
      if (v.out === undefined) throw new UsageError({ message: "plot: --out <file.svg|file.png> is required" })
      return { ...common, type: "plot", ...(rest[0] ? { pipeline: rest[0] } : {}), out: v.out }
    case "runs":
      need(0, "no arguments")
      return { ...common, type: "runs", json: v.json === true }
    case "gc":
      need(0, "no arguments")
      return { ...common, type: "gc" }
    default:
      throw new UsageError({ message: `unknown command "${command}"` })
  }
}

export const parseCommand = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Command | UsageError => {
  try {
    return parse(argv, env)
  } catch (e) {
    return e instanceof UsageError ? e : new UsageError({ message: e instanceof Error ? e.message : String(e) })
  }
}
