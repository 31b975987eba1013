/**
 * YAML text with its source positions: parse once, then map a path
 * (`stages.train.params.lr`) back to the line and column it came from.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml"
import type { Document, Node as YamlNode } from "yaml"
import type { LocatedProblem, Problem, YamlPath } from "./problems.ts"

export interface YamlSource {
  readonly file: string
  readonly value: unknown
  /** Syntax errors, already located. */
  readonly syntaxErrors: ReadonlyArray<LocatedProblem>
  readonly locate: (problem: Problem) => LocatedProblem
}

interface Found {
  readonly node: YamlNode | null
  readonly key: YamlNode | null
}

const child = (node: YamlNode | null, segment: string | number): Found | undefined => {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment))
    if (pair === undefined) return undefined
    return { node: (pair.value as YamlNode | null) ?? null, key: pair.key as YamlNode }
  }
  if (isSeq(node) && typeof segment === "number") {
    const item = node.items[segment]
    return item === undefined ? undefined : { node: item as YamlNode, key: null }
  }
  return undefined
}

/** The source offset of the deepest node on the path that exists. */
const offsetOf = (doc: Document, path: YamlPath, atKey: boolean): number => {
  let found: Found = { node: doc.contents as YamlNode | null, key: null }
  let offset = found.node?.range?.[0] ?? 0
  for (const [i, segment] of path.entries()) {
    const next = child(found.node, segment)
    if (next === undefined) break
    found = next
    const last = i === path.length - 1
    const target = last && atKey ? (found.key ?? found.node) : (found.node ?? found.key)
    offset = target?.range?.[0] ?? found.key?.range?.[0] ?? offset
  }
  return offset
}

export const parseYaml = (file: string, text: string): YamlSource => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset)
    return { line: pos.line, col: pos.col }
  }
  const lines = text.split("\n")
  const near = (offset: number) => {
    const source = lines[at(offset).line - 1]?.trim() ?? ""
    return source === "" ? "" : ` (near "${source.length > 40 ? source.slice(0, 37) + "..." : source}")`
  }
  const syntaxErrors = doc.errors.map((e) => ({ file, path: [], message: (e.message.split("\n")[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, "") + near(e.pos[0]), ...at(e.pos[0]) }))
  const locate = (problem: Problem): LocatedProblem => ({
    ...problem,
    file,
    ...at(offsetOf(doc, problem.path, problem.atKey === true)),
  })
  return { file, value: syntaxErrors.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 }), syntaxErrors, locate }
}
