/**
 * Step checkpoints of a training loop (pretraining and adapter training share this): named
 * float32 tensors and a JSON progress record in ONE safetensors file — the record rides in the
 * file's metadata — written under a temporary name, fsynced and renamed into place
 * (store/durable.ts). A kill or a power loss at any instant leaves the previous checkpoint or the
 * new one, never tensors of one step with another's counter; a failed write (disk full) leaves no
 * partial temporary behind.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type * as tf from "@tensorflow/tfjs"
import { writeFileDurable } from "../store/durable.ts"
import { encodeSafetensors, readSafetensors, type ReadTensor } from "./safetensors.ts"

const PROGRESS = "checkpoint.json"

/** Writes `dir/file` atomically: the tensors by name and `progress` as JSON. */
export const writeCheckpoint = (dir: string, file: string, tensors: ReadonlyArray<readonly [string, tf.Tensor]>, progress: unknown): void => {
  mkdirSync(dir, { recursive: true })
  const entries = tensors.map(([name, t]) => ({ name, dtype: "F32" as const, shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) }))
  writeFileDurable(join(dir, file), encodeSafetensors(entries, { [PROGRESS]: JSON.stringify(progress) }))
}

/** The last checkpoint in `dir/file` (tensors by name, and the progress record), or null when there is none. */
export const readCheckpoint = <P>(dir: string, file: string): { readonly tensors: ReadonlyMap<string, ReadTensor>; readonly progress: P } | null => {
  const path = join(dir, file)
  if (!existsSync(path)) return null
  const { tensors, metadata } = readSafetensors(path)
  const stored = metadata[PROGRESS]
  if (stored === undefined) throw new Error(`${path}: no ${PROGRESS} in the metadata`)
  return { tensors, progress: JSON.parse(stored) as P }
}

export const removeCheckpoint = (dir: string, file: string): void => {
  rmSync(join(dir, file), { force: true })
  rmSync(join(dir, `${file}.tmp`), { force: true })
}
