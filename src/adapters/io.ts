/**
 * Adapters on disk, in the spirit of Hugging Face PEFT: `adapter_model.safetensors` with
 * PEFT-style names in PyTorch layout, and `adapter_config.json`.
 *
 * Names and layout (docs/METHODS.md "Conventions"): every 2-D tensor is stored transposed —
 *   h.0.attn.q.lora_A (d_in×r)      → base_model.model.h.0.attn.q.lora_A.weight  (r×d_in)
 *   h.0.attn.q.lora_B (r×d_out)     → base_model.model.h.0.attn.q.lora_B.weight  (d_out×r)
 *   vera_A (max_in×r), vera_B       → base_model.vera_A (r×max_in), base_model.vera_B (max_out×r)
 *   h.0.attn.q.vera_lambda_d (r)    → base_model.model.h.0.attn.q.vera_lambda_d  (1-D, as is)
 *   h.0.attn.q.kernel (Delta-LoRA W)→ base_model.model.h.0.attn.q.base_layer.weight (d_out×d_in)
 */
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { param, type GPT, type ModelConfig } from "../model/arch/model.ts"
import { readSafetensors, writeSafetensors } from "../model/safetensors.ts"
import { Adapter } from "./adapter.ts"
import { assignBase } from "./base-writes.ts"
import { getMethod } from "./index.ts"
import type { AdapterSettings } from "./method.ts"

export const ADAPTER_WEIGHTS = "adapter_model.safetensors"
export const ADAPTER_CONFIG = "adapter_config.json"

/** Our logical name → the stored name. */
export const storedName = (logical: string, rank2: boolean): string => {
  if (!logical.includes(".")) return `base_model.${logical}` // shared (vera_A, vera_B)
  if (logical.endsWith(".kernel")) return `base_model.model.${logical.slice(0, -".kernel".length)}.base_layer.weight`
  return `base_model.model.${logical}${rank2 ? ".weight" : ""}`
}

export const logicalName = (stored: string): string => {
  const s = stored.replace(/^base_model\.(model\.)?/, "")
  if (s.endsWith(".base_layer.weight")) return `${s.slice(0, -".base_layer.weight".length)}.kernel`
  return s.replace(/\.weight$/, "")
}

export interface AdapterConfigFile {
  readonly peft_type: string
  readonly peftlab_method: string
  readonly r: number
  readonly lora_alpha: number
  readonly target_modules: ReadonlyArray<string>
  readonly lora_dropout: number
  readonly seed: number
  readonly options: Readonly<Record<string, number | boolean>>
  /** Base-model tensors saved with the adapter (Delta-LoRA's W); load them into the model. */
  readonly modified_base: ReadonlyArray<string>
  readonly layout: string
  readonly task_type: "CAUSAL_LM"
  readonly bias: "none"
  readonly fan_in_fan_out: false
  readonly base_model_config: ModelConfig
}

const configFile = (a: Adapter, modified: ReadonlyArray<string>): AdapterConfigFile => ({
  peft_type: a.method.peftType,
  peftlab_method: a.method.name,
  r: a.settings.rank,
  lora_alpha: a.settings.alpha,
  target_modules: a.settings.targets,
  lora_dropout: a.settings.dropout,
  seed: a.settings.seed,
  options: a.settings.options,
  modified_base: modified,
  layout: "PyTorch: 2-D tensors stored as (out, in); peftlab computes y = x·Wᵀ_stored",
  task_type: "CAUSAL_LM",
  bias: "none",
  fan_in_fan_out: false,
  base_model_config: a.config,
})

const f32 = (t: tf.Tensor): { shape: number[]; data: Float32Array } =>
  tf.tidy(() => {
    const stored = t.rank === 2 ? tf.transpose(t) : t
    return { shape: stored.shape, data: Float32Array.from(stored.dataSync() as Float32Array) }
  })

/**
 * Writes the adapter (and, with `model`, the base tensors the method modifies) to `dir`.
 * Returns the size in bytes of the weights file.
 */
export const saveAdapter = async (dir: string, a: Adapter, model?: GPT): Promise<number> => {
  const modified = model === undefined ? [] : (a.method.training?.modifiedBase?.(a, model) ?? [])
  const entries = [
    ...[...a.tensors].map(([name, t]) => ({ name: storedName(name, t.variable.rank === 2), ...f32(t.variable) })),
    ...modified.map((name) => ({ name: storedName(name, true), ...f32(param(model as GPT, name)) })),
  ].map((e) => ({ ...e, dtype: "F32" as const }))
  const path = join(dir, ADAPTER_WEIGHTS)
  await writeSafetensors(path, entries, { format: "pt", peftlab_method: a.method.name })
  await writeFile(join(dir, ADAPTER_CONFIG), JSON.stringify(configFile(a, modified), null, 2) + "\n")
  return entries.reduce((n, e) => n + e.data.byteLength, 0)
}

export const settingsOf = (c: AdapterConfigFile): AdapterSettings => ({
  method: c.peftlab_method,
  rank: c.r,
  alpha: c.lora_alpha,
  targets: c.target_modules as AdapterSettings["targets"],
  dropout: c.lora_dropout,
  seed: c.seed,
  options: c.options,
})

export const readAdapterConfig = async (dir: string): Promise<AdapterConfigFile> =>
  JSON.parse(await readFile(join(dir, ADAPTER_CONFIG), "utf8")) as AdapterConfigFile

/**
 * Loads an adapter for `model`; base tensors saved with it (Delta-LoRA's W) are assigned
 * into `model` (which must be the model the adapter was trained from).
 */
export const loadAdapter = async (dir: string, model: GPT): Promise<Adapter> => {
  const cfg = await readAdapterConfig(dir)
  const { tensors } = readSafetensors(join(dir, ADAPTER_WEIGHTS))
  const values = new Map<string, tf.Tensor>()
  const base = new Map<string, tf.Tensor>()
  for (const [stored, t] of tensors) {
    const v = tf.tidy(() => {
      const raw = tf.tensor(t.data, [...t.shape], "float32")
      return t.shape.length === 2 ? tf.transpose(raw) : raw
    })
    const name = logicalName(stored)
    ;(cfg.modified_base.includes(name) ? base : values).set(name, v)
  }
  try {
    for (const [name, v] of base) assignBase(model, name, v)
    return Adapter.fromTensors(getMethod(cfg.peftlab_method), model.config, settingsOf(cfg), values, model)
  } finally {
    ;[...values.values(), ...base.values()].forEach((t) => t.dispose())
  }
}
