import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultConfig, disposeGPT, initGPT } from "../../src/model/arch/model.ts"
import { decodeSafetensors, encodeSafetensors, loadModel, readSafetensors, saveModel, writeSafetensors } from "../../src/model/safetensors.ts"

let dir = ""
beforeAll(async () => {
  await tf.setBackend("cpu")
  dir = mkdtempSync(join(tmpdir(), "safetensors-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("safetensors", () => {
  it("round-trips F32 and I32 tensors and metadata", () => {
    const path = join(dir, "a.safetensors")
    const a = { name: "b.weight", dtype: "F32" as const, shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, Infinity, -0]) }
    const b = { name: "a.ids", dtype: "I32" as const, shape: [3], data: Int32Array.from([7, -1, 2147483647]) }
    const s = { name: "scalar", dtype: "F32" as const, shape: [], data: Float32Array.from([42]) }
    writeSafetensors(path, [a, b, s], { format: "pt", note: "ü" })
    const back = readSafetensors(path)
    expect(back.metadata).toEqual({ format: "pt", note: "ü" })
    expect([...back.tensors.keys()]).toEqual(["a.ids", "b.weight", "scalar"])
    expect(back.tensors.get("b.weight")).toEqual({ dtype: "F32", shape: [2, 3], data: a.data })
    expect(Object.is(back.tensors.get("b.weight")?.data[5], -0)).toBe(true)
    expect(back.tensors.get("a.ids")).toEqual({ dtype: "I32", shape: [3], data: b.data })
    expect(back.tensors.get("scalar")?.shape).toEqual([])
  })

  it("writes the exact bytes of the format: u64 LE length, sorted JSON header padded with spaces to 8, raw LE data", () => {
    const bytes = encodeSafetensors([
      { name: "y", dtype: "I32", shape: [1], data: Int32Array.from([258]) },
      { name: "x", dtype: "F32", shape: [2], data: Float32Array.from([1, -2]) },
    ])
    const json = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}'
    const padded = json + " ".repeat((8 - (json.length % 8)) % 8)
    const expected = Buffer.concat([
      Buffer.from([padded.length, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(padded, "utf8"),
      Buffer.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]), // 1.0f, -2.0f
      Buffer.from([0x02, 0x01, 0x00, 0x00]), // 258
    ])
    expect(padded.length % 8).toBe(0)
    expect(bytes.equals(expected)).toBe(true)
  })

  it("is deterministic: the same tensors in any order give the same bytes", () => {
    const t1 = { name: "p", dtype: "F32" as const, shape: [1], data: Float32Array.from([1]) }
    const t2 = { name: "q", dtype: "F32" as const, shape: [1], data: Float32Array.from([2]) }
    expect(encodeSafetensors([t1, t2], { b: "2", a: "1" }).equals(encodeSafetensors([t2, t1], { a: "1", b: "2" }))).toBe(true)
  })

  it("reads a file written by another implementation (unsorted keys, metadata last, no padding)", () => {
    // As written by hand from the spec: a Python writer may order keys differently.
    const json = '{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":"np"}}'
    const head = Buffer.alloc(8)
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
    const data = Buffer.from([0x05, 0, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0xbf]) // 5, 3.0f, -1.0f
    const { tensors, metadata } = decodeSafetensors(Buffer.concat([head, Buffer.from(json), data]))
    expect(metadata).toEqual({ format: "np" })
    expect(tensors.get("i")?.data).toEqual(Int32Array.from([5]))
    expect(tensors.get("w")).toEqual({ dtype: "F32", shape: [1, 2], data: Float32Array.from([3, -1]) })
  })

  it("rejects malformed files with the path and the problem", () => {
    expect(() => decodeSafetensors(Buffer.from([1, 2]), "f.st")).toThrow(/f\.st: .*shorter/)
    const head = Buffer.alloc(8)
    head.writeBigUInt64LE(100n)
    expect(() => decodeSafetensors(Buffer.concat([head, Buffer.from("{}")]), "g.st")).toThrow(/g\.st: .*header length 100/)
    const json = '{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'
    const h2 = Buffer.alloc(8)
    h2.writeBigUInt64LE(BigInt(json.length))
    expect(() => decodeSafetensors(Buffer.concat([h2, Buffer.from(json), Buffer.alloc(2)]), "h.st")).toThrow(/h\.st: .*U8; peftlab reads F32, F16, BF16/)
    expect(() => encodeSafetensors([{ name: "x", dtype: "F32", shape: [3], data: new Float32Array(2) }])).toThrow(/shape/)
  })

  it("saves and loads a model: same parameters, same order, same values, config preserved", () => {
    const cfg = { ...defaultConfig, vocabSize: 16, blockSize: 8, nLayer: 1, nEmbd: 8, nHead: 2, tieWeights: false }
    const model = initGPT(cfg, 3)
    const mdir = join(dir, "model")
    rmSync(mdir, { recursive: true, force: true })
    mkdirSync(mdir)
    saveModel(mdir, model)
    const loaded = loadModel(mdir)
    expect(loaded.config).toEqual(cfg)
    expect([...loaded.params.keys()]).toEqual([...model.params.keys()])
    for (const [name, v] of model.params) expect(loaded.params.get(name)?.dataSync()).toEqual(v.dataSync())
    const bytes = readFileSync(join(mdir, "model.safetensors"))
    saveModel(mdir, loaded)
    expect(readFileSync(join(mdir, "model.safetensors")).equals(bytes)).toBe(true)
    disposeGPT(model)
    disposeGPT(loaded)
  })
})
