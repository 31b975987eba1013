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
import { parameterSpecs, type GPT, type GPTConfig } from "./gpt.ts"

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

interface HeaderEntry {
  readonly dtype: string
  readonly shape: number[]
  readonly data_offsets: [number, number]
}

// Typed arrays use the host byte order; the format is little-endian. Every machine Node runs
// on today is little-endian, so we check rather than swap.
const assertLittleEndian = (): void => {
  if (endianness() !== "LE") throw new Error("safetensors: big-endian hosts are not supported")
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** The file's bytes; exported for tests and for callers that hash before writing. */
export const encodeSafetensors = (tensors: ReadonlyArray<SafeTensor>, metadata?: Record<string, string>): Buffer => {
  assertLittleEndian()
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const header: Record<string, HeaderEntry | Record<string, string>> = {}
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    header.__metadata__ = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  let offset = 0
  for (const t of sorted) {
    if (t.name === "__metadata__" || t.name in header) throw new Error(`safetensors: duplicate or reserved tensor name ${t.name}`)
    if (elementCount(t.shape) !== t.data.length) throw new Error(`safetensors: ${t.name} has shape [${t.shape.join(", ")}] but ${t.data.length} values`)
    if ((t.dtype === "F32") !== t.data instanceof Float32Array) throw new Error(`safetensors: ${t.name} is ${t.dtype} but its data is a ${t.data.constructor.name}`)
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] }
    offset += t.data.byteLength
  }
  const json = Buffer.from(JSON.stringify(header), "utf8")
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

const fail = (path: string, problem: string): never => {
  throw new Error(`${path}: not a valid safetensors file: ${problem}`)
}

/** Parses the bytes of a safetensors file; `path` only names it in errors. */
export const decodeSafetensors = (
  bytes: Uint8Array,
  path = "<bytes>",
): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } => {
  assertLittleEndian()
  if (bytes.length < 8) fail(path, "shorter than its 8-byte header length")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n = Number(view.getBigUint64(0, true))
  if (8 + n > bytes.length) fail(path, `header length ${n} exceeds the file`)
  let header: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString("utf8")) as Record<string, unknown>
  } catch (e) {
    return fail(path, `header is not JSON (${(e as Error).message})`)
  }
  const dataStart = 8 + n
  const tensors = new Map<string, ReadTensor>()
  let metadata: Record<string, string> = {}
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = raw as Record<string, string>
      continue
    }
    const e = raw as HeaderEntry
    if (e.dtype !== "F32" && e.dtype !== "I32") fail(path, `${name} has dtype ${e.dtype} (only F32 and I32 are supported)`)
    const [begin, end] = e.data_offsets
    if (end - begin !== elementCount(e.shape) * 4 || dataStart + end > bytes.length) fail(path, `${name} has inconsistent data_offsets`)
    // Copy into a fresh ArrayBuffer (Buffer#slice would alias): the bytes may not be 4-byte
    // aligned within the file buffer.
    const copy = Uint8Array.prototype.slice.call(bytes, dataStart + begin, dataStart + end).buffer
    const data = e.dtype === "F32" ? new Float32Array(copy) : new Int32Array(copy)
    tensors.set(name, { dtype: e.dtype as SafeDType, shape: e.shape, data })
  }
  return { tensors, metadata }
}

export const readSafetensors = (path: string): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } =>
  decodeSafetensors(readFileSync(path), path)

// ---------------------------------------------------------------------------------------------
// A whole model

export const MODEL_WEIGHTS = "model.safetensors"
export const MODEL_CONFIG = "config.json"

/** Writes `model.safetensors` (every parameter, by name) and `config.json` (the GPTConfig). */
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
  const config = JSON.parse(readFileSync(join(dir, MODEL_CONFIG), "utf8")) as GPTConfig
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
