/**
 * Command-line parsing: argv → a typed command, or a usage error (exit 2). Each command lists
 * the flags it takes (COMMANDS); a flag of another command is an error, and `peftlab <command>
 * --help` prints that command's usage and flags.
 */
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { Data } from "effect"
import { BACKEND_REQUESTS } from "../engine/backend.ts"
import type { BackendRequest } from "../engine/backend.ts"
import { didYouMean } from "../pipeline/suggest.ts"
import { EXECUTORS } from "../engine/executor.ts"
import type { ExecutorName } from "../engine/executor.ts"
import { parseResources } from "../engine/executors/resources.ts"
import type { Resources } from "../pipeline/resources.ts"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string; readonly command?: CommandName | undefined }> {}

/** Every flag, once, as node:util's parseArgs reads it. */
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
  run: { type: "string" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  executor: { type: "string" },
  resources: { type: "string" },
  "slurm-batch": { type: "string" },
  db: { type: "string" },
} as const

type Flag = keyof typeof OPTIONS

/** What each flag means (its value's name, if it takes one). */
const FLAGS: Readonly<Record<Flag, { readonly arg?: string; readonly doc: string }>> = {
  jobs: { arg: "N", doc: "worker processes (default: the number of cores)" },
  plain: { doc: "one line per event (the default when stdout is not a terminal)" },
  json: { doc: "one JSON object per line" },
  "keep-going": { doc: "after a stage fails, go on with what does not depend on it" },
  force: {
    arg: "ID-GLOB",
    doc: "rerun the matching instances even if cached (repeatable). * matches any characters and ? one; every other character, brackets included, is literal, so an id or a pattern is written as it reads: 'train[method=vera,seed=1]', 'train[method=vera,*]', '*[*seed=2]'. Quote it for the shell",
  },
  backend: { arg: "B", doc: `compute backend: ${BACKEND_REQUESTS.join(", ")} (default auto)` },
  "runs-dir": { arg: "DIR", doc: "the runs directory (default runs/, or $PEFTLAB_RUNS_DIR)" },
  baseline: { arg: "METHOD", doc: "the method the others are paired against (default lora)" },
  format: { arg: "F", doc: "table, md, csv, json or latex (default table)" },
  out: { arg: "FILE", doc: "where to write the plot: .svg or .png" },
  run: { arg: "N", doc: "report run N (see peftlab runs) instead of the latest finished one" },
  "dry-run": { doc: "say what would be removed and the bytes it would free; remove nothing" },
  help: { doc: "this help" },
  version: { doc: "print peftlab's version" },
  executor: { arg: "E", doc: `where stages run: ${EXECUTORS.join(" or ")} (default local; slurm: one job per batch of ready stages, see README)` },
  resources: { arg: "R", doc: "default Slurm resources of a stage, e.g. cpus=1,mem=2G,time=1h,gpus=0,partition=P (a stage's own `resources:` wins); gpus ≥ 1 also makes a stage prefer the tensorflow backend, so status, why and export take it too" },
  "slurm-batch": { arg: "N", doc: "at most N ready stages packed into one Slurm job (default 256)" },
  db: { arg: "FILE", doc: "the SQLite file (default <runs-dir>/peftlab.db; on a cluster, a local disk of this machine)" },
}


interface CommandSpec {
  readonly args: string
  readonly summary: string
  readonly flags: ReadonlyArray<Flag>
}

