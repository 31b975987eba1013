/**
 * Every document the repository names is in the repository: a reader of a clone can follow each
 * reference. Two kinds of reference, in every source, script, config and Markdown file:
 * - a bare upper-case name (`DESIGN.md`, `README.md`): found at the root, in docs/, or next to
 *   the file that names it;
 * - a path (`docs/METHODS.md`, `bench/README.md`, `../shared/HF.md`): found from the root or
 *   from the naming file's folder (Markdown links are relative to it).
 * URLs are not references to this repository and are left out, and so is this file (its
 * examples name missing documents on purpose).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "..")
const SELF = "tests/docs.test.ts"

/** Generated, installed or machine-local folders: not the repository's text. */
const SKIP = new Set(["node_modules", ".git", "runs", "dist", "build", "out", ".venv"])
const TEXT = /\.(ts|tsx|js|mjs|cjs|c|h|sh|py|md|ya?ml|json|gyp)$|^run$/

const textFiles = (dir = ""): ReadonlyArray<string> =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir === "" ? e.name : `${dir}/${e.name}`
    if (e.isDirectory()) return SKIP.has(e.name) ? [] : textFiles(rel)
    return e.isFile() && TEXT.test(e.name) && rel !== "package-lock.json" && rel !== SELF ? [rel] : []
  })

const BARE = /(?<![\w./-])[A-Z][A-Z_-]+\.md\b/g
const PATH = /(?<![\w/-])(?:\.{1,2}\/|[\w.-]+\/)+[\w.-]+\.md\b/g

/** The document names in a text, URLs removed. */
export const docReferences = (text: string): ReadonlyArray<string> => {
  const plain = text.replace(/\b[a-z][a-z+.-]*:\/\/\S+/gi, "")
  return [...new Set([...(plain.match(BARE) ?? []), ...(plain.match(PATH) ?? [])])]
}

/** Whether `ref`, named in `file`, is a file of the repository. */
const resolves = (file: string, ref: string): boolean => {
  const here = path.dirname(path.join(ROOT, file))
  const candidates = ref.includes("/") ? [path.join(ROOT, ref), path.join(here, ref)] : [path.join(ROOT, ref), path.join(ROOT, "docs", ref), path.join(here, ref)]
  return candidates.some((c) => c.startsWith(ROOT + path.sep) && existsSync(c))
}

describe("documents named in the repository", () => {
  it("finds references of both kinds and leaves URLs out", () => {
    expect(docReferences("see DESIGN.md, docs/METHODS.md and ../shared/HF.md; https://x.org/a/README.md")).toEqual(["DESIGN.md", "docs/METHODS.md", "../shared/HF.md"])
  })

  it("a missing document is reported, an existing one is not", () => {
    expect(resolves("src/engine/threads.ts", "docs/DESIGN.md")).toBe(true)
    expect(resolves("src/engine/threads.ts", "DESIGN.md")).toBe(true)
    expect(resolves("bench/hf-interop.sh", "../shared/HF.md")).toBe(false)
    expect(resolves("src/engine/threads.ts", "NOTES.md")).toBe(false)
  })

  it("every file names only documents that exist", () => {
    const missing = textFiles().flatMap((file) =>
      docReferences(readFileSync(path.join(ROOT, file), "utf8"))
        .filter((ref) => !resolves(file, ref))
        .map((ref) => `${file}: ${ref}`),
    )
    expect(missing).toEqual([])
  })
})
