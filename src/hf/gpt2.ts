/**
 * peftlab's GPT ⇄ a transformers GPT-2 folder, as a translation at the edge (docs/DESIGN.md,
 * "Hugging Face"): peftlab keeps its own layout; names and fused tensors are mapped only here.
 * Works on plain typed arrays (no tfjs), so export and import need no compute backend.
 *
 * What maps to what (peftlab kernel W is (d_in, d_out), y = x·W + b — exactly GPT-2's Conv1D):
 *   wte (V, C)                   ⇄ transformer.wte.weight (V, C)
 *   wpe (T, C)                   ⇄ transformer.wpe.weight (T, C)            T = blockSize = n_positions
 *   h.L.ln_1.gamma / beta        ⇄ transformer.h.L.ln_1.weight / bias       (ln_2 and ln_f alike)
 *   h.L.attn.{q,k,v}.kernel      ⇄ transformer.h.L.attn.c_attn.weight (C, 3C) = [q | k | v] along out
 *   h.L.attn.{q,k,v}.bias        ⇄ transformer.h.L.attn.c_attn.bias (3C) = [q | k | v]
 *   h.L.attn.o.kernel / bias     ⇄ transformer.h.L.attn.c_proj.weight / bias
 *   h.L.mlp.up.kernel / bias     ⇄ transformer.h.L.mlp.c_fc.weight / bias   (C, n_inner)
 *   h.L.mlp.down.kernel / bias   ⇄ transformer.h.L.mlp.c_proj.weight / bias (n_inner, C)
 *   lm_head.kernel (C, V)        ⇄ lm_head.weight (V, C), only when the head is not tied
 * and the config: nLayer ⇄ n_layer, nHead ⇄ n_head, nEmbd ⇄ n_embd, blockSize ⇄ n_positions,
 * mlpRatio·nEmbd ⇄ n_inner, layerNormEps ⇄ layer_norm_epsilon, tieWeights ⇄ tie_word_embeddings,
 * vocabSize ⇄ vocab_size. peftlab's block is GPT-2's (pre-LayerNorm, learned positions, biases
 * everywhere, tanh GELU = "gelu_new", attention scaled by 1/√head_dim), so every peftlab config
 * has a GPT-2 equivalent; a config field this file does not know is refused by name.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { GPTConfig } from "../model/arch/model.ts"
import { readSafetensors, type ReadTensor, type SafeTensor } from "../model/safetensors.ts"
import { HfUnsupported } from "./config.ts"

export { configFromGpt2, gpt2ConfigJson, HfUnsupported } from "./config.ts"

/** Named float32 arrays with shapes: what both sides of the translation hold. */
export type Tensors = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>

// ---------------------------------------------------------------------------------------------
// Export

const QKV = ["q", "k", "v"] as const

/** Concatenates (rows, cols_i) row-major matrices along the column axis. */
export const concatColumns = (parts: ReadonlyArray<{ readonly shape: readonly number[]; readonly data: Float32Array }>): { shape: number[]; data: Float32Array } => {
  const rows = parts[0]?.shape[0] ?? 0
  const widths = parts.map((p) => (p.shape.length === 1 ? p.shape[0] ?? 0 : p.shape[1] ?? 0))
  const total = widths.reduce((a, b) => a + b, 0)
  const oneD = parts[0]?.shape.length === 1
  const out = new Float32Array((oneD ? 1 : rows) * total)
  const nRows = oneD ? 1 : rows
  for (let r = 0; r < nRows; r++) {
    let at = r * total
    parts.forEach((p, i) => {
      const w = widths[i] ?? 0
      out.set(p.data.subarray(r * w, (r + 1) * w), at)
      at += w
    })
  }
  return { shape: oneD ? [total] : [rows, total], data: out }
}

/** Columns [from, from + width) of a (rows, cols) row-major matrix, or elements of a vector. */
export const sliceColumns = (t: { readonly shape: readonly number[]; readonly data: Float32Array }, from: number, width: number): { shape: number[]; data: Float32Array } => {
  if (t.shape.length === 1) return { shape: [width], data: t.data.slice(from, from + width) }
  const [rows = 0, cols = 0] = t.shape
  const out = new Float32Array(rows * width)
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * cols + from, r * cols + from + width), r * width)
  return { shape: [rows, width], data: out }
}