/** Every command with its positionals and the flags it accepts. */
const COMMANDS = {
  run: { args: "<pipeline.yaml>", summary: "run what is not cached, live", flags: ["jobs", "plain", "json", "keep-going", "force", "backend", "runs-dir", "executor", "resources", "slurm-batch", "db"] },
  status: { args: "<pipeline.yaml>", summary: "the plan: cached / will run, and why; runs nothing", flags: ["json", "backend", "runs-dir", "resources"] },
  why: { args: "<pipeline.yaml> <stage-id>", summary: "which fingerprint fields changed since the last success", flags: ["backend", "runs-dir", "resources"] },
  export: { args: "<pipeline.yaml> <stage-id> <out-dir>", summary: "write a committed model or adapter as a Hugging Face folder (GPT-2 / PEFT)", flags: ["backend", "runs-dir", "resources"] },
  compare: { args: "[<pipeline.yaml>]", summary: "methods compared over seeds: mean ± 95% CI, paired tests", flags: ["baseline", "format", "run", "runs-dir"] },
  plot: { args: "[<pipeline.yaml>] --out FILE", summary: "loss curves and accuracies as .svg or .png", flags: ["out", "baseline", "run", "runs-dir"] },
  runs: { args: "", summary: "past runs", flags: ["json", "runs-dir"] },
  gc: { args: "", summary: "remove superseded artifacts and orphaned folders (never what a live run uses)", flags: ["dry-run", "json", "runs-dir"] },
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof COMMANDS

const EXIT_CODES =
  "exit codes: 0 done, 1 a stage failed (a disk full or a dead worker included), 2 invalid input or an unusable runs directory/database (nothing ran), 70 a bug in peftlab, 130 interrupted."

const flagUsage = (f: Flag): string => `--${f}${FLAGS[f].arg === undefined ? "" : ` ${FLAGS[f].arg}`}`

const shortOf = (f: Flag): string | undefined => {
  const o = OPTIONS[f]
  return "short" in o ? o.short : undefined
}

export const USAGE = [
  "usage:",
  ...Object.entries(COMMANDS).map(([name, c]) => `  peftlab ${name}${c.args ? ` ${c.args}` : ""} ${c.flags.filter((f) => f !== "out").map((f) => `[${flagUsage(f)}]`).join(" ")}`.trimEnd()),
  "  peftlab --version | peftlab <command> --help",
  `${EXIT_CODES} PEFTLAB_RUNS_DIR overrides runs/.`,
].join("\n")

/** `peftlab <command> --help`. */
export const commandHelp = (name: CommandName): string => {
  const c: CommandSpec = COMMANDS[name]
  const rows = c.flags.map((f) => {
    const short = shortOf(f)
    return [`${short === undefined ? "    " : `-${short}, `}${flagUsage(f)}`, FLAGS[f].doc] as const
  })
  const width = Math.max(...rows.map(([u]) => u.length))
  return [
    `usage: peftlab ${name}${c.args ? ` ${c.args}` : ""} [options]`,
    "",
    c.summary,
    "",
    "options:",
    ...rows.map(([u, doc]) => `  ${u.padEnd(width)}  ${doc}`),
    "",
    EXIT_CODES,
  ].join("\n")
}

export type Output = "auto" | "plain" | "json"

interface Common {
  readonly runsDir: string
  readonly backend: BackendRequest
  /** `--resources` (run, status, why, export; `{}` elsewhere): a stage's backend depends on its gpus. */
  readonly resources: Resources
}

export type Command =
  | (Common & { readonly type: "run"; readonly pipeline: string; readonly jobs: number; readonly output: Output; readonly keepGoing: boolean; readonly force: ReadonlyArray<string>; readonly executor: ExecutorName; readonly slurmBatch: number; readonly db?: string })
  | (Common & { readonly type: "status"; readonly pipeline: string; readonly json: boolean })
  | (Common & { readonly type: "why"; readonly pipeline: string; readonly id: string })
  | (Common & { readonly type: "export"; readonly pipeline: string; readonly id: string; readonly out: string })
  | (Common & { readonly type: "compare"; readonly pipeline?: string; readonly baseline: string; readonly format: "table" | "md" | "csv" | "json" | "latex"; readonly runId?: number })
  | (Common & { readonly type: "plot"; readonly pipeline?: string; readonly out: string; readonly baseline: string; readonly runId?: number })
  | (Common & { readonly type: "runs"; readonly json: boolean })
  | (Common & { readonly type: "gc"; readonly dryRun: boolean; readonly json: boolean })
  | { readonly type: "help"; readonly command?: CommandName }
  | { readonly type: "version" }

const FORMATS = ["table", "md", "csv", "json", "latex"] as const

const oneOf = <T extends string>(what: string, value: string, allowed: ReadonlyArray<T>): T => {
  if ((allowed as ReadonlyArray<string>).includes(value)) return value as T
  throw new UsageError({ message: `--${what} must be one of ${allowed.join(", ")}, got "${value}"` })
}

const positiveInt = (flag: string, value: string): number => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError({ message: `--${flag} must be a positive integer, got "${value}"` })
  return n
}

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name)

