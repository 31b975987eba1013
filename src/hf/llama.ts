/**
 * peftlab's Llama-family parameters ⇄ a transformers Llama / Qwen2 / Mistral checkpoint, as a
 * translation at the edge (plain typed arrays, no tfjs). Every projection is an nn.Linear,
 * stored (out, in): the transpose of peftlab's kernel (in, out).
 *
 *   wte (V, C)                          ⇄ model.embed_tokens.weight (V, C)
 *   h.L.ln_1.gamma / h.L.ln_2.gamma     ⇄ model.layers.L.input_layernorm / post_attention_layernorm .weight
 *   h.L.attn.{q,k,v,o}.kernel (in, out) ⇄ model.layers.L.self_attn.{q,k,v,o}_proj.weight (out, in)  (+ .bias)
 *   h.L.mlp.{gate,up,down}.kernel       ⇄ model.layers.L.mlp.{gate,up,down}_proj.weight              (+ .bias)
 *   ln_f.gamma                          ⇄ model.norm.weight
 *   lm_head.kernel (C, V)               ⇄ lm_head.weight (V, C), absent or ignored when tied
 * Checkpoints are usually bf16 and sharded: safetensors.ts widens BF16 / F16 to float32 exactly.
 */
import { HF_PROJ_NAMES, hasBias, projDims, type LlamaConfig, type ProjName } from "../model/arch/config.ts"
import { readSafetensors, type ReadTensor, type SafeTensor } from "../model/safetensors.ts"
import { checkpointFiles, transpose2d, type Tensors } from "./gpt2.ts"
import { HfUnsupported } from "./unsupported.ts"

type Matrix = { readonly shape: readonly number[]; readonly data: Float32Array }

const LAYER_PROJS: ReadonlyArray<ProjName> = ["q", "k", "v", "o", "mlp_gate", "mlp_up", "mlp_down"]

/** The transformers module of a projection in layer L: `model.layers.L.self_attn.q_proj`. */
export const llamaModule = (layer: number, proj: ProjName): string =>
  `model.layers.${layer}.${proj === "mlp_gate" || proj === "mlp_up" || proj === "mlp_down" ? "mlp" : "self_attn"}.${HF_PROJ_NAMES[proj]}`

const ours = (layer: number, proj: ProjName, leaf: "kernel" | "bias"): string =>
  `h.${layer}.${proj === "mlp_gate" ? "mlp.gate" : proj === "mlp_up" ? "mlp.up" : proj === "mlp_down" ? "mlp.down" : `attn.${proj}`}.${leaf}`

/** Buffers some older checkpoints carry (rotary tables), not parameters. */
const BUFFER = /\.rotary_emb\.inv_freq$/

/**
 * transformers tensors → peftlab parameters for `cfg`: every one present with the implied shape,
 * nothing left over (a tensor peftlab would ignore is an error naming it).
 */
export const fromLlamaTensors = (cfg: LlamaConfig, tensors: ReadonlyMap<string, ReadTensor & { readonly file?: string }>): Map<string, { shape: number[]; data: Float32Array }> => {
  const used = new Set<string>()
  const take = (name: string, shape: number[]): { shape: number[]; data: Float32Array } => {
    const t = tensors.get(name)
    if (t === undefined) throw new HfUnsupported(name, `checkpoint lacks ${name} (a ${cfg.family} with this config.json needs it)`)
    if (!["F32", "BF16", "F16"].includes(t.dtype) || !(t.data instanceof Float32Array)) throw new HfUnsupported(name, `${name} is ${t.dtype}; expected floating-point weights (F32, BF16, F16)`)
    if (t.shape.join(",") !== shape.join(",")) throw new HfUnsupported(name, `${t.file ?? "checkpoint"}: ${name} has shape [${t.shape.join(", ")}], config.json implies [${shape.join(", ")}]`)
    used.add(name)
    return { shape, data: t.data }
  }
  const C = cfg.nEmbd
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  out.set("wte", take("model.embed_tokens.weight", [cfg.vocabSize, C]))
  for (let l = 0; l < cfg.nLayer; l++) {
    out.set(`h.${l}.ln_1.gamma`, take(`model.layers.${l}.input_layernorm.weight`, [C]))
    out.set(`h.${l}.ln_2.gamma`, take(`model.layers.${l}.post_attention_layernorm.weight`, [C]))
    for (const p of LAYER_PROJS) {
      const [dIn, dOut] = projDims(cfg, p)
      out.set(ours(l, p, "kernel"), transpose2d(take(`${llamaModule(l, p)}.weight`, [dOut, dIn])))
      if (hasBias(cfg, p)) out.set(ours(l, p, "bias"), take(`${llamaModule(l, p)}.bias`, [dOut]))
    }
  }
  out.set("ln_f.gamma", take("model.norm.weight", [C]))
  if (!cfg.tieWeights) out.set("lm_head.kernel", transpose2d(take("lm_head.weight", [cfg.vocabSize, C])))
  else if (tensors.has("lm_head.weight")) used.add("lm_head.weight") // the tied copy some writers keep
  const extra = [...tensors.keys()].filter((k) => !used.has(k) && !BUFFER.test(k))
  if (extra.length > 0) throw new HfUnsupported(extra[0] ?? "", `checkpoint has tensors a ${cfg.family} of this config does not use: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ` (+${extra.length - 5} more)` : ""}`)
  return out
}

/** peftlab parameters → transformers tensors (names and (out, in) layout). */
export const toLlamaTensors = (cfg: LlamaConfig, params: Tensors): SafeTensor[] => {
  const out: SafeTensor[] = []
  const need = (name: string): Matrix => {
    const t = params.get(name)
    if (t === undefined) throw new Error(`model has no parameter ${name}`)
    return t
  }
  const put = (name: string, t: Matrix) => out.push({ name, dtype: "F32", shape: [...t.shape], data: t.data })
  put("model.embed_tokens.weight", need("wte"))
  for (let l = 0; l < cfg.nLayer; l++) {
    put(`model.layers.${l}.input_layernorm.weight`, need(`h.${l}.ln_1.gamma`))
    put(`model.layers.${l}.post_attention_layernorm.weight`, need(`h.${l}.ln_2.gamma`))
    for (const p of LAYER_PROJS) {
      put(`${llamaModule(l, p)}.weight`, transpose2d(need(ours(l, p, "kernel"))))
      if (hasBias(cfg, p)) put(`${llamaModule(l, p)}.bias`, need(ours(l, p, "bias")))
    }
  }
  put("model.norm.weight", need("ln_f.gamma"))
  if (!cfg.tieWeights) put("lm_head.weight", transpose2d(need("lm_head.kernel")))
  return out
}

/** Every tensor of a transformers checkpoint folder (one file or the shards its index lists), by name. */
export const readLlamaCheckpoint = (dir: string): Map<string, ReadTensor & { readonly file: string }> => {
  const all = new Map<string, ReadTensor & { readonly file: string }>()
  for (const file of checkpointFiles(dir)) {
    const { tensors, metadata } = readSafetensors(file)
    if (metadata.format !== undefined && !["pt", "tf", "flax", "mlx", "np"].includes(metadata.format))
      throw new HfUnsupported("format", `${file}: __metadata__.format ${JSON.stringify(metadata.format)} is not a transformers checkpoint format (pt, tf, flax, mlx)`)
    for (const [name, t] of tensors) {
      if (all.has(name)) throw new HfUnsupported(name, `${file}: tensor ${name} appears twice in the checkpoint`)
      all.set(name, { ...t, file })
    }
  }
  return all
}
