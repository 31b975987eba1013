/**
 * Conformance with the reference implementations, on fixtures they produced
 * (bench/hf/make_fixtures.py): the safetensors reader accepts exactly what safetensors 0.8's
 * Rust reader accepts, each rejection with the file's name and the problem; the pre-tokenizer
 * splits the edge strings exactly as tokenizers' ByteLevel (Oniguruma) does.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../../src/model/safetensors.ts"
import { preTokenize } from "../../src/model/data/tokenizer.ts"

const FIX = join(import.meta.dirname, "..", "fixtures", "hf")

interface Case {
  readonly name: string
  readonly bytes: string
  readonly reference_accepts: boolean
  readonly reference_error: string | null
}
const cases = (JSON.parse(readFileSync(join(FIX, "safetensors-cases.json"), "utf8")) as { cases: Case[] }).cases

/** What each rejection must say (beyond the file name). */
const PROBLEM: Readonly<Record<string, RegExp>> = {
  overlap: /overlap/,
  hole: /a hole/,
  "not-from-zero": /a hole/,
  "trailing-bytes": /4 trailing bytes/,
  "truncated-data": /need 8 data bytes but the file has 4/,
  "negative-offset": /data_offsets \[-4,0\]: expected \[begin, end\], non-negative integers/,
  "negative-shape": /shape \[-1\]: expected an array of non-negative integers/,
  "float-shape": /shape \[1\.5\]/,
  "size-mismatch": /spans 8 bytes but shape \[3\] of F32 needs 12/,
  "unknown-dtype": /unknown dtype "F33"/,
  "metadata-number": /__metadata__\.step must be a string, got 3/,
  "metadata-nested": /__metadata__\.x must be a string/,
  "invalid-utf8": /not valid UTF-8/,
  "header-not-object": /must start with "\{"/,
  "header-not-json": /not JSON/,
  "header-past-end": /header length 1000 exceeds the file/,
  "header-too-large": /exceeds the format's limit/,
  "short-file": /shorter than its 8-byte header length/,
  "end-before-begin": /end before begin/,
}

describe("safetensors reader vs the reference (safetensors 0.8)", () => {
  it("has a case for every rejection the reference makes", () => {
    const rejected = cases.filter((c) => !c.reference_accepts).map((c) => c.name)
    expect(rejected.sort()).toEqual(Object.keys(PROBLEM).sort())
    expect(cases.filter((c) => c.reference_accepts).length).toBeGreaterThanOrEqual(6)
  })
  it.each(cases.map((c) => [c.name, c] as const))("%s", (name, c) => {
    const bytes = Buffer.from(c.bytes, "base64")
    if (c.reference_accepts) {
      const { tensors } = decodeSafetensors(bytes, `${name}.safetensors`)
      if (name === "valid-proto-name") expect([...tensors.keys()]).toEqual(["__proto__"])
      if (name === "valid-f16-bf16") {
        expect([...(tensors.get("h")?.data ?? [])]).toEqual([1, -2])
        expect([...(tensors.get("b")?.data ?? [])]).toEqual([1, -3])
      }
      return
    }
    let err: unknown
    try {
      decodeSafetensors(bytes, `${name}.safetensors`)
    } catch (e) {
      err = e
    }
    expect(err, `the reference rejects ${name} (${c.reference_error}); we must too`).toBeInstanceOf(SafetensorsError)
    expect((err as Error).message).toContain(`${name}.safetensors: not a valid safetensors file: `)
    expect((err as Error).message).toMatch(PROBLEM[name] ?? /^$/)
  })
})

describe("safetensors writer", () => {
  it("keeps any tensor name, __proto__ and constructor included", () => {
    const names = ["__proto__", "constructor", "toString", "a\"quote", "ü.weight"]
    const bytes = encodeSafetensors(names.map((name, i) => ({ name, dtype: "F32" as const, shape: [1], data: Float32Array.from([i]) })), { __proto__x: "1" })
    const { tensors } = decodeSafetensors(bytes)
    expect([...tensors.keys()].sort()).toEqual([...names].sort())
    names.forEach((n, i) => expect([...(tensors.get(n)?.data ?? [])]).toEqual([i]))
  })
})

describe("pre-tokenizer vs tokenizers' ByteLevel (Oniguruma)", () => {
  const fixture = JSON.parse(readFileSync(join(FIX, "pretokenize.json"), "utf8")) as { cases: Array<{ text: string; pieces: string[] }> }
  const byteLevel = (s: string) => [...new TextEncoder().encode(s)]
  it.each(fixture.cases.map((c) => [JSON.stringify(c.text), c] as const))("%s", (_, c) => {
    // tokenizers reports pieces already mapped to byte-level characters; compare on bytes.
    const ours = preTokenize(c.text).map((p) => byteLevel(p))
    const theirs = c.pieces.map((p) => [...p].map((ch) => byteOf(ch)))
    expect(ours).toEqual(theirs)
  })
})

/** GPT-2's byte-level character → byte. */
const byteOf = (ch: string): number => {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
  let n = 0
  for (let b = 0; b < 256; b++) {
    const c = printable(b) ? b : 256 + n++
    if (String.fromCodePoint(c) === ch) return b
  }
  return -1
}
