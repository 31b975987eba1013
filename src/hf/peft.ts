/**
 * A peftlab adapter folder → a PEFT adapter folder that `PeftModel.from_pretrained(gpt2, dir)`
 * loads on the exported GPT-2 base (gpt2.ts). Plain typed arrays, no tfjs.
 *
 * Targets: q, k, v → `attn.c_attn` (GPT-2 fuses them, output columns [q | k | v]); o →
 * `attn.c_proj`; mlp_up → `mlp.c_fc`; mlp_down → `mlp.c_proj`. Every GPT-2 target is a Conv1D,
 * so the configs say `fan_in_fan_out: true`.
 *
 * LoRA family (LoRA, LoRA-FA, LoRA+, Delta-LoRA). PEFT's LoRA on c_attn has one A (R, C) and one
 * B (3C, R), ΔW_c_attn = (α'/R)·(B·A)ᵀ. peftlab's m ≤ 3 separate factors A_j (C, r), B_j (r, C)
 * map onto it *exactly* as a rank R = m·r LoRA: A stacks the A_jᵀ as row blocks, B is
 * block-structured — B_jᵀ in the rows of projection j's output block and the columns of factor
 * j, zeros elsewhere — so B·A = Σ_j (block j ← B_jᵀA_jᵀ) with no cross terms; α' = m·α keeps
 * α'/R = α/r. When c_attn's rank differs from the other targets' (m > 1 and o/mlp adapted too),
 * `rank_pattern` / `alpha_pattern` give c_attn its own R and α'. The zeros add nothing: the
 * adapted logits agree with peftlab's up to float summation order.
 * LoRA-FA and LoRA+ are training rules over plain LoRA (PEFT has them as optimizers), so their
 * files are ordinary LoRA. Delta-LoRA also rewrote W: PEFT has no such type, so its adapter is
 * plain LoRA and its updated W ships in an exported base of its own (the export command writes it).
 *
 * VeRA. PEFT's VeRA gives each target module one λ_d (r) and one λ_b (out) and reads the shared
 * vera_B by output row: c_attn's q, k, v blocks use vera_B rows [0, C), [C, 2C), [2C, 3C). peftlab's
 * separate q, k, v each have their own λ_d and all use rows [0, C). So VeRA on two or more of
 * q, k, v has no PEFT form (one λ_d cannot be two), and the export refuses it by name. One of
 * q, k, v (with any of o, mlp_up, mlp_down) is expressible: λ_b is zero outside the adapted
 * block, and the saved vera_B carries rows [0, C) of peftlab's projection in that block's rows —
 * unless another target reads those rows of vera_B itself (k or v with mlp_up: c_fc reads rows
 * [0, 4C)), which is refused too. The projection is always saved (`save_projection: true`):
 * PEFT's PRNG is torch's, not peftlab's.
 *
 * peftlab-only settings (method, seed, Delta-LoRA's λ and K, LoRA+'s ratio, LoRA-FA's projection,
 * the per-projection targets) go to `peftlab_adapter.json`, not into the PEFT config.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { AdapterConfigFile } from "../adapters/io.ts"
import type { GPTConfig } from "../model/arch/model.ts"
import { readSafetensors, writeSafetensors, type SafeTensor } from "../model/safetensors.ts"
import { HfUnsupported, transpose2d } from "./gpt2.ts"

/** The fields of peftlab's adapter_config.json (adapters/io.ts) this export reads. */
export type PeftlabAdapterConfig = Pick<
  AdapterConfigFile,
  "peft_type" | "peftlab_method" | "r" | "lora_alpha" | "target_modules" | "lora_dropout" | "seed" | "options" | "modified_base"
>

export const PEFTLAB_SIDE_FILE = "peftlab_adapter.json"

type Proj = "q" | "k" | "v" | "o" | "mlp_up" | "mlp_down"
const QKV: ReadonlyArray<Proj> = ["q", "k", "v"]

/** The GPT-2 module (suffix under transformer.h.L) a peftlab projection lives in. */
export const HF_MODULE: Readonly<Record<Proj, string>> = { q: "attn.c_attn", k: "attn.c_attn", v: "attn.c_attn", o: "attn.c_proj", mlp_up: "mlp.c_fc", mlp_down: "mlp.c_proj" }

