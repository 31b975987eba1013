/**
 * The user's fine-tuning data: JSONL, one `{"prompt": "...", "completion": "..."}` per line.
 * Blank lines are allowed; anything else malformed stops the stage with the file, the line
 * and the problem.
 */
import { readFileSync } from "node:fs"
import { StageError } from "../../../contracts/stage.ts"
import type { Example } from "./split.ts"

const invalid = (message: string): StageError => new StageError({ reason: "InvalidData", message })

/** Decodes UTF-8 strictly; an invalid byte is reported with its line. */
export const readUtf8 = (path: string): string => {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (e) {
    throw invalid(`${path}: cannot read (${(e as Error).message})`)
  }
  const dec = new TextDecoder("utf-8", { fatal: true })
  try {
    return dec.decode(bytes)
  } catch {
    // Decode line by line (0x0A never occurs inside a multi-byte character) to find it.
    let start = 0
    for (let line = 1; ; line++) {
      const nl = bytes.indexOf(0x0a, start)
      const end = nl < 0 ? bytes.length : nl
      try {
        dec.decode(bytes.subarray(start, end))
      } catch {
        throw invalid(`${path}:${line}: not valid UTF-8`)
      }
      if (nl < 0) throw invalid(`${path}: not valid UTF-8`)
      start = nl + 1
    }
  }
}

export const readJsonlExamples = (path: string): Example[] => {
  const lines = readUtf8(path).split("\n")
  const out: Example[] = []
  lines.forEach((raw, i) => {
    const line = raw.trim()
    if (line === "") return
    const where = `${path}:${i + 1}`
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (e) {
      throw invalid(`${where}: not valid JSON (${(e as Error).message})`)
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${where}: expected an object with "prompt" and "completion"`)
    const rec = value as Record<string, unknown>
    for (const k of ["prompt", "completion"] as const) {
      if (typeof rec[k] !== "string") throw invalid(`${where}: "${k}" must be a string, got ${rec[k] === undefined ? "nothing" : JSON.stringify(rec[k])}`)
    }
    if (rec.completion === "") throw invalid(`${where}: "completion" is empty`)
    out.push({ prompt: rec.prompt as string, completion: rec.completion as string })
  })
  if (out.length === 0) throw invalid(`${path}: no examples`)
  return out
}
