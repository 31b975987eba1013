/**
 * The code a stage instance runs: its stage file and every project module it imports with a
 * value import (static, re-export, or a literal `import("./…")`), transitively.
 *
 * - What is hashed is what runs: each module is transpiled with esbuild (the transpiler tsx
 *   itself uses, with the project's `verbatimModuleSyntax`), so comments, types, `import type`
 *   and formatting do not count. Imports are read from that JavaScript with es-module-lexer
 *   (a real ES module lexer), so type-only imports are not followed.
 * - `cut` modules are registries (lists of methods): they are neither hashed nor followed, so
 *   an instance does not depend on every entry of the list. The stage names the entries it
 *   really uses (`extra`, e.g. the file of its method) and they are digested as roots.
 * - npm packages are not read (their versions are fingerprinted instead, see fingerprint.ts).
 *
 * Digests are per file so `why` can name the file.
 *
 * Transpiling costs ~2 ms a file, which `status` would pay on every call: results are kept in
 * `node_modules/.cache/peftlab/code-digest.json`, keyed by the sha256 of the source text and the
 * transpiler's version (content-addressed, so a stale entry cannot be hit). Best effort: an
 * unwritable cache only costs time.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { initSync, parse } from "es-module-lexer"
import { createRequire } from "node:module"

// esbuild is loaded only when a module is not in the cache (a fully cached `status` never loads it).
const require = createRequire(import.meta.url)
const esbuild = (): typeof import("esbuild") => require("esbuild") as typeof import("esbuild")
const esbuildVersion = (require("esbuild/package.json") as { version: string }).version

const TSCONFIG = { compilerOptions: { verbatimModuleSyntax: true } } as const

/** The JavaScript a module runs (no types, no comments, canonical formatting). */
export const transpiled = (file: string, source: string): string =>
  esbuild().transformSync(source, {
    loader: file.endsWith(".tsx") ? "tsx" : file.endsWith(".ts") || file.endsWith(".mts") ? "ts" : "js",
    format: "esm",
    legalComments: "none",
    jsx: "automatic",
    tsconfigRaw: TSCONFIG,
  }).code

let lexerReady = false

/** Relative specifiers a module's JavaScript imports at run time (static, re-exports, literal dynamic). */
export const valueImports = (js: string): ReadonlyArray<string> => {
  if (!lexerReady) {
    initSync()
    lexerReady = true
  }
  const [imports] = parse(js)
  return imports.flatMap((i) => (i.n !== undefined && i.n.startsWith(".") ? [i.n] : []))
}

interface ModuleEntry {
  readonly stamp: string
  readonly sha: string
  readonly imports: ReadonlyArray<string>
}

/** Per process, keyed by path and revalidated by mtime and size (a long-lived process may see edits). */
const fileCache = new Map<string, ModuleEntry>()

const CACHE_VERSION = `1 esbuild ${esbuildVersion}`

interface Transpiled {
  readonly sha: string
  readonly imports: ReadonlyArray<string>
}

/** source sha256 → what the transpiled module hashes to and imports; persisted across processes. */
class TranspileCache {
  private entries: Record<string, Transpiled> | undefined
  private dirty = false
  constructor(private readonly file: string) {}

  private load(): Record<string, Transpiled> {
    if (this.entries !== undefined) return this.entries
    try {
      const stored = JSON.parse(readFileSync(this.file, "utf8")) as { version?: string; entries?: Record<string, Transpiled> }
      this.entries = stored.version === CACHE_VERSION && stored.entries !== undefined ? stored.entries : {}
    } catch {
      this.entries = {}
    }
    return this.entries
  }

  get(sourceSha: string): Transpiled | undefined {
    return this.load()[sourceSha]
  }

  set(sourceSha: string, t: Transpiled): void {
    this.load()[sourceSha] = t
    this.dirty = true
  }

  save(): void {
    if (!this.dirty || this.entries === undefined) return
    try {
      mkdirSync(path.dirname(this.file), { recursive: true })
      const tmp = `${this.file}.${process.pid}.tmp`
      writeFileSync(tmp, JSON.stringify({ version: CACHE_VERSION, entries: this.entries }))
      renameSync(tmp, this.file)
      this.dirty = false
    } catch {
      // read-only checkout: digests are still right, only slower next time
    }
  }
}

const transpileCaches = new Map<string, TranspileCache>()
const transpileCacheOf = (projectDir: string): TranspileCache =>
  transpileCaches.get(projectDir) ??
  transpileCaches.set(projectDir, new TranspileCache(path.join(projectDir, "node_modules", ".cache", "peftlab", "code-digest.json"))).get(projectDir)!

const readModule = (file: string, cache: TranspileCache): ModuleEntry => {
  const st = statSync(file)
  const stamp = `${st.mtimeMs}:${st.size}`
  const hit = fileCache.get(file)
  if (hit !== undefined && hit.stamp === stamp) return hit
  const source = readFileSync(file, "utf8")
  const sourceSha = createHash("sha256").update(file.endsWith("x") ? "tsx\0" : "ts\0").update(source).digest("hex")
  let t = cache.get(sourceSha)
  if (t === undefined) {
    const js = transpiled(file, source)
    t = { sha: createHash("sha256").update(js).digest("hex"), imports: valueImports(js) }
    cache.set(sourceSha, t)
  }
  const dir = path.dirname(file)
  const entry = { stamp, sha: t.sha, imports: t.imports.map((s) => path.resolve(dir, s)) }
  fileCache.set(file, entry)
  return entry
}

export interface CodeScope {
  /** Registry modules (URLs): not hashed, their imports not followed. */
  readonly cut?: ReadonlyArray<string>
  /** Further roots (URLs), e.g. the file of the instance's method. */
  readonly extra?: ReadonlyArray<string>
}

const toPath = (url: string): string => (url.startsWith("file:") ? fileURLToPath(url) : url)

/**
 * `[relative path, sha256]` of the module, the `extra` roots and their local value imports,
 * sorted by path. Paths are relative to `projectDir` (never absolute: fingerprints must not
 * depend on the checkout's place), or to the module's own folder when it lives outside the project.
 */
export const codeDigest = (moduleUrl: string, projectDir: string, scope: CodeScope = {}): ReadonlyArray<readonly [string, string]> => {
  const root = toPath(moduleUrl)
  const base = root.startsWith(projectDir + path.sep) ? projectDir : path.dirname(root)
  const cut = new Set((scope.cut ?? []).map(toPath))
  const seen = new Map<string, string>()
  const cache = transpileCacheOf(projectDir)
  const visit = (file: string) => {
    if (seen.has(file) || cut.has(file) || !existsSync(file)) return
    const mod = readModule(file, cache)
    seen.set(file, mod.sha)
    for (const dep of mod.imports) visit(dep)
  }
  visit(root)
  for (const extra of scope.extra ?? []) visit(toPath(extra))
  cache.save()
  return [...seen.entries()].map(([f, sha]) => [path.relative(base, f).split(path.sep).join("/"), sha] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1))
}
