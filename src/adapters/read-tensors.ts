/**
 * Reads a safetensors file through a plain Uint8Array copy of its bytes. `readSafetensors`
 * hands `decodeSafetensors` a Node Buffer, whose `slice` is a view, so every tensor's data came
 * back as the whole file buffer (reported to the model engineer); a plain Uint8Array's
 * `slice` copies, which is what decoding expects.
 */
import { readFileSync } from "node:fs"
import { decodeSafetensors, type ReadTensor } from "../model/safetensors.ts"

export const readTensors = (path: string): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> } =>
  decodeSafetensors(new Uint8Array(readFileSync(path)), path)