/** Flags as the user wrote them (`--jobs`, `-j`, `--jobs=2`), for per-command checks. */
const writtenFlags = (argv: ReadonlyArray<string>): ReadonlyArray<{ readonly flag: Flag; readonly written: string }> => {
  const byShort = new Map((Object.keys(OPTIONS) as Array<Flag>).flatMap((f) => { const c = shortOf(f); return c === undefined ? [] : [[c, f] as const] }))
  const out: Array<{ flag: Flag; written: string }> = []
  for (const a of argv) {
    if (a === "--") break
    if (a.startsWith("--")) {
      const name = a.slice(2).split("=")[0]!
      if (Object.hasOwn(OPTIONS, name)) out.push({ flag: name as Flag, written: `--${name}` })
    } else if (a.startsWith("-") && a.length > 1) {
      for (const ch of a.slice(1)) {
        const name = byShort.get(ch)
        if (name !== undefined) out.push({ flag: name, written: `-${ch}` })
        if (name !== undefined && OPTIONS[name].type === "string") break // the rest is its value
      }
    }
  }
  return out
}

const resourcesFlag = (value: string | undefined): Resources => {
  if (value === undefined) return {}
  const r = parseResources(value)
  if (typeof r === "string") throw new UsageError({ message: `--resources: ${r}` })
  return r
}

const parse = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Command => {
  const read = () => parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  let parsed: ReturnType<typeof read>
  try {
    parsed = read()
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1]
    const name = unknown?.replace(/^-+/, "")
    throw new UsageError({ message: unknown !== undefined && name !== undefined ? `unknown option ${unknown}${didYouMean(name, Object.keys(FLAGS))}` : message })
  }
  const { values: v, positionals } = parsed
  const [command, ...rest] = positionals
  if (command !== undefined && command !== "help" && !isCommand(command))
    throw new UsageError({ message: `unknown command "${command}"${didYouMean(command, Object.keys(COMMANDS))}` })
  if (v.version === true && command === undefined) return { type: "version" }
  if (command === "help") return rest[0] !== undefined && isCommand(rest[0]) ? { type: "help", command: rest[0] } : { type: "help" }
  if (command === undefined) return { type: "help" }
  if (v.help === true) return { type: "help", command }
  const allowed: ReadonlyArray<Flag> = COMMANDS[command].flags
  for (const { flag, written } of writtenFlags(argv)) {
    if (!allowed.includes(flag))
      throw new UsageError({ command, message: `${command} does not take ${written} (it takes ${allowed.map((f) => `--${f}`).join(", ")})` })
  }
  const common: Common = {
    runsDir: path.resolve(v["runs-dir"] ?? env["PEFTLAB_RUNS_DIR"] ?? "runs"),
    backend: oneOf("backend", v.backend ?? "auto", BACKEND_REQUESTS),
    resources: resourcesFlag(v.resources),
  }
  const need = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError({ command, message: `${command}: expected ${what}` })
  }
  const runId = v.run === undefined ? {} : { runId: positiveInt("run", v.run) }
  switch (command) {
    case "run":
      need(1, "<pipeline.yaml>")
      if (v.plain === true && v.json === true) throw new UsageError({ command, message: "--plain and --json exclude each other" })
      return { ...common, type: "run", pipeline: rest[0]!, jobs: positiveInt("jobs", v.jobs ?? String(os.availableParallelism())), output: v.json ? "json" : v.plain ? "plain" : "auto", keepGoing: v["keep-going"] === true, force: v.force ?? [],
        executor: oneOf("executor", v.executor ?? "local", EXECUTORS), slurmBatch: positiveInt("slurm-batch", v["slurm-batch"] ?? "256"),
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
      if (rest.length > 1) throw new UsageError({ command, message: "compare: expected at most one pipeline" })
      return { ...common, type: "compare", ...(rest[0] ? { pipeline: rest[0] } : {}), baseline: v.baseline ?? "lora", format: oneOf("format", v.format ?? "table", FORMATS), ...runId }
    case "plot":
      if (rest.length > 1) throw new UsageError({ command, message: "plot: expected at most one pipeline" })
      if (v.out === undefined) throw new UsageError({ command, message: "plot: --out <file.svg|file.png> is required" })
      return { ...common, type: "plot", ...(rest[0] ? { pipeline: rest[0] } : {}), out: v.out, baseline: v.baseline ?? "lora", ...runId }
    case "runs":
      need(0, "no arguments")
      return { ...common, type: "runs", json: v.json === true }
    case "gc":
      need(0, "no arguments")
      return { ...common, type: "gc", dryRun: v["dry-run"] === true, json: v.json === true }
  }
}

export const parseCommand = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Command | UsageError => {
  try {
    return parse(argv, env)
  } catch (e) {
    return e instanceof UsageError ? e : new UsageError({ message: e instanceof Error ? e.message : String(e) })
  }
}
