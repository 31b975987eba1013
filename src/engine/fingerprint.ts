/**
 * The cache key of a stage instance: sha256 over the canonical JSON of this field list, in order.
 *
 *   kind                  the stage kind
 *   version               the kind's `version` (bump to invalidate on purpose)
 *   code:<file>           sha256 of the transpiled JavaScript of the stage file and of each local module
 *                         it imports by value, narrowed to the instance's method (code-digest.ts)
 *   params.<key>          each decoded param (defaults applied, axes interpolated), canonical JSON;
 *                         a kind's `fingerprintParams` may leave out what cannot change its outputs
 *   input.<name>          the fingerprint of the producer instance bound to that input; for a
 *                         fan-in input, [[factors, fingerprint], …] of every collected instance in matrix order
 *   ref.<param>           the fingerprint of the choosing instance a param's value comes from (`{ from: pick }`)
 *   file:<path>           sha256 of each user file the params name (path as written, relative to the pipeline)
 *   backend               the resolved compute backend's identity (native: with its OpenBLAS core); the
 *                         instance's own where it differs from the run's (one asking for GPUs: backend.ts)
 *   dep:<package>         peftlab's version and those of the packages of FINGERPRINTED_PACKAGES (packages.ts)
 *                         in the groups the kind names: tensors (tfjs), pretraining and task data
 *
 * Never a run id, a time or an absolute path. The list is stored with each execution so
 * `peftlab why` can say which field changed.
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { Data } from "effect"
import type { Instance } from "../pipeline/expand.ts"
import { canonicalJson } from "../contracts/canonical.ts"
import type { Field } from "../contracts/fields.ts"
import { FINGERPRINTED_PACKAGES, groupOf, packageVersion, type PackageGroup } from "../contracts/packages.ts"

export class InputFileMissing extends Data.TaggedError("InputFileMissing")<{ readonly instance: string; readonly file: string }> {
  override get message(): string {
    return `${this.instance}: input file not found: ${this.file}`
  }
}

/** `dep:` fields, in list order: peftlab's own version and each installed package of the list. */
export const dependencyFields = (projectDir: string): ReadonlyArray<Field> => {
  const own = existsSync(path.join(projectDir, "package.json"))
    ? (JSON.parse(readFileSync(path.join(projectDir, "package.json"), "utf8")) as { version?: string }).version
    : undefined
  const fields: Array<Field> = [["dep:peftlab", own ?? "unknown"]]
  for (const pkg of Object.values(FINGERPRINTED_PACKAGES).flat()) {
    const v = packageVersion(pkg, projectDir)
    if (v !== undefined) fields.push([`dep:${pkg}`, v])
  }
  return fields
}

/** The `dep:` fields a kind depends on: peftlab's version and its groups' packages. */
const depsFor = (deps: ReadonlyArray<Field>, groups: ReadonlyArray<PackageGroup> | undefined): ReadonlyArray<Field> =>
  groups === undefined
    ? deps
    : deps.filter(([k]) => {
        const group = groupOf(k.slice(4))
        return group === undefined || groups.includes(group)
      })

export interface FingerprintContext {
  readonly projectDir: string
  readonly pipelineDir: string
  /** `backendIdentity(name)`: the backend name, plus the OpenBLAS core for native. */
  readonly backend: string
  /** An instance's own backend identity where it may differ from the run's (engine/backend.ts). */
  readonly backendOf?: (instance: Instance) => string
  readonly deps: ReadonlyArray<Field>
  /** The code digest of a stage module (memoized per plan by the caller). */
  readonly codeOf: (moduleUrl: string) => ReadonlyArray<readonly [string, string]>
  /** Fingerprints of already-planned instances (producers come first in plan order). */
  readonly fingerprintOf: (id: string) => string
  /** Factors of a planned instance (a fan-in input records each collected instance's). */
  readonly factorsOf: (id: string) => Readonly<Record<string, unknown>>
}

