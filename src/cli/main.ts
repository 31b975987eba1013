/**
 * The CLI: parse, validate the pipeline (exit 2 before anything is written), then dispatch.
 * Returns the exit code; interruption (Ctrl-C) is mapped to 130 by run-main.ts.
 */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import picomatch from "picomatch"
import { Effect } from "effect"
import { BackendUnavailable, resolveBackend } from "../engine/backend.ts"
import { InputFileMissing } from "../engine/fingerprint.ts"
import { projectRoot } from "../engine/project.ts"
import { kindsOf } from "../engine/registry.ts"
import type { Registry } from "../engine/registry.ts"
import { makePlan, runPipeline } from "../engine/run-pipeline.ts"
import { compilePipeline } from "../pipeline/compile.ts"
import type { PlannedInstance } from "../pipeline/plan.ts"
import { PipelineInvalid } from "../pipeline/problems.ts"
import { parseYaml } from "../pipeline/yaml-source.ts"
import { openDb } from "../store/db.ts"
import { collectGarbage } from "../store/gc.ts"
import { recoverStale } from "../store/recover.ts"
import { Store } from "../store/store.ts"
import type { EventSink } from "../ui/sink.ts"
import { makeJsonSink } from "../ui/json.ts"
import { makePlainSink } from "../ui/plain.ts"
import { parseCommand, UsageError, USAGE } from "./args.ts"
import type { Command, Output } from "./args.ts"
import { formatRuns, formatStatus, formatWhy, listRuns, statusJson } from "./inspect.ts"

export interface Io {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
  readonly argv: ReadonlyArray<string>
}

const line = (out: NodeJS.WritableStream, text: string) => Effect.sync(() => out.write(text.endsWith("\n") ? text : text + "\n"))