export const transpose2d = (t: { readonly shape: readonly number[]; readonly data: Float32Array }): { shape: number[]; data: Float32Array } => {
  const [rows = 0, cols = 0] = t.shape
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c] ?? 0
  return { shape: [cols, rows], data: out }
}

const need = (params: Tensors, name: string) => {
  const t = params.get(name)
  if (t === undefined) throw new Error(`model has no parameter ${name}`)
  return t
}

/** peftlab parameters → GPT-2 tensors (transformers names, Conv1D layout, fused c_attn). */
export const toGpt2Tensors = (cfg: GPTConfig, params: Tensors): SafeTensor[] => {
  const out: SafeTensor[] = []
  const put = (name: string, t: { readonly shape: readonly number[]; readonly data: Float32Array }) => out.push({ name, dtype: "F32", shape: [...t.shape], data: t.data })
  put("transformer.wte.weight", need(params, "wte"))
  put("transformer.wpe.weight", need(params, "wpe"))
  for (let l = 0; l < cfg.nLayer; l++) {
    const h = `transformer.h.${l}`
    put(`${h}.ln_1.weight`, need(params, `h.${l}.ln_1.gamma`))
    put(`${h}.ln_1.bias`, need(params, `h.${l}.ln_1.beta`))
    put(`${h}.attn.c_attn.weight`, concatColumns(QKV.map((p) => need(params, `h.${l}.attn.${p}.kernel`))))
    put(`${h}.attn.c_attn.bias`, concatColumns(QKV.map((p) => need(params, `h.${l}.attn.${p}.bias`))))
    put(`${h}.attn.c_proj.weight`, need(params, `h.${l}.attn.o.kernel`))
    put(`${h}.attn.c_proj.bias`, need(params, `h.${l}.attn.o.bias`))
    put(`${h}.ln_2.weight`, need(params, `h.${l}.ln_2.gamma`))
    put(`${h}.ln_2.bias`, need(params, `h.${l}.ln_2.beta`))
    put(`${h}.mlp.c_fc.weight`, need(params, `h.${l}.mlp.up.kernel`))
    put(`${h}.mlp.c_fc.bias`, need(params, `h.${l}.mlp.up.bias`))
    put(`${h}.mlp.c_proj.weight`, need(params, `h.${l}.mlp.down.kernel`))
    put(`${h}.mlp.c_proj.bias`, need(params, `h.${l}.mlp.down.bias`))
  }
  put("transformer.ln_f.weight", need(params, "ln_f.gamma"))
  put("transformer.ln_f.bias", need(params, "ln_f.beta"))
  if (!cfg.tieWeights) put("lm_head.weight", transpose2d(need(params, "lm_head.kernel")))
  return out
}

// ---------------------------------------------------------------------------------------------
// Import

/** GPT-2 buffers some checkpoints carry (the causal mask), not parameters. */
const BUFFER = /^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$/