/** A file's sha256; a folder's is the sha256 of its files' relative paths and digests, sorted (load-model's checkpoint). */
const sha256File = (file: string): string => {
  if (!statSync(file).isDirectory()) return createHash("sha256").update(readFileSync(file)).digest("hex")
  const entries = (readdirSync(file, { recursive: true }) as string[]).filter((f) => statSync(path.join(file, f)).isFile()).sort()
  return createHash("sha256").update(canonicalJson(entries.map((f) => [f.split(path.sep).join("/"), sha256File(path.join(file, f))])) ?? "").digest("hex")
}

export const fingerprintFields = (instance: Instance, ctx: FingerprintContext): ReadonlyArray<Field> => {
  const { def } = instance
  const fields: Array<Field> = [["kind", def.kind], ["version", def.version]]
  for (const [file, sha] of ctx.codeOf(def.module)) fields.push([`code:${file}`, sha])
  const params = def.fingerprintParams?.(instance.params) ?? instance.params
  if (typeof params === "object" && params !== null)
    for (const key of Object.keys(params).sort()) fields.push([`params.${key}`, JSON.parse(canonicalJson((params as Record<string, unknown>)[key]) ?? "null")])
  else fields.push(["params", params ?? null])
  const single = instance.inputs
  const many = instance.collected
  for (const name of [...Object.keys(single), ...Object.keys(many)].sort()) {
    const ids = many[name]
    if (ids === undefined) fields.push([`input.${name}`, ctx.fingerprintOf(single[name]!)])
    else fields.push([`input.${name}`, ids.map((id) => [JSON.parse(canonicalJson(ctx.factorsOf(id)) ?? "{}"), ctx.fingerprintOf(id)])])
  }
  for (const param of Object.keys(instance.refs).sort()) fields.push([`ref.${param}`, ctx.fingerprintOf(instance.refs[param]!.producer)])
  for (const file of def.files?.(instance.params) ?? []) {
    const abs = path.resolve(ctx.pipelineDir, file)
    if (!existsSync(abs)) throw new InputFileMissing({ instance: instance.id, file })
    fields.push([`file:${file}`, sha256File(abs)])
  }
  fields.push(["backend", ctx.backendOf?.(instance) ?? ctx.backend], ...depsFor(ctx.deps, def.packages))
  return fields
}

export const fingerprintOf = (fields: ReadonlyArray<Field>): string => createHash("sha256").update(canonicalJson(fields)).digest("hex")

const show = (v: unknown): string => {
  const s = typeof v === "string" ? v : canonicalJson(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** Human lines naming what changed between two field lists: `params.rank: 8 → 16`, `code: x.ts changed`. */
export const diffFields = (before: ReadonlyArray<Field>, after: ReadonlyArray<Field>): ReadonlyArray<string> => {
  const old = new Map(before.map(([k, v]) => [k, canonicalJson(v)]))
  const now = new Map(after.map(([k, v]) => [k, canonicalJson(v)]))
  const lines: Array<string> = []
  for (const [k, v] of after) {
    const prev = old.get(k)
    const code = k.startsWith("code:") ? k.slice(5) : undefined
    if (prev === undefined) lines.push(code !== undefined ? `code: ${code} added` : `${k}: added (${show(v)})`)
    else if (prev !== now.get(k)) {
      if (code !== undefined) lines.push(`code: ${code} changed`)
      else if (k.startsWith("input.")) lines.push(`${k}: upstream changed`)
      else if (k.startsWith("ref.")) lines.push(`${k}: the stage choosing it changed`)
      else if (k.startsWith("file:")) lines.push(`${k.slice(5)}: content changed`)
      else lines.push(`${k}: ${show(JSON.parse(prev))} → ${show(v)}`)
    }
  }
  for (const [k] of before) if (!now.has(k)) lines.push(k.startsWith("code:") ? `code: ${k.slice(5)} removed` : `${k}: removed`)
  return lines
}