/** The end-of-run comparison table, read from SQLite; undefined when there is nothing to compare. */
const comparisonText = (runsDir: string, pipeline: string) => async (): Promise<string | undefined> => {
  const db = openDb(runsDir, { create: false })
  if (db === undefined) return undefined
  try {
    const { loadComparison, formatComparison } = await import("../report/compare.ts")
    return formatComparison(loadComparison(db, { pipeline, baseline: "lora" }), "table")
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

type Inspect = Extract<Command, { type: "status" | "why" | "export" }>

/** status / why: plan against the store read-only; creates nothing. */
const inspect = (cmd: Inspect, registry: Registry, io: Io) =>
  Effect.gen(function* () {
    const pipeline = yield* compilePipeline(cmd.pipeline, kindsOf(registry))
    const backend = yield* Effect.promise(() => resolveBackend(cmd.backend))
    const db = openDb(cmd.runsDir, { create: false })
    const store = db === undefined ? undefined : new Store(db)
    try {
      const plan = makePlan(store, { pipeline, projectDir: projectRoot(), backend, force: () => false })
      if (cmd.type === "status") return yield* line(io.stdout, cmd.json ? statusJson(plan) : formatStatus(plan)).pipe(Effect.as(0))
      const target = plan.find((p) => p.instance.id === cmd.id)
      if (target === undefined) return yield* line(io.stderr, `${cmd.type}: no stage instance "${cmd.id}" in ${cmd.pipeline}`).pipe(Effect.as(2))
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
    const { exportArtifact } = await import("../model/hf/export.ts")
    const { HfUnsupported } = await import("../model/hf/config.ts")
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
    const unknown = cmd.force.filter((glob) => !pipeline.instances.some((i) => picomatch(glob)(i.id)))
    if (unknown.length > 0) return yield* line(io.stderr, `--force ${unknown.join(", ")}: matches no stage instance`).pipe(Effect.as(2))
    const matchers = cmd.force.map((g) => picomatch(g))
    if (cmd.db !== undefined) io.env["PEFTLAB_DB"] = cmd.db
    if (cmd.executor === "slurm") {
      const { slurmAvailable } = yield* Effect.promise(() => import("../engine/executors/slurm.ts"))
      const problem = yield* Effect.promise(slurmAvailable)
      if (problem !== undefined) return yield* line(io.stderr, problem).pipe(Effect.as(2))
    }
    const backend = yield* Effect.promise(() => resolveBackend(cmd.backend))
    const sink = yield* Effect.promise(() => makeSink(cmd.output, io, comparisonText(cmd.runsDir, pipeline.name)))
    const status = yield* runPipeline({
      pipeline, registryModule: registry.module, runsDir: cmd.runsDir, projectDir: projectRoot(), backend, jobs: cmd.jobs,
      keepGoing: cmd.keepGoing, force: (id) => matchers.some((m) => m(id)), sink, argv: io.argv,
      executor: cmd.executor, resources: cmd.resources, slurmBatch: cmd.slurmBatch,
      ...(dashboardWanted(cmd.output, io) ? { workerLog: "worker.log" } : {}),
    }).pipe(Effect.ensuring(Effect.promise(() => sink.close())))
    return status === "succeeded" ? 0 : status === "failed" ? 1 : 130
  })

const withDb = <A>(runsDir: string, io: Io, f: (store: Store) => A): Effect.Effect<A | 0> =>
  Effect.sync(() => {
    const db = openDb(runsDir, { create: false })
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

/** The `name:` of a pipeline file, for compare/plot to pick its runs (undefined if unreadable). */
const pipelineName = (file: string): string | undefined => {
  const value = parseYaml(file, readFileSync(file, "utf8")).value
  const name = typeof value === "object" && value !== null ? (value as { name?: unknown }).name : undefined
  return typeof name === "string" ? name : undefined
}

const report = (cmd: Extract<Command, { type: "compare" | "plot" }>, io: Io) =>
  Effect.promise(async () => {
    if (cmd.pipeline !== undefined && !existsSync(cmd.pipeline)) return io.stderr.write(`${cmd.pipeline}: no such pipeline file\n`), 2
    const db = openDb(cmd.runsDir, { create: false })
    if (db === undefined) return io.stderr.write(`no runs directory at ${cmd.runsDir}\n`), 2
    try {
      // parseYaml, not `(await import("yaml")).parse`: the bundle turns yaml's CommonJS build into a
      // namespace without named exports, and compare/plot with a pipeline file failed there.
      const pipeline = cmd.pipeline === undefined ? undefined : pipelineName(cmd.pipeline)
      if (cmd.type === "plot") {
        const { writePlot } = await import("../report/plot.ts")
        await writePlot(db, { ...(pipeline ? { pipeline } : {}), out: cmd.out })
        return io.stdout.write(`wrote ${cmd.out}\n`), 0
      }
      const { loadComparison, formatComparison } = await import("../report/compare.ts")
      io.stdout.write(formatComparison(loadComparison(db, { ...(pipeline ? { pipeline } : {}), baseline: cmd.baseline }), cmd.format) + "\n")
      return 0
    } catch (e) {
      // Expected report failures (no runs of that pipeline, nothing to plot) are input errors.
      if (e instanceof Error && (e as { _tag?: string })._tag === "ReportError") return io.stderr.write(`${e.message}\n`), 2
      throw e
    } finally {
      db.close()
    }
  })

const dispatch = (cmd: Command, registry: Registry, io: Io): Effect.Effect<number, PipelineInvalid> => {
  switch (cmd.type) {
    case "help":
      return line(io.stdout, USAGE).pipe(Effect.as(0))
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
        const { otherLiveRuns } = recoverStale(s.db, cmd.runsDir)
        const r = collectGarbage(s.db, cmd.runsDir, { otherLiveRuns })
        io.stdout.write(otherLiveRuns > 0 ? "gc: another run is live; nothing removed\n" : `gc: removed ${r.artifacts} unreferenced artifacts, ${r.folders} orphan folders\n`)
        return 0
      })
  }
}

export const cli = (argv: ReadonlyArray<string>, registry: Registry, io: Io): Effect.Effect<number> => {
  const cmd = parseCommand(argv, io.env)
  if (cmd instanceof UsageError) return line(io.stderr, `peftlab: ${cmd.message}\n${USAGE}`).pipe(Effect.as(2))
  return dispatch(cmd, registry, io).pipe(
    Effect.catch((e) => line(io.stderr, `${e.message}\n${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}; nothing was run`).pipe(Effect.as(2))),
    Effect.catchDefect((d) =>
      d instanceof InputFileMissing || d instanceof BackendUnavailable ? line(io.stderr, d.message).pipe(Effect.as(2)) : Effect.die(d),
    ),
  )
}
