/**
 * The safetensors format (huggingface/safetensors), read and written without a dependency:
 *
 *   [u64 LE: header length n] [n bytes: JSON header, space-padded] [raw little-endian data]
 *
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end) } relative to
 * the start of the data, plus an optional "__metadata__" of string → string. We sort tensors
 * by name and pad the header to a multiple of 8 so every tensor's bytes are aligned and the
 * file's bytes are a pure function of its contents (artifact digests stay stable).
 *
 * Also `saveModel` / `loadModel`: a GPT as `model.safetensors` + `config.json`. Kernels are
 * stored in our layout (W ∈ R^{d_in×d_out}, the `.kernel` suffix says so, as in Flax/Keras).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { endianness } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { parameterSpecs, type GPT, type ModelConfig } from "./arch/model.ts"

export type SafeDType = "F32" | "I32"

export interface SafeTensor {
  readonly name: string
  readonly dtype: SafeDType
  readonly shape: readonly number[]
  readonly data: Float32Array | Int32Array
}

export interface ReadTensor {
  readonly dtype: SafeDType
  readonly shape: readonly number[]
  readonly data: Float32Array | Int32Array
}

// Typed arrays use the host byte order; the format is little-endian. Every machine Node runs
// on today is little-endian, so we check rather than swap.
const assertLittleEndian = (): void => {
  if (endianness() !== "LE") throw new Error("safetensors: big-endian hosts are not supported")
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * The file's bytes; exported for tests and for callers that hash before writing. The header is
 * built as JSON text entry by entry (not through a plain object), so any tensor name is kept —
 * `__proto__` included, which an object literal would swallow as its prototype.
 */
export const encodeSafetensors = (tensors: ReadonlyArray<SafeTensor>, metadata?: Record<string, string>): Buffer => {
  assertLittleEndian()
  const sorted = [...tensors].sort(byName)
  const entries: string[] = []
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    const meta = Object.keys(metadata).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`)
    entries.push(`"__metadata__":{${meta.join(",")}}`)
  }
  let offset = 0
  const seen = new Set<string>()
  for (const t of sorted) {
    if (t.name === "__metadata__" || seen.has(t.name)) throw new Error(`safetensors: duplicate or reserved tensor name ${t.name}`)
    seen.add(t.name)
    if (elementCount(t.shape) !== t.data.length) throw new Error(`safetensors: ${t.name} has shape [${t.shape.join(", ")}] but ${t.data.length} values`)
    if ((t.dtype === "F32") !== t.data instanceof Float32Array) throw new Error(`safetensors: ${t.name} is ${t.dtype} but its data is a ${t.data.constructor.name}`)
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] })}`)
    offset += t.data.byteLength
  }
  const json = Buffer.from(`{${entries.join(",")}}`, "utf8")
  const padded = Math.ceil(json.length / 8) * 8
  const out = Buffer.alloc(8 + padded + offset, 0x20)
  out.writeBigUInt64LE(BigInt(padded), 0)
  json.copy(out, 8)
  let at = 8 + padded
  for (const t of sorted) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, at)
    at += t.data.byteLength
  }
  return out
}

export const writeSafetensors = (path: string, tensors: ReadonlyArray<SafeTensor>, metadata?: Record<string, string>): void =>
  writeFileSync(path, encodeSafetensors(tensors, metadata))

