/**
 * The CLI: parse, validate the pipeline (exit 2 before anything is written), then dispatch.
 * Returns the exit code; interruption (Ctrl-C) is mapped to 130 by run-main.ts.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { BackendUnavailable, resolveBackends } from "../engine/backend.ts"
import { InputFileMissing } from "../engine/fingerprint.ts"
import { projectRoot } from "../engine/project.ts"
import { kindsOf } from "../engine/registry.ts"
import type { Registry } from "../engine/registry.ts"
import { makePlan, runPipeline } from "../engine/run-pipeline.ts"
import { compilePipeline } from "../pipeline/compile.ts"
import type { Pipeline } from "../pipeline/compile.ts"
import { memoryPlan } from "../pipeline/memory.ts"
import type { MemoryPlan } from "../pipeline/memory.ts"
import type { RunBackends } from "../engine/backend.ts"
import type { PlannedInstance } from "../engine/plan.ts"
import { PipelineInvalid } from "../pipeline/problems.ts"
import { didYouMean } from "../pipeline/suggest.ts"
import { parseYaml } from "../pipeline/yaml-source.ts"
import { DB_FILE, isDamage, openDb } from "../store/db.ts"
import { asResourceFault, StoreUnusable } from "../store/faults.ts"
import { collectGarbage } from "../store/gc.ts"
import type { GcReport } from "../store/gc.ts"
import { Store } from "../store/store.ts"
import type { EventSink } from "../ui/sink.ts"
import { makeJsonSink } from "../ui/json.ts"
import { makePlainSink } from "../ui/plain.ts"
import { commandHelp, parseCommand, UsageError, USAGE } from "./args.ts"
import { forceMatcher } from "./force.ts"
import type { Command, Output } from "./args.ts"
import { formatRuns, formatStatus, formatWhy, listRuns, statusJson } from "./inspect.ts"

export interface Io {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
  readonly argv: ReadonlyArray<string>
}

const line = (out: NodeJS.WritableStream, text: string) => Effect.sync(() => out.write(text.endsWith("\n") ? text : text + "\n"))

/** The end-of-run comparison table of the run that just ended, read from SQLite; undefined when there is nothing to compare. */
const comparisonText = (runsDir: string, pipeline: string) => async (): Promise<string | undefined> => {
  let db: ReturnType<typeof openDb>
  try {
    db = openDb(runsDir, { create: false })
  } catch {
    return undefined // the store became unusable during the run (a full disk): the run's own messages say so
  }
  if (db === undefined) return undefined
  try {
    const latest = db.prepare(`SELECT max(id) AS id FROM runs WHERE pipeline = ?`).get(pipeline) as { id: number | null }
    if (latest.id === null) return undefined
    const { loadComparison } = await import("../report/compare.ts")
    const { formatComparison } = await import("../report/format.ts")
    return formatComparison(loadComparison(db, { pipeline, runId: latest.id, baseline: "lora" }), "table")
  } catch {
    return undefined // a pipeline without eval stages (or only fake stages) has no comparison
  } finally {
    db.close()
  }
}

const dashboardWanted = (output: Output, io: Io): boolean => output === "auto" && io.stdout.isTTY === true && !io.env.CI

const makeSink = async (output: Output, io: Io, comparison: () => Promise<string | undefined>): Promise<EventSink> => {
  if (output === "json") return makeJsonSink(io.stdout)
  if (!dashboardWanted(output, io)) {
    const plain = makePlainSink(io.stdout)
    return {
      onEvent: plain.onEvent,
      close: async () => {
        const table = await comparison()
        if (table !== undefined) io.stdout.write(`\n${table}\n`)
        await plain.close()
      },
    }
  }
  // Computed before Ink lets go of the screen: the dashboard's callback is synchronous.
  let table: string | undefined
  const { makeDashboard } = await import("../ui/dashboard.tsx")
  const dashboard = makeDashboard({ stdout: io.stdout, comparison: () => table })
  return { onEvent: dashboard.onEvent, close: async () => ((table = await comparison()), dashboard.close()) }
}

/** Each train's memory estimate on its backend; an instance that cannot fit is exit 2 before anything runs. */
const checkMemory = (pipeline: Pipeline, backends: RunBackends): Effect.Effect<MemoryPlan, PipelineInvalid> => {
  const plan = memoryPlan(pipeline, backends.of)
  if (plan.problems.length === 0) return Effect.succeed(plan)
  const located = plan.problems.map(pipeline.locate).sort((a, b) => a.line - b.line || a.col - b.col)
  return Effect.fail(new PipelineInvalid({ problems: located }))
}

