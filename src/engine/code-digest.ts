/**
 * The code a stage kind runs: its file and every project module it imports, statically or
 * with a literal `import("./…")`, transitively. npm packages are not read (their versions are
 * fingerprinted instead, see fingerprint.ts). Digests are per file so `why` can name the file.
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const IMPORTS =
  /(?:^|[^\w$.])(?:import|export)\s+(?:type\s+)?[^'"`;]*?\sfrom\s*["'](\.{1,2}\/[^"']+)["']|(?:^|[^\w$.])import\s*["'](\.{1,2}\/[^"']+)["']|(?:^|[^\w$.])import\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*[,)]/gm

const COMMENTS = /\/\*[\s\S]*?\*\/|(^|[^:"'`\\])\/\/.*$/gm

/** Relative specifiers imported by a module's source text (comments ignored). */
export const localImports = (source: string): ReadonlyArray<string> =>
  [...source.replace(COMMENTS, "$1").matchAll(IMPORTS)].map((m) => m[1] ?? m[2] ?? m[3] ?? "").filter((s) => s !== "")

/** Per process, keyed by path and revalidated by mtime and size (a long-lived process may see edits). */
const fileCache = new Map<string, { readonly stamp: string; readonly sha: string; readonly imports: ReadonlyArray<string> }>()

const readModule = (file: string) => {
  const st = statSync(file)
  const stamp = `${st.mtimeMs}:${st.size}`
  const hit = fileCache.get(file)
  if (hit !== undefined && hit.stamp === stamp) return hit
  const text = readFileSync(file)
  const sha = createHash("sha256").update(text).digest("hex")
  const dir = path.dirname(file)
  const entry = { stamp, sha, imports: localImports(text.toString("utf8")).map((s) => path.resolve(dir, s)) }
  fileCache.set(file, entry)
  return entry
}

/**
 * `[relative path, sha256]` of the module and its local imports, sorted by path. Paths are
 * relative to `projectDir` (never absolute: fingerprints must not depend on the checkout's place),
 * or to the module's own folder when the module lives outside the project.
 */
export const codeDigest = (moduleUrl: string, projectDir: string): ReadonlyArray<readonly [string, string]> => {
  const root = fileURLToPath(moduleUrl)
  const base = root.startsWith(projectDir + path.sep) ? projectDir : path.dirname(root)
  const seen = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file) || !existsSync(file)) return
    const mod = readModule(file)
    seen.set(file, mod.sha)
    for (const dep of mod.imports) visit(dep)
  }
  visit(root)
  return [...seen.entries()].map(([f, sha]) => [path.relative(base, f).split(path.sep).join("/"), sha] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1))
}
