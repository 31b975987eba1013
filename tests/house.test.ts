/**
 * The house: the file import graph of src/ and stages/ (value and type imports, re-exports,
 * `import("…")`, read with the TypeScript scanner, so comments and strings do not count)
 * - has no circles, file by file, nor between the folders of src/;
 * - never goes from src/ into stages/ (stages use the code in src/, not the other way round);
 * - leaves src/contracts/ a leaf: it imports nothing of ours but itself (only `effect` and node builtins).
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const ROOT = path.resolve(import.meta.dirname, "..")

type Graph = ReadonlyMap<string, ReadonlyArray<string>>

const sourcesUnder = (dir: string): ReadonlyArray<string> =>
  (readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => path.join(dir, f).split(path.sep).join("/"))

/** Every import specifier of a module (static, re-export, `import type`, `import("…")`). */
const specifiersOf = (file: string): ReadonlyArray<string> =>
  ts.preProcessFile(readFileSync(path.join(ROOT, file), "utf8"), true, true).importedFiles.map((f) => f.fileName)

/** file → the files of ours it imports (repo-relative paths), for the given files. */
const importGraph = (files: ReadonlyArray<string>): Graph =>
  new Map(
    files.map((file) => [
      file,
      [...new Set(specifiersOf(file).filter((s) => s.startsWith(".")).map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s))))],
    ]),
  )

/** The circles of a graph as closed paths `a → b → a`: each back edge of a depth-first walk closes one, so every circular part is named. */
export const circlesOf = (graph: Graph): ReadonlyArray<ReadonlyArray<string>> => {
  const circles: Array<ReadonlyArray<string>> = []
  const done = new Set<string>()
  const onPath = new Map<string, number>()
  const trail: Array<string> = []
  const visit = (node: string): void => {
    onPath.set(node, trail.length)
    trail.push(node)
    for (const next of graph.get(node) ?? []) {
      const at = onPath.get(next)
      if (at !== undefined) circles.push([...trail.slice(at), next])
      else if (!done.has(next) && graph.has(next)) visit(next)
    }
    trail.pop()
    onPath.delete(node)
    done.add(node)
  }
  for (const node of [...graph.keys()].sort()) if (!done.has(node)) visit(node)
  return circles
}

/** The graph between the folders of src/ (src/engine, src/model, …): one edge per importing pair. */
const folderGraph = (graph: Graph): Graph => {
  const folderOf = (file: string): string | undefined => {
    const [top, sub, leaf] = file.split("/")
    return top === "src" && leaf !== undefined ? `${top}/${sub}` : undefined
  }
  const edges = new Map<string, Set<string>>()
  for (const [file, deps] of graph)
    for (const dep of deps) {
      const [from, to] = [folderOf(file), folderOf(dep)]
      if (from !== undefined && to !== undefined && from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to))
    }
  return new Map([...edges].map(([k, v]) => [k, [...v].sort()]))
}

const show = (circles: ReadonlyArray<ReadonlyArray<string>>): string => circles.map((c) => c.join(" → ")).join("\n")

describe("the import graph of src/ and stages/", () => {
  const graph = importGraph([...sourcesUnder("src"), ...sourcesUnder("stages")])

  it("reads imports of every form", () => {
    // Guards the reader itself: a scanner that missed `import type` or `import("…")` would pass everything.
    const stage = graph.get("stages/train/index.ts") ?? []
    expect(stage.some((f) => f.startsWith("src/contracts/"))).toBe(true)
    expect(stage).toContain("stages/train/run.ts") // the lazy `import("./run.ts")`
    expect(graph.size).toBeGreaterThan(100)
  })

  it("has no circles between files", () => {
    expect(show(circlesOf(graph))).toBe("")
  })

  it("has no circles between the folders of src/", () => {
    expect(show(circlesOf(folderGraph(graph)))).toBe("")
  })

  it("never imports stages/ from src/", () => {
    const inward = [...graph].flatMap(([file, deps]) => (file.startsWith("src/") ? deps.filter((d) => d.startsWith("stages/")).map((d) => `${file} → ${d}`) : []))
    expect(inward).toEqual([])
  })

  it("keeps src/contracts/ a leaf: only effect, node builtins and itself", () => {
    const outside = sourcesUnder("src/contracts").flatMap((file) =>
      specifiersOf(file)
        .filter((s) => (s.startsWith(".") ? !path.posix.join(path.posix.dirname(file), s).startsWith("src/contracts/") : !(s === "effect" || s.startsWith("effect/") || s.startsWith("node:"))))
        .map((s) => `${file} → ${s}`),
    )
    expect(outside).toEqual([])
  })
})

describe("circlesOf", () => {
  it("names each circle as a closed path", () => {
    //   a → b → c → a      d → d      e → a
    const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["d"]], ["e", ["a"]]])
    expect(circlesOf(g)).toEqual([["a", "b", "c", "a"], ["d", "d"]])
    expect(circlesOf(new Map([["a", ["b"]], ["b", []]]))).toEqual([])
  })
})