type Inspect = Extract<Command, { type: "status" | "why" | "export" }>

/** status / why: plan against the store read-only; creates nothing. */
const inspect = (cmd: Inspect, registry: Registry, io: Io) =>
  Effect.gen(function* () {
    const pipeline = yield* compilePipeline(cmd.pipeline, kindsOf(registry))
    const backends = yield* Effect.promise(() => resolveBackends(cmd.backend, { instances: pipeline.instances, defaults: cmd.resources }))
    // Only status refuses what cannot fit: why and export read what is (or would be) there.
    const memory = cmd.type === "status" ? (yield* checkMemory(pipeline, backends)).checks : new Map()
    const db = openDb(cmd.runsDir, { create: false })
    const store = db === undefined ? undefined : new Store(db, cmd.runsDir)
    try {
      const plan = makePlan(store, { pipeline, projectDir: projectRoot(), backend: backends.run, backendOf: backends.of, force: () => false })
      if (cmd.type === "status") return yield* line(io.stdout, cmd.json ? statusJson(plan, memory) : formatStatus(plan, memory)).pipe(Effect.as(0))
      const target = plan.find((p) => p.instance.id === cmd.id)
      if (target === undefined) {
        const ids = plan.map((p) => p.instance.id)
        const hint = didYouMean(cmd.id, ids) || ` (its instances: ${ids.slice(0, 6).join(", ")}${ids.length > 6 ? ", …; peftlab status lists them" : ""})`
        return yield* line(io.stderr, `${cmd.type}: no stage instance "${cmd.id}" in ${cmd.pipeline}${hint}`).pipe(Effect.as(2))
      }
      if (cmd.type === "export") return yield* exportCommand(cmd, plan, target, io)
      return yield* line(io.stdout, formatWhy(target, store?.lastGoodFields(cmd.id))).pipe(Effect.as(0))
    } finally {
      db?.close()
    }
  })

/** export: the committed artifact of a stage (and, for an adapter, of its base) → Hugging Face folders. */
const exportCommand = (cmd: Extract<Command, { type: "export" }>, plan: ReadonlyArray<PlannedInstance>, target: PlannedInstance, io: Io) =>
  Effect.promise(async () => {
    const dirOf = (p: PlannedInstance | undefined) => (p?.cached === undefined ? undefined : path.join(cmd.runsDir, p.cached.artifactPath))
    const dir = dirOf(target)
    if (dir === undefined) return io.stderr.write(`export: ${cmd.id} has no committed result for the pipeline as it is now (${target.reason ?? "not run"}); run the pipeline first\n`), 2
    const modelId = target.instance.inputs.model
    const model = modelId === undefined ? undefined : plan.find((p) => p.instance.id === modelId)
    const { exportArtifact } = await import("../hf/export.ts")
    const { HfUnsupported } = await import("../hf/config.ts")
    try {
      const r = exportArtifact({ provenance: { pipeline: cmd.pipeline, stage: cmd.id, fingerprint: target.fingerprint }, kind: target.instance.kind, dir, modelDir: dirOf(model) }, cmd.out)
      io.stdout.write(`exported ${cmd.id} to ${r.written.join(" and ")}: ${r.note}\n`)
      return 0
    } catch (e) {
      if (e instanceof HfUnsupported) return io.stderr.write(`export ${cmd.id}: ${e.message}\nnothing was written\n`), 2
      throw e
    }
  })