const OUR_PREFIX: Readonly<Record<Proj, string>> = { q: "attn.q", k: "attn.k", v: "attn.v", o: "attn.o", mlp_up: "mlp.up", mlp_down: "mlp.down" }

/** [in, out] of a GPT-2 module. */
const moduleDims = (cfg: GPTConfig, module: string): [number, number] => {
  const C = cfg.nEmbd
  const inner = cfg.mlpRatio * C
  if (module === "attn.c_attn") return [C, 3 * C]
  if (module === "mlp.c_fc") return [C, inner]
  if (module === "mlp.c_proj") return [inner, C]
  return [C, C]
}

type Matrix = { shape: number[]; data: Float32Array }

const tensorOf = (tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>, name: string, file: string): Matrix => {
  const t = tensors.get(name)
  if (t === undefined || !(t.data instanceof Float32Array)) throw new Error(`${file}: missing float tensor ${name}`)
  return { shape: [...t.shape], data: t.data }
}

const hfKey = (layer: number, module: string, leaf: string): string => `base_model.model.transformer.h.${layer}.${module}.${leaf}`

/** Target module names for PEFT's `target_modules` (suffix match: `attn.c_proj` is not `mlp.c_proj`). */
const modulesOf = (projs: ReadonlyArray<Proj>): string[] => [...new Set(projs.map((p) => HF_MODULE[p]))]

export interface PeftExport {
  readonly tensors: SafeTensor[]
  readonly config: Record<string, unknown>
  readonly side: Record<string, unknown>
  /** Base-model kernels the adapter's training changed (Delta-LoRA), by peftlab name, in peftlab layout (d_in, d_out). */
  readonly updatedBase: Map<string, Matrix>
}

const loraExport = (cfg: GPTConfig, ac: PeftlabAdapterConfig, projs: ReadonlyArray<Proj>, tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>, file: string): { tensors: SafeTensor[]; config: Record<string, unknown> } => {
  const r = ac.r
  const C = cfg.nEmbd
  const out: SafeTensor[] = []
  const qkv = QKV.filter((p) => projs.includes(p))
  const m = qkv.length
  for (let l = 0; l < cfg.nLayer; l++) {
    if (m > 0) {
      const R = m * r
      const A = new Float32Array(R * C) // (R, C)
      const B = new Float32Array(3 * C * R) // (3C, R)
      qkv.forEach((p, j) => {
        const a = tensorOf(tensors, `base_model.model.h.${l}.${OUR_PREFIX[p]}.lora_A.weight`, file) // (r, C)
        const b = tensorOf(tensors, `base_model.model.h.${l}.${OUR_PREFIX[p]}.lora_B.weight`, file) // (C, r)
        A.set(a.data, j * r * C)
        const block = QKV.indexOf(p)
        for (let row = 0; row < C; row++) for (let c = 0; c < r; c++) B[(block * C + row) * R + j * r + c] = b.data[row * r + c] ?? 0
      })
      out.push({ name: hfKey(l, "attn.c_attn", "lora_A.weight"), dtype: "F32", shape: [R, C], data: A })
      out.push({ name: hfKey(l, "attn.c_attn", "lora_B.weight"), dtype: "F32", shape: [3 * C, R], data: B })
    }
    for (const p of projs.filter((x) => !QKV.includes(x))) {
      for (const leaf of ["lora_A", "lora_B"]) {
        const t = tensorOf(tensors, `base_model.model.h.${l}.${OUR_PREFIX[p]}.${leaf}.weight`, file)
        out.push({ name: hfKey(l, HF_MODULE[p], `${leaf}.weight`), dtype: "F32", shape: t.shape, data: t.data })
      }
    }
  }
  const onlyQkv = projs.every((p) => QKV.includes(p))
  const patterns = m > 1 && !onlyQkv ? { rank_pattern: { "attn.c_attn": m * r }, alpha_pattern: { "attn.c_attn": m * ac.lora_alpha } } : { rank_pattern: {}, alpha_pattern: {} }
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: onlyQkv ? m * r : r,
    lora_alpha: onlyQkv ? m * ac.lora_alpha : ac.lora_alpha,
    lora_dropout: ac.lora_dropout,
    target_modules: modulesOf(projs),
    fan_in_fan_out: true,
    bias: "none",
    use_rslora: false,
    use_dora: false,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    ...patterns,
    inference_mode: true,
  }
  return { tensors: out, config }
}

