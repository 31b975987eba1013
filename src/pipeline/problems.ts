/**
 * A problem found in a pipeline file: where (a path into the YAML, located to line:column
 * by the loader) and what. Every stage of validation returns problems rather than failing on
 * the first, so the user sees all of them at once.
 */
import { Data } from "effect"

export type YamlPath = ReadonlyArray<string | number>

export interface Problem {
  readonly path: YamlPath
  readonly message: string
  /** Point at the key of the last path element (unknown keys) rather than its value. */
  readonly atKey?: boolean
}

export interface LocatedProblem extends Problem {
  readonly file: string
  readonly line: number
  readonly col: number
}

/** The pipeline is invalid: nothing ran and nothing was written. Exit code 2. */
export class PipelineInvalid extends Data.TaggedError("PipelineInvalid")<{
  readonly problems: ReadonlyArray<LocatedProblem>
}> {
  override get message(): string {
    return this.problems.map(formatProblem).join("\n")
  }
}

export const formatPath = (path: YamlPath): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("")

export const formatProblem = (p: LocatedProblem): string => {
  const where = p.path.length > 0 ? `${formatPath(p.path)}: ` : ""
  return `${p.file}:${p.line}:${p.col}: ${where}${p.message}`
}