const run = (cmd: Extract<Command, { type: "run" }>, registry: Registry, io: Io) =>
  Effect.gen(function* () {
    const pipeline = yield* compilePipeline(cmd.pipeline, kindsOf(registry))
    const ids = pipeline.instances.map((i) => i.id)
    const unknown = cmd.force.filter((glob) => !ids.some(forceMatcher(glob)))
    if (unknown.length > 0)
      return yield* line(io.stderr, unknown.map((g) => `--force ${g}: matches no stage instance${didYouMean(g, ids)}`).join("\n")).pipe(Effect.as(2))
    const matchers = cmd.force.map(forceMatcher)
    if (cmd.db !== undefined) io.env["PEFTLAB_DB"] = cmd.db
    if (cmd.executor === "slurm") {
      const { slurmAvailable } = yield* Effect.promise(() => import("../engine/executors/slurm.ts"))
      const problem = yield* Effect.promise(slurmAvailable)
      if (problem !== undefined) return yield* line(io.stderr, problem).pipe(Effect.as(2))
    }
    const backends = yield* Effect.promise(() => resolveBackends(cmd.backend, { instances: pipeline.instances, defaults: cmd.resources }))
    yield* checkMemory(pipeline, backends)
    const sink = yield* Effect.promise(() => makeSink(cmd.output, io, comparisonText(cmd.runsDir, pipeline.name)))
    const workerLog = dashboardWanted(cmd.output, io) ? "worker.log" : undefined
    const logStart = workerLog === undefined ? 0 : sizeOf(path.join(cmd.runsDir, workerLog))
    const { status, notes } = yield* runPipeline({
      pipeline, registryModule: registry.module, runsDir: cmd.runsDir, projectDir: projectRoot(), backend: backends.run, backendOf: backends.of, jobs: cmd.jobs,
      keepGoing: cmd.keepGoing, force: (id) => matchers.some((m) => m(id)), sink, argv: io.argv,
      executor: cmd.executor, resources: cmd.resources, slurmBatch: cmd.slurmBatch,
      ...(workerLog === undefined ? {} : { workerLog }),
    }).pipe(Effect.ensuring(Effect.promise(() => sink.close())))
    // The dashboard sends the workers' output to a log: after a failure, say where, with its tail.
    if (status === "failed" && workerLog !== undefined) io.stderr.write(workerLogTail(path.join(cmd.runsDir, workerLog), logStart))
    for (const note of notes) io.stderr.write(`peftlab: ${note}\n`)
    return status === "succeeded" ? 0 : status === "failed" ? 1 : 130
  })

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0)

/** The worker log's path and the last lines this run wrote to it. */
export const workerLogTail = (file: string, from: number, lines = 15): string => {
  const text = existsSync(file) ? readFileSync(file).subarray(from).toString("utf8").trimEnd() : ""
  const tail = text === "" ? [] : text.split("\n").slice(-lines)
  return `worker log: ${file}${tail.length === 0 ? " (nothing written by this run)" : `, last ${tail.length} lines of this run:`}\n${tail.map((l) => `  ${l}\n`).join("")}`
}

const withDb = <A>(runsDir: string, io: Io, f: (store: Store) => A, check = false): Effect.Effect<A | 0> =>
  Effect.sync(() => {
    const db = openDb(runsDir, { create: false, check })
    if (db === undefined) {
      io.stdout.write(`no runs directory at ${runsDir}\n`)
      return 0 as const
    }
    try {
      return f(new Store(db))
    } finally {
      db.close()
    }
  })

/** The `name:` of a pipeline file, for compare/plot to pick its runs; a reason when it cannot be read. */
const pipelineName = (file: string): { readonly name: string } | { readonly problem: string } => {
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (e) {
    return { problem: `${file}: cannot read pipeline: ${e instanceof Error && "code" in e && e.code === "ENOENT" ? "no such file" : String(e)}` }
  }
  const source = parseYaml(file, text)
  const first = source.syntaxErrors[0]
  if (first !== undefined) return { problem: `${first.file}:${first.line}:${first.col}: ${first.message}` }
  const value = source.value
  const name = typeof value === "object" && value !== null ? (value as { name?: unknown }).name : undefined
  return typeof name === "string" && name !== "" ? { name } : { problem: `${file}: not a pipeline (no \`name:\`)` }
}

const report = (cmd: Extract<Command, { type: "compare" | "plot" }>, io: Io) =>
  Effect.promise(async () => {
    // parseYaml, not `(await import("yaml")).parse`: the bundle turns yaml's CommonJS build into a
    // namespace without named exports, and compare/plot with a pipeline file failed there.
    const named = cmd.pipeline === undefined ? undefined : pipelineName(cmd.pipeline)
    if (named !== undefined && "problem" in named) return io.stderr.write(`${named.problem}\n`), 2
    const db = openDb(cmd.runsDir, { create: false })
    if (db === undefined) return io.stderr.write(`no runs directory at ${cmd.runsDir}\n`), 2
    try {
      const choice = { ...(named === undefined ? {} : { pipeline: named.name }), ...(cmd.runId === undefined ? {} : { runId: cmd.runId }), baseline: cmd.baseline }
      if (cmd.type === "plot") {
        const { writePlot } = await import("../report/plot.ts")
        await writePlot(db, { ...choice, out: cmd.out })
        return io.stdout.write(`wrote ${cmd.out}\n`), 0
      }
      const { loadComparison } = await import("../report/compare.ts")
      const { formatComparison } = await import("../report/format.ts")
      io.stdout.write(formatComparison(loadComparison(db, choice), cmd.format) + "\n")
      return 0
    } catch (e) {
      // Expected report failures (no finished run of that pipeline, nothing to plot) are input errors.
      if (e instanceof Error && (e as { _tag?: string })._tag === "ReportError") return io.stderr.write(`${e.message}\n`), 2
      throw e
    } finally {
      db.close()
    }
  })

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