/** The safetensors files of a transformers folder: model.safetensors, or the shards an index lists. */
export const checkpointFiles = (dir: string): string[] => {
  const single = join(dir, "model.safetensors")
  if (existsSync(single)) return [single]
  const index = join(dir, "model.safetensors.index.json")
  if (existsSync(index)) {
    const map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, string> }).weight_map
    if (typeof map !== "object" || map === null) throw new HfUnsupported("model.safetensors.index.json", `${index}: no weight_map`)
    return [...new Set(Object.values(map))].sort().map((f) => join(dir, f))
  }
  const others = readdirSync(dir).filter((f) => f.endsWith(".bin") || f.endsWith(".pt") || f.endsWith(".h5") || f.endsWith(".msgpack"))
  throw new HfUnsupported("model.safetensors", `${dir}: no model.safetensors or model.safetensors.index.json${others.length > 0 ? ` (found ${others.join(", ")}: peftlab reads safetensors only; convert with transformers' save_pretrained(safe_serialization=True))` : ""}`)
}

/** Reads every tensor of a transformers GPT-2 checkpoint, names without the `transformer.` prefix problem resolved. */
export const readGpt2Checkpoint = (dir: string): Map<string, ReadTensor & { readonly file: string }> => {
  const all = new Map<string, ReadTensor & { readonly file: string }>()
  for (const file of checkpointFiles(dir)) {
    const { tensors, metadata } = readSafetensors(file)
    const format = metadata.format
    if (format !== undefined && !["pt", "tf", "flax", "mlx", "np"].includes(format))
      throw new HfUnsupported("format", `${file}: __metadata__.format ${JSON.stringify(format)} is not a transformers checkpoint format (pt, tf, flax, mlx)`)
    for (const [name, t] of tensors) {
      if (BUFFER.test(name)) continue
      const key = name.startsWith("transformer.") || name === "lm_head.weight" ? name : `transformer.${name}`
      if (all.has(key)) throw new HfUnsupported(key, `${file}: tensor ${key} appears twice in the checkpoint`)
      all.set(key, { ...t, file })
    }
  }
  return all
}

/**
 * GPT-2 tensors → peftlab parameters for `cfg` (every one present with the implied shape, and
 * nothing left over: a tensor peftlab would ignore is an error naming it).
 */
export const fromGpt2Tensors = (cfg: GPTConfig, tensors: ReadonlyMap<string, ReadTensor & { readonly file?: string }>): Map<string, { shape: number[]; data: Float32Array }> => {
  const used = new Set<string>()
  const C = cfg.nEmbd
  const inner = cfg.mlpRatio * C
  const take = (name: string, shape: number[]) => {
    const t = tensors.get(name)
    if (t === undefined) throw new HfUnsupported(name, `checkpoint lacks ${name} (a GPT-2 with ${cfg.nLayer} layers needs it)`)
    if (t.dtype !== "F32" || !(t.data instanceof Float32Array)) throw new HfUnsupported(name, `${name} is ${t.dtype}; expected floating-point weights`)
    if (t.shape.join(",") !== shape.join(",")) throw new HfUnsupported(name, `${t.file ?? "checkpoint"}: ${name} has shape [${t.shape.join(", ")}], config.json implies [${shape.join(", ")}]`)
    used.add(name)
    return { shape, data: t.data }
  }
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  out.set("wte", take("transformer.wte.weight", [cfg.vocabSize, C]))
  out.set("wpe", take("transformer.wpe.weight", [cfg.blockSize, C]))
  for (let l = 0; l < cfg.nLayer; l++) {
    const h = `transformer.h.${l}`
    out.set(`h.${l}.ln_1.gamma`, take(`${h}.ln_1.weight`, [C]))
    out.set(`h.${l}.ln_1.beta`, take(`${h}.ln_1.bias`, [C]))
    const w = take(`${h}.attn.c_attn.weight`, [C, 3 * C])
    const b = take(`${h}.attn.c_attn.bias`, [3 * C])
    QKV.forEach((p, i) => {
      out.set(`h.${l}.attn.${p}.kernel`, sliceColumns(w, i * C, C))
      out.set(`h.${l}.attn.${p}.bias`, sliceColumns(b, i * C, C))
    })
    out.set(`h.${l}.attn.o.kernel`, take(`${h}.attn.c_proj.weight`, [C, C]))
    out.set(`h.${l}.attn.o.bias`, take(`${h}.attn.c_proj.bias`, [C]))
    out.set(`h.${l}.ln_2.gamma`, take(`${h}.ln_2.weight`, [C]))
    out.set(`h.${l}.ln_2.beta`, take(`${h}.ln_2.bias`, [C]))
    out.set(`h.${l}.mlp.up.kernel`, take(`${h}.mlp.c_fc.weight`, [C, inner]))
    out.set(`h.${l}.mlp.up.bias`, take(`${h}.mlp.c_fc.bias`, [inner]))
    out.set(`h.${l}.mlp.down.kernel`, take(`${h}.mlp.c_proj.weight`, [inner, C]))
    out.set(`h.${l}.mlp.down.bias`, take(`${h}.mlp.c_proj.bias`, [C]))
  }
  out.set("ln_f.gamma", take("transformer.ln_f.weight", [C]))
  out.set("ln_f.beta", take("transformer.ln_f.bias", [C]))
  if (!cfg.tieWeights) out.set("lm_head.kernel", transpose2d(take("lm_head.weight", [cfg.vocabSize, C])))
  else if (tensors.has("lm_head.weight")) used.add("lm_head.weight") // the tied copy some writers keep
  const extra = [...tensors.keys()].filter((k) => !used.has(k))
  if (extra.length > 0) throw new HfUnsupported(extra[0] ?? "", `checkpoint has tensors a GPT-2 of this config does not use: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ` (+${extra.length - 5} more)` : ""}`)
  return out
}
