/**
 * Decode a value with an Effect Schema and turn every issue into a `Problem` with its path.
 * Unknown keys become `unknown key "x" (did you mean "y"?)`.
 */
import { Schema, SchemaAST } from "effect"
import type { Problem, YamlPath } from "./problems.ts"
import { didYouMean } from "./suggest.ts"

export type DecodeResult<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problems: ReadonlyArray<Problem> }

/** The field names of a struct schema (for suggestions), or none. */
export const structKeys = (schema: { readonly ast: SchemaAST.AST }): ReadonlyArray<string> => {
  const ast = SchemaAST.toEncoded(schema.ast)
  return SchemaAST.isObjects(ast) ? ast.propertySignatures.map((p) => String(p.name)) : []
}

const valueAt = (value: unknown, path: ReadonlyArray<PropertyKey>): { readonly found: boolean; readonly value?: unknown } => {
  let current = value
  for (const key of path) {
    if (typeof current !== "object" || current === null || !(key in current)) return { found: false }
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return { found: true, value: current }
}

const describe = (v: unknown): string => {
  const text = JSON.stringify(v)
  return text === undefined ? String(v) : text.length > 40 ? `${text.slice(0, 37)}...` : text
}

export interface DecodeOptions {
  readonly basePath: YamlPath
  /** Known keys of the object at a (relative) path, for "did you mean". */
  readonly knownKeys: (path: ReadonlyArray<PropertyKey>) => ReadonlyArray<string>
}

export const decodeWithProblems = <A>(
  schema: Schema.Decoder<A>,
  value: unknown,
  options: DecodeOptions,
): DecodeResult<A> => {
  const std = Schema.toStandardSchemaV1(schema as Schema.Decoder<A> & Schema.Top, {
    parseOptions: { errors: "all", onExcessProperty: "error" },
  })
  const result = std["~standard"].validate(value)
  if (result instanceof Promise) throw new Error("pipeline schemas must decode synchronously")
  if (result.issues === undefined) return { ok: true, value: result.value as A }
  const problems = result.issues.map((issue): Problem => {
    const rel = (issue.path ?? []).map((p) => (typeof p === "object" ? p.key : p))
    const path = [...options.basePath, ...rel.map((p) => (typeof p === "number" ? p : String(p)))]
    const key = rel[rel.length - 1]
    if (issue.message === "Expected no excess property" && key !== undefined) {
      const known = options.knownKeys(rel.slice(0, -1))
      return { path, atKey: true, message: `unknown key "${String(key)}"${didYouMean(String(key), known)}` }
    }
    const got = valueAt(value, rel)
    const message = issue.message.startsWith("Expected") && got.found ? `${lower(issue.message)}, got ${describe(got.value)}` : lower(issue.message)
    return { path, message }
  })
  return { ok: false, problems }
}

const lower = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1)