const veraExport = (cfg: GPTConfig, ac: PeftlabAdapterConfig, projs: ReadonlyArray<Proj>, tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>, file: string): { tensors: SafeTensor[]; config: Record<string, unknown> } => {
  const qkv = QKV.filter((p) => projs.includes(p))
  if (qkv.length > 1)
    throw new HfUnsupported(
      "targets",
      `VeRA on ${qkv.join(" and ")} cannot be expressed in PEFT on GPT-2: the three projections are one fused module (attn.c_attn), and PEFT's VeRA gives a module one λ_d (r = ${ac.r}) and reads vera_B by output row (q rows 0..C, k rows C..2C, v rows 2C..3C), while peftlab's ${qkv.join(", ")} each have their own λ_d and all read rows 0..C. Export a VeRA adapter that targets at most one of q, k, v (o, mlp_up and mlp_down map one-to-one).`,
    )
  const r = ac.r
  const C = cfg.nEmbd
  const A = tensorOf(tensors, "base_model.vera_A", file) // (r, maxIn)
  const B = tensorOf(tensors, "base_model.vera_B", file) // (maxOut, r)
  const modules = modulesOf(projs)
  const maxIn = Math.max(...modules.map((mod) => moduleDims(cfg, mod)[0]))
  const maxOut = Math.max(...modules.map((mod) => moduleDims(cfg, mod)[1]))
  const [, ourIn = 0] = A.shape
  const [ourOut = 0] = B.shape
  // vera_A: our columns, zero-padded to PEFT's width (every module reads columns [0, in) ⊆ ours).
  const peftA = new Float32Array(r * maxIn)
  for (let i = 0; i < r; i++) peftA.set(A.data.subarray(i * ourIn, (i + 1) * ourIn), i * maxIn)
  // vera_B: each row is claimed by the targets that read it; two different claims cannot both hold.
  const peftB = new Float32Array(maxOut * r)
  const claimedBy: Array<{ who: string; ourRow: number } | undefined> = new Array(maxOut)
  const claim = (row: number, ourRow: number, who: string) => {
    const prev = claimedBy[row]
    if (prev !== undefined && prev.ourRow !== ourRow)
      throw new HfUnsupported("targets", `VeRA on ${who} and ${prev.who} cannot be expressed in PEFT on GPT-2: PEFT reads row ${row} of the shared vera_B for both, but peftlab's ${who} uses row ${ourRow} of its projection there and ${prev.who} uses row ${prev.ourRow}. Target q rather than k or v, or leave out the wider module.`)
    claimedBy[row] = { who, ourRow }
    peftB.set(B.data.subarray(ourRow * r, (ourRow + 1) * r), row * r)
  }
  const rowsOf = (p: Proj): Array<[number, number]> => {
    const [, out] = moduleDims(cfg, HF_MODULE[p])
    if (QKV.includes(p)) return Array.from({ length: C }, (_, i) => [QKV.indexOf(p) * C + i, i])
    return Array.from({ length: out }, (_, i) => [i, i])
  }
  for (const p of projs) {
    for (const [row, ourRow] of rowsOf(p)) {
      if (ourRow >= ourOut) throw new Error(`${file}: vera_B has ${ourOut} rows, ${p} reads row ${ourRow}`)
      claim(row, ourRow, QKV.includes(p) ? `c_attn's ${p} block` : p)
    }
  }
  const out: SafeTensor[] = [
    { name: "base_model.vera_A", dtype: "F32", shape: [r, maxIn], data: peftA },
    { name: "base_model.vera_B", dtype: "F32", shape: [maxOut, r], data: peftB },
  ]
  for (let l = 0; l < cfg.nLayer; l++)
    for (const p of projs) {
      const d = tensorOf(tensors, `base_model.model.h.${l}.${OUR_PREFIX[p]}.vera_lambda_d`, file)
      const b = tensorOf(tensors, `base_model.model.h.${l}.${OUR_PREFIX[p]}.vera_lambda_b`, file)
      let lambdaB = b.data
      if (QKV.includes(p)) {
        lambdaB = new Float32Array(3 * C)
        lambdaB.set(b.data, QKV.indexOf(p) * C)
      }
      out.push({ name: hfKey(l, HF_MODULE[p], "vera_lambda_d"), dtype: "F32", shape: [r], data: d.data })
      out.push({ name: hfKey(l, HF_MODULE[p], "vera_lambda_b"), dtype: "F32", shape: [lambdaB.length], data: lambdaB })
    }
  const config = {
    peft_type: "VERA",
    task_type: "CAUSAL_LM",
    r,
    target_modules: modules,
    projection_prng_key: Number(ac.options.vera_projection_seed ?? 0),
    save_projection: true,
    vera_dropout: ac.lora_dropout,
    d_initial: Number(ac.options.vera_d_init ?? 0.1),
    fan_in_fan_out: true,
    bias: "none",
    modules_to_save: null,
    init_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    inference_mode: true,
  }
  return { tensors: out, config }
}