const formatGc = (r: GcReport): string => {
  if (r.liveRuns.length > 0) return `gc: ${r.liveRuns.map((l) => `run ${l.id} (pid ${l.pid})`).join(", ")} ${r.liveRuns.length === 1 ? "is" : "are"} live; gc removes nothing while a run is live`
  const verb = r.dryRun ? "would free" : "freed"
  const count = (what: string) => r.items.filter((i) => i.what === what).length
  const lines = r.items.map((i) => `  ${i.what.padEnd(8)} ${i.path} (${mib(i.bytes)})`)
  return [
    ...lines,
    `gc: ${verb} ${mib(r.bytes)} (${r.bytes} bytes): ${count("artifact")} superseded artifacts, ${count("orphan")} orphan store folders, ${count("scratch")} orphan scratch folders, ${count("tmp")} temporary folders${r.dryRun ? " (dry run: nothing removed)" : ""}`,
  ].join("\n")
}

const peftlabVersion = (): string => (JSON.parse(readFileSync(path.join(projectRoot(), "package.json"), "utf8")) as { version: string }).version

const dispatch = (cmd: Command, registry: Registry, io: Io): Effect.Effect<number, PipelineInvalid> => {
  switch (cmd.type) {
    case "help":
      return line(io.stdout, cmd.command === undefined ? USAGE : commandHelp(cmd.command)).pipe(Effect.as(0))
    case "version":
      return line(io.stdout, `peftlab ${peftlabVersion()}`).pipe(Effect.as(0))
    case "run":
      return run(cmd, registry, io)
    case "status":
    case "why":
    case "export":
      return inspect(cmd, registry, io)
    case "compare":
    case "plot":
      return report(cmd, io)
    case "runs":
      return withDb(cmd.runsDir, io, (s) => (io.stdout.write((cmd.json ? JSON.stringify(listRuns(s.db)) : formatRuns(listRuns(s.db))) + "\n"), 0))
    case "gc":
      return withDb(cmd.runsDir, io, (s) => {
        const r = collectGarbage(s.db, cmd.runsDir, { dryRun: cmd.dryRun })
        io.stdout.write((cmd.json ? JSON.stringify(r) : formatGc(r)) + "\n")
        return 0
      }, true)
  }
}

/**
 * Expected failures that surface as thrown errors from the synchronous store code, mapped to the
 * exit-code table (README): an unusable runs directory or database is 2 (nothing was touched),
 * a resource fault outside any stage (disk full while opening or recording the run) is 1.
 * Anything else stays a defect: run-main.ts reports it as a bug (70).
 */
const expectedDefect = (d: unknown, runsDir: string | undefined, io: Io): Effect.Effect<number> | undefined => {
  if (d instanceof InputFileMissing || d instanceof BackendUnavailable) return line(io.stderr, d.message).pipe(Effect.as(2))
  if (d instanceof StoreUnusable) return line(io.stderr, `peftlab: ${d.message}`).pipe(Effect.as(2))
  if (isDamage(d) && runsDir !== undefined) {
    const file = `${runsDir}/${DB_FILE}`
    return line(io.stderr, `peftlab: ${file}: is damaged (${d instanceof Error ? d.message : String(d)}).\npeftlab left it untouched. Move it aside (mv ${file} ${file}.broken) to start a new store there, or pass --runs-dir DIR to use another runs directory.`).pipe(Effect.as(2))
  }
  const fault = asResourceFault(d, "running peftlab", runsDir ?? "")
  if (fault !== undefined) return line(io.stderr, `peftlab: ${fault.message}.\nFree space (or fix the file system) and rerun: committed stages are kept, a train resumes from its last checkpoint.`).pipe(Effect.as(1))
  return undefined
}

export const cli = (argv: ReadonlyArray<string>, registry: Registry, io: Io): Effect.Effect<number> => {
  const cmd = parseCommand(argv, io.env)
  if (cmd instanceof UsageError)
    return line(io.stderr, `peftlab: ${cmd.message}\n${cmd.command === undefined ? USAGE : commandHelp(cmd.command)}`).pipe(Effect.as(2))
  const runsDir = "runsDir" in cmd ? cmd.runsDir : undefined
  return dispatch(cmd, registry, io).pipe(
    Effect.catch((e) => line(io.stderr, `${e.message}\n${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}; nothing was run`).pipe(Effect.as(2))),
    Effect.catchDefect((d) => expectedDefect(d, runsDir, io) ?? Effect.die(d)),
  )
}