/** A file the format (the reference reader, huggingface/safetensors tensor.rs) refuses, or one peftlab cannot use. */
export class SafetensorsError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: not a valid safetensors file: ${problem}`)
  }
}

const fail = (path: string, problem: string): never => {
  throw new SafetensorsError(path, problem)
}

/** Bits per element of every dtype the reference knows (safetensors 0.8 `Dtype`). */
const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
}

/** The reference's cap on the header (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000

/** One header entry, checked: what the reference's `TensorInfo` deserializes. */
export interface TensorInfo {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
}

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * Parses and validates the header exactly as the reference reader does (`SafeTensors::read_metadata`
 * + `Metadata::validate`): length within the file and ≤ 100 MB, valid UTF-8, a JSON object starting
 * with `{`, `__metadata__` an object of string → string, every tensor `{dtype, shape, data_offsets}`
 * with a known dtype and non-negative integers, offsets contiguous from 0 in offset order (no hole,
 * no overlap), each tensor's byte length = elements × dtype size, and the file ending exactly
 * where the last tensor ends (no trailing bytes).
 */
export const parseSafetensorsHeader = (
  bytes: Uint8Array,
  path = "<bytes>",
): { infos: ReadonlyArray<TensorInfo>; metadata: Record<string, string>; dataStart: number } => {
  if (bytes.length < 8) fail(path, `shorter than its 8-byte header length (${bytes.length} bytes)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n64 = view.getBigUint64(0, true)
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(path, `header length ${n64} exceeds the format's limit of ${MAX_HEADER_BYTES} bytes`)
  const n = Number(n64)
  if (8 + n > bytes.length) fail(path, `header length ${n} exceeds the file (${bytes.length - 8} bytes after the length)`)
  let text = ""
  try {
    text = fatalUtf8.decode(bytes.subarray(8, 8 + n))
  } catch {
    fail(path, "header is not valid UTF-8")
  }
  if (!text.startsWith("{")) fail(path, `header must start with "{", got ${JSON.stringify(text.slice(0, 8))}`)
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch (e) {
    return fail(path, `header is not JSON (${(e as Error).message})`)
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return fail(path, "header is not a JSON object")
  const infos: TensorInfo[] = []
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null) continue
      if (typeof raw !== "object" || Array.isArray(raw)) fail(path, `__metadata__ must be an object of strings, got ${JSON.stringify(raw)}`)
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(path, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`)
        metadata[k] = v as string
      }
      continue
    }
    const where = `tensor ${JSON.stringify(name)}`
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(path, `${where} is not an object with dtype, shape and data_offsets`)
    const e = raw as Record<string, unknown>
    if (typeof e.dtype !== "string" || DTYPE_BITS[e.dtype] === undefined)
      fail(path, `${where} has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(DTYPE_BITS).join(", ")})`)
    if (!Array.isArray(e.shape) || !e.shape.every(isIndex)) fail(path, `${where} has shape ${JSON.stringify(e.shape)}: expected an array of non-negative integers`)
    const off = e.data_offsets
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isIndex))
      fail(path, `${where} has data_offsets ${JSON.stringify(off)}: expected [begin, end], non-negative integers`)
    const [begin, end] = off as [number, number]
    infos.push({ name, dtype: e.dtype as string, shape: e.shape as number[], begin, end })
  }
  // Metadata::validate: walk the tensors in offset order; each must start where the last ended.
  const ordered = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let at = 0
  for (const t of ordered) {
    const where = `tensor ${JSON.stringify(t.name)}`
    if (t.begin !== at || t.end < t.begin)
      fail(path, `${where} has data_offsets [${t.begin}, ${t.end}] but the previous tensor ends at ${at} (${t.begin > at ? "a hole" : "an overlap"}${t.end < t.begin ? ", end before begin" : ""})`)
    const elements = t.shape.reduce((a, b) => a * b, 1)
    if (!Number.isSafeInteger(elements)) fail(path, `${where}: shape [${t.shape.join(", ")}] overflows`)
    const bits = elements * (DTYPE_BITS[t.dtype] ?? 0)
    if (bits % 8 !== 0) fail(path, `${where}: ${elements} elements of ${t.dtype} do not fill whole bytes`)
    if (t.end - t.begin !== bits / 8) fail(path, `${where} spans ${t.end - t.begin} bytes but shape [${t.shape.join(", ")}] of ${t.dtype} needs ${bits / 8}`)
    at = t.end
  }
  if (8 + n + at !== bytes.length)
    fail(path, 8 + n + at > bytes.length ? `the tensors need ${at} data bytes but the file has ${bytes.length - 8 - n}` : `${bytes.length - 8 - n - at} trailing bytes after the last tensor`)
  return { infos, metadata, dataStart: 8 + n }
}

const halfToFloat = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** One checked tensor's values: F32 and I32 as stored, F16 / BF16 / F64 widened or narrowed to F32. */
const materialize = (bytes: Uint8Array, dataStart: number, t: TensorInfo, path: string): ReadTensor => {
  // Copy into a fresh ArrayBuffer (Buffer#slice would alias): the bytes may not be aligned within the file buffer.
  const copy = Uint8Array.prototype.slice.call(bytes, dataStart + t.begin, dataStart + t.end).buffer
  switch (t.dtype) {
    case "F32":
      return { dtype: "F32", shape: t.shape, data: new Float32Array(copy) }
    case "I32":
      return { dtype: "I32", shape: t.shape, data: new Int32Array(copy) }
    case "F16":
      return { dtype: "F32", shape: t.shape, data: Float32Array.from(new Uint16Array(copy), halfToFloat) }
    case "BF16": {
      const src = new Uint16Array(copy)
      const out = new Uint32Array(src.length)
      for (let i = 0; i < src.length; i++) out[i] = (src[i] ?? 0) << 16
      return { dtype: "F32", shape: t.shape, data: new Float32Array(out.buffer) }
    }
    case "F64":
      return { dtype: "F32", shape: t.shape, data: Float32Array.from(new Float64Array(copy)) }
    default:
      return fail(path, `tensor ${JSON.stringify(t.name)} is ${t.dtype}; peftlab reads F32, F16, BF16, F64 (as F32) and I32 tensors`)
  }
}

/** Parses the bytes of a safetensors file; `path` only names it in errors. */
export const decodeSafetensors = (
  bytes: Uint8Array,
  path = "<bytes>",
): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } => {
  assertLittleEndian()
  const { infos, metadata, dataStart } = parseSafetensorsHeader(bytes, path)
  const tensors = new Map<string, ReadTensor>()
  for (const t of [...infos].sort(byName)) tensors.set(t.name, materialize(bytes, dataStart, t, path))
  return { tensors, metadata: { ...metadata } }
}

export const readSafetensors = (path: string): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } =>
  decodeSafetensors(readFileSync(path), path)

// ---------------------------------------------------------------------------------------------
// A whole model

export const MODEL_WEIGHTS = "model.safetensors"
export const MODEL_CONFIG = "config.json"

/** Writes `model.safetensors` (every parameter, by name) and `config.json` (the ModelConfig). */
export const saveModel = (dir: string, model: GPT): void => {
  const tensors = [...model.params].map(([name, v]) => ({
    name,
    dtype: "F32" as const,
    shape: v.shape,
    data: v.dataSync() as Float32Array,
  }))
  writeSafetensors(join(dir, MODEL_WEIGHTS), tensors, { format: "peftlab-gpt" })
  writeFileSync(join(dir, MODEL_CONFIG), JSON.stringify(model.config, null, 2) + "\n")
}

/**
 * Reads a model saved by `saveModel`. Parameters are created in `initGPT`'s order (so code
 * that walks `params` sees the same order as after init), must all be present with the
 * shapes the config implies, and nothing else may be in the file.
 */
export const loadModel = (dir: string): GPT => {
  const path = join(dir, MODEL_WEIGHTS)
  const config = JSON.parse(readFileSync(join(dir, MODEL_CONFIG), "utf8")) as ModelConfig
  const { tensors } = readSafetensors(path)
  const specs = parameterSpecs(config)
  const extra = [...tensors.keys()].filter((k) => !specs.some((s) => s.name === k))
  if (extra.length > 0) throw new Error(`${path}: unexpected tensors ${extra.join(", ")}`)
  const params = new Map<string, tf.Variable>()
  for (const { name, shape } of specs) {
    const t = tensors.get(name)
    if (t === undefined) throw new Error(`${path}: missing parameter ${name}`)
    if (t.shape.join(",") !== shape.join(",")) throw new Error(`${path}: ${name} has shape [${t.shape.join(", ")}], config implies [${shape.join(", ")}]`)
    const value = tf.tensor(t.data, [...t.shape], "float32")
    params.set(name, tf.variable(value, true))
    value.dispose()
  }
  return { config, params }
}