/**
 * Translates the adapter in `adapterDir` (peftlab's adapter_config.json + adapter_model.safetensors)
 * for a base of config `cfg`. Throws `HfUnsupported` naming what has no PEFT form.
 */
export const toPeft = (cfg: GPTConfig, adapterDir: string): PeftExport => {
  const ac = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8")) as PeftlabAdapterConfig
  const file = join(adapterDir, "adapter_model.safetensors")
  const { tensors } = readSafetensors(file)
  const projs = ac.target_modules as ReadonlyArray<Proj>
  const unknown = projs.filter((p) => HF_MODULE[p] === undefined)
  if (unknown.length > 0) throw new HfUnsupported("target_modules", `${adapterDir}: targets ${unknown.join(", ")} have no GPT-2 module`)
  const family = ac.peft_type === "LORA" || ac.peft_type === "DELTA_LORA" ? "lora" : ac.peft_type === "VERA" ? "vera" : undefined
  if (family === undefined)
    throw new HfUnsupported("peft_type", `method ${ac.peftlab_method} (peft_type ${ac.peft_type}) has no PEFT export; exportable: lora, lora-fa, lora-plus, delta-lora (as LORA + its own base) and vera`)
  const translated = family === "lora" ? loraExport(cfg, ac, projs, tensors, file) : veraExport(cfg, ac, projs, tensors, file)
  const updatedBase = new Map<string, Matrix>()
  for (const name of ac.modified_base ?? []) {
    const stored = `base_model.model.${name.replace(/\.kernel$/, "")}.base_layer.weight`
    updatedBase.set(name, transpose2d(tensorOf(tensors, stored, file))) // stored (out, in) → our (in, out)
  }
  const side = {
    peftlab_method: ac.peftlab_method,
    peftlab_peft_type: ac.peft_type,
    rank_per_projection: ac.r,
    alpha_per_projection: ac.lora_alpha,
    targets: projs,
    dropout: ac.lora_dropout,
    seed: ac.seed,
    options: ac.options,
    mapping:
      family === "lora"
        ? `q/k/v → attn.c_attn as one LoRA of rank ${QKV.filter((p) => projs.includes(p)).length}·r with block-structured B (exact); o → attn.c_proj, mlp_up → mlp.c_fc, mlp_down → mlp.c_proj`
        : "one of q/k/v → attn.c_attn (λ_b zero outside its block, vera_B rows placed for it); o → attn.c_proj, mlp_up → mlp.c_fc, mlp_down → mlp.c_proj; projections saved",
    updated_base: [...updatedBase.keys()],
    note: updatedBase.size > 0 ? "Delta-LoRA also trained W: load this adapter on the base exported with it (its folder `base/`), not on the original base" : undefined,
  }
  return { ...translated, side, updatedBase }
}

/** Writes adapter_model.safetensors, adapter_config.json and the side file into `dir`. */
export const writePeftFolder = (dir: string, exp: PeftExport, baseModelPath: string): void => {
  writeSafetensors(join(dir, "adapter_model.safetensors"), exp.tensors, { format: "pt" })
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...exp.config, base_model_name_or_path: baseModelPath }, null, 2) + "\n")
  writeFileSync(join(dir, PEFTLAB_SIDE_FILE), JSON.stringify(exp.side, null, 2) + "\n")
}
