/**
 * A peftlab adapter folder → a PEFT 0.21 adapter folder that `PeftModel.from_pretrained(base, dir)`
 * loads on the exported base (gpt2.ts; the Llama family: the same keys under model.layers).
 * Plain typed arrays, no tfjs.
 *
 * Modules, per architecture (`MODULE_TABLES`):
 *   GPT-2: q, k, v → `attn.c_attn` (one fused Conv1D, output columns [q | k | v]); o →
 *     `attn.c_proj`; mlp_up → `mlp.c_fc`; mlp_down → `mlp.c_proj`; Conv1D: `fan_in_fan_out: true`.
 *   Llama (config `arch: "llama"`): each projection its own nn.Linear, `self_attn.{q,k,v,o}_proj`,
 *     `mlp.{gate,up,down}_proj` under `model.layers.L`; `fan_in_fan_out: false`.
 * PEFT's tensors are laid out the same for both ((r, in), (out, r), vectors), so only names,
 * fusion and fan_in_fan_out differ.
 *
 * LoRA family (LoRA, LoRA-FA, LoRA+, rsLoRA, DoRA, PiSSA, OLoRA, Delta-LoRA). Each projection's
 * ΔW is written as s·Σ_i B_i·A_i over factor pairs (PEFT layout, A_i (k_i, in), B_i (out, k_i)):
 *   plain:        (A, B)                                       rank r
 *   PiSSA, OLoRA: (A, B), (A₀, −B₀)  — PEFT's own conversion (`path_initial_model_for_weight_conversion`,
 *                 `subtract_mutated_init`): ΔW = s·(B·A − B₀·A₀) on the ORIGINAL W, rank 2r, α → 2α
 *   Delta-LoRA:   its whole change, (W_T − W₀) + s·B_T·A_T = (1+λ)s·B_T·A_T − λs·B_K·A_K (the
 *                 telescoping identity, rank ≤ 2r), factored by a float64 SVD, on the ORIGINAL W
 * A fused module stacks its projections' pairs: A's rows one after another, B block-structured
 * (each projection's B in its own output rows and its own columns, zeros elsewhere), so B·A has
 * no cross terms and the module's rank R is the sum; α' = s·R (rsLoRA: s·√R) keeps PEFT's
 * α'/R (α'/√R) equal to s. Modules whose R or α' differ from the config's get `rank_pattern` /
 * `alpha_pattern`. LoRA-FA and LoRA+ are training rules over plain LoRA (PEFT has them as
 * optimizers). rsLoRA sets `use_rslora: true`. DoRA sets `use_dora: true` and a
 * `lora_magnitude_vector` (out) per module — on a fused module the magnitude of an untargeted
 * block is its base columns' norm, so PEFT's m/‖W + s·B·A‖ is 1 there (to float rounding).
 *
 * (IA)³: `IA3`, one `ia3_l` per module, (out, 1) scaling the output (bias included, as peftlab's)
 * or (1, in) scaling the input for the modules in `feedforward_modules` (mlp_down). On a fused
 * module the untargeted blocks' entries are 1: exact.
 *
 * VeRA. PEFT's VeRA gives each target module one λ_d (r) and one λ_b (out) and reads the shared
 * vera_B by output row: c_attn's q, k, v blocks use vera_B rows [0, C), [C, 2C), [2C, 3C). peftlab's
 * separate q, k, v each have their own λ_d and all use rows [0, C). So VeRA on two or more
 * projections of one fused module has no PEFT form (one λ_d cannot be two), and the export
 * refuses it by name. One of q, k, v (with any of o, mlp_up, mlp_down) is expressible: λ_b is zero
 * outside the adapted block, and the saved vera_B carries rows [0, C) of peftlab's projection in
 * that block's rows — unless another target reads those rows of vera_B itself (k or v with
 * mlp_up: c_fc reads rows [0, 4C)), which is refused too. Without fused modules (Llama) every
 * projection is its own module and VeRA maps one-to-one. The projection is always saved
 * (`save_projection: true`): PEFT's PRNG is torch's, not peftlab's.
 *
 * peftlab-only settings (method, seed, Delta-LoRA's λ and K, LoRA+'s ratio, LoRA-FA's projection,
 * the per-projection targets) go to `peftlab_adapter.json`, not into the PEFT config.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { AdapterConfigFile } from "../adapters/io.ts"
import { topSvd } from "../adapters/linalg.ts"
import { isLlama, type ModelConfig } from "../model/arch/config.ts"
import { readSafetensors, writeSafetensors, type SafeTensor } from "../model/safetensors.ts"
import { HfUnsupported } from "./gpt2.ts"

/** The fields of peftlab's adapter_config.json (adapters/io.ts) this export reads. */
export type PeftlabAdapterConfig = Pick<
  AdapterConfigFile,
  "peft_type" | "peftlab_method" | "r" | "lora_alpha" | "target_modules" | "lora_dropout" | "seed" | "options" | "modified_base"
>

export const PEFTLAB_SIDE_FILE = "peftlab_adapter.json"

/** peftlab's projection names (model.ts `ProjName`, with the Llama family's gate projection). */
type Proj = "q" | "k" | "v" | "o" | "mlp_gate" | "mlp_up" | "mlp_down"

/** How one architecture's HF model names and lays out the projections peftlab adapts. */
export interface ModuleTable {
  readonly arch: string
  /** The prefix of layer L's modules in the HF model (`transformer.h`, `model.layers`). */
  readonly layers: string
  /** Projection → module suffix under a layer; absent: the architecture has no such projection. */
  readonly module: Readonly<Partial<Record<Proj, string>>>
  /** Fused modules: their projections in output order, each `blockOut` wide. */
  readonly fused: Readonly<Record<string, ReadonlyArray<Proj>>>
  readonly fanInFanOut: boolean
  /** [in, out] of a module (VeRA's shared projections are sized by the largest). */
  dims(cfg: ModelConfig, module: string): readonly [number, number]
  /** Output width of one block of a fused module. */
  blockOut(cfg: ModelConfig): number
}

const GPT2: ModuleTable = {
  arch: "gpt2",
  layers: "transformer.h",
  module: { q: "attn.c_attn", k: "attn.c_attn", v: "attn.c_attn", o: "attn.c_proj", mlp_up: "mlp.c_fc", mlp_down: "mlp.c_proj" },
  fused: { "attn.c_attn": ["q", "k", "v"] },
  fanInFanOut: true,
  dims: (cfg, module) => {
    if (isLlama(cfg)) throw new Error("GPT-2's module table used on a Llama-family config")
    const C = cfg.nEmbd
    const inner = cfg.mlpRatio * C
    if (module === "attn.c_attn") return [C, 3 * C]
    if (module === "mlp.c_fc") return [C, inner]
    if (module === "mlp.c_proj") return [inner, C]
    return [C, C]
  },
  blockOut: (cfg) => cfg.nEmbd,
}

const LLAMA: ModuleTable = {
  arch: "llama",
  layers: "model.layers",
  module: { q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", o: "self_attn.o_proj", mlp_gate: "mlp.gate_proj", mlp_up: "mlp.up_proj", mlp_down: "mlp.down_proj" },
  fused: {},
  fanInFanOut: false,
  // Unused: without fused modules VeRA's shared pair passes through as peftlab saved it.
  dims: () => {
    throw new Error("Llama modules have no fixed dims here")
  },
  blockOut: () => 0,
}

export const MODULE_TABLES: Readonly<Record<string, ModuleTable>> = { gpt2: GPT2, llama: LLAMA }

/** The GPT-2 module (suffix under transformer.h.L) a peftlab projection lives in. */
export const HF_MODULE = GPT2.module as Readonly<Record<"q" | "k" | "v" | "o" | "mlp_up" | "mlp_down", string>>

export const moduleTable = (cfg: ModelConfig): ModuleTable => {
  const arch: string = cfg.arch ?? "gpt2"
  const t = MODULE_TABLES[arch]
  if (t === undefined) throw new HfUnsupported("arch", `no PEFT module table for architecture ${arch}; known: ${Object.keys(MODULE_TABLES).join(", ")}`)
  return t
}

const OUR_PREFIX: Readonly<Record<Proj, string>> = { q: "attn.q", k: "attn.k", v: "attn.v", o: "attn.o", mlp_gate: "mlp.gate", mlp_up: "mlp.up", mlp_down: "mlp.down" }

type Matrix = { shape: number[]; data: Float32Array }
type Stored = ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>
/** The original base model's parameters in peftlab's layout (kernels (d_in, d_out)). */
export type BaseParams = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>

const tensorOf = (tensors: Stored, name: string, file: string): Matrix => {
  const t = tensors.get(name)
  if (t === undefined || !(t.data instanceof Float32Array)) throw new Error(`${file}: missing float tensor ${name}`)
  return { shape: [...t.shape], data: t.data }
}

const ours = (l: number, p: Proj, leaf: string) => `base_model.model.h.${l}.${OUR_PREFIX[p]}.${leaf}`

/** The projections of `projs` that live in `module`, in the module's output order. */
const blocksOf = (table: ModuleTable, module: string, projs: ReadonlyArray<Proj>): Proj[] =>
  table.fused[module]?.filter((p) => projs.includes(p)) ?? projs.filter((p) => table.module[p] === module)

const modulesOf = (table: ModuleTable, projs: ReadonlyArray<Proj>): string[] => [...new Set(projs.map((p) => table.module[p] as string))]

export interface PeftExport {
  readonly tensors: SafeTensor[]
  readonly config: Record<string, unknown>
  readonly side: Record<string, unknown>
}

interface Ctx {
  readonly cfg: ModelConfig
  readonly table: ModuleTable
  readonly ac: PeftlabAdapterConfig
  readonly projs: ReadonlyArray<Proj>
  readonly tensors: Stored
  readonly file: string
  readonly base: BaseParams | undefined
}

const hfKey = (c: Ctx, layer: number, module: string, leaf: string): string => `base_model.model.${c.table.layers}.${layer}.${module}.${leaf}`

const needBase = (c: Ctx, name: string, why: string) => {
  const t = c.base?.get(name)
  if (t === undefined) throw new Error(`${why} needs the base model's ${name} (pass the base to toPeft)`)
  return t
}

// ---------------------------------------------------------------------------------------------
// LoRA family

/** One factor pair in PEFT layout: A (k, in), B (out, k), with any coefficient folded into B. */
interface Pair {
  readonly k: number
  readonly A: Float32Array
  readonly B: Float32Array
}

const loraScale = (ac: PeftlabAdapterConfig): number => (ac.peftlab_method === "rslora" ? ac.lora_alpha / Math.sqrt(ac.r) : ac.lora_alpha / ac.r)

/**
 * Delta-LoRA's whole change to W, D = (W_T − W₀) + s·A_T·B_T (our layout (in, out)), as one pair
 * of rank k = min(2r, in, out) from its float64 SVD, with 1/s folded into B. Returns the largest
 * entry of D the dropped singular values leave out (float rounding of W_T: the identity says
 * rank(D) ≤ 2r).
 */
const deltaLoRAPair = (c: Ctx, l: number, p: Proj, s: number): { pair: Pair; dropped: number } => {
  const r = c.ac.r
  const A = tensorOf(c.tensors, ours(l, p, "lora_A.weight"), c.file) // (r, in)
  const B = tensorOf(c.tensors, ours(l, p, "lora_B.weight"), c.file) // (out, r)
  const W0 = needBase(c, `h.${l}.${OUR_PREFIX[p]}.kernel`, "Delta-LoRA's export") // (in, out)
  const [inF = 0, out = 0] = W0.shape
  // W_T stored transposed (out, in); an untrained (attach-adapter) artifact has none: W_T = W₀.
  const stored = ours(l, p, "base_layer.weight")
  const WT = c.tensors.has(stored) ? tensorOf(c.tensors, stored, c.file) : { shape: [out, inF], data: Float32Array.from({ length: inF * out }, (_, k) => W0.data[(k % inF) * out + Math.floor(k / inF)] ?? 0) }
  const D = new Float64Array(inF * out)
  for (let i = 0; i < inF; i++)
    for (let o = 0; o < out; o++) {
      let ab = 0
      for (let j = 0; j < r; j++) ab += (A.data[j * inF + i] ?? 0) * (B.data[o * r + j] ?? 0)
      D[i * out + o] = (WT.data[o * inF + i] ?? 0) - (W0.data[i * out + o] ?? 0) + s * ab
    }
  const k = Math.min(2 * r, inF, out)
  const { U, S, V } = topSvd({ rows: inF, cols: out, data: D }, k)
  const pa = new Float32Array(k * inF)
  const pb = new Float32Array(out * k)
  let dropped = 0
  for (let c2 = 0; c2 < k; c2++) {
    const root = Math.sqrt(S[c2] ?? 0)
    for (let i = 0; i < inF; i++) pa[c2 * inF + i] = (U.data[i * k + c2] ?? 0) * root
    for (let o = 0; o < out; o++) pb[o * k + c2] = ((V.data[o * k + c2] ?? 0) * root) / s
  }
  for (let i = 0; i < inF; i++)
    for (let o = 0; o < out; o++) {
      let x = 0
      for (let c2 = 0; c2 < k; c2++) x += (U.data[i * k + c2] ?? 0) * (S[c2] ?? 0) * (V.data[o * k + c2] ?? 0)
      dropped = Math.max(dropped, Math.abs(x - (D[i * out + o] ?? 0)))
    }
  return { pair: { k, A: pa, B: pb }, dropped }
}

/** A projection's factor pairs (see the header) and the largest reconstruction error (Delta-LoRA). */
const pairsOf = (c: Ctx, l: number, p: Proj, s: number): { pairs: Pair[]; dropped: number } => {
  if (c.ac.peftlab_method === "delta-lora") {
    const { pair, dropped } = deltaLoRAPair(c, l, p, s)
    return { pairs: [pair], dropped }
  }
  const get = (leaf: string) => tensorOf(c.tensors, ours(l, p, leaf), c.file)
  const pairs: Pair[] = [{ k: c.ac.r, A: get("lora_A.weight").data, B: get("lora_B.weight").data }]
  if (c.ac.peftlab_method === "pissa" || c.ac.peftlab_method === "olora")
    pairs.push({ k: c.ac.r, A: get("lora_A_init.weight").data, B: get("lora_B_init.weight").data.map((x) => -x) })
  return { pairs, dropped: 0 }
}

const loraExport = (c: Ctx): { tensors: SafeTensor[]; config: Record<string, unknown>; dropped: number } => {
  const { ac, table, projs, cfg } = c
  const s = loraScale(ac)
  const rslora = ac.peftlab_method === "rslora"
  const dora = ac.peftlab_method === "dora"
  const modules = modulesOf(table, projs)
  const out: SafeTensor[] = []
  const rankOf = new Map<string, number>()
  let dropped = 0
  for (let l = 0; l < cfg.nLayer; l++)
    for (const module of modules) {
      const fused = table.fused[module]
      const blocks = blocksOf(table, module, projs)
      const per = blocks.map((p) => {
        const r = pairsOf(c, l, p, s)
        dropped = Math.max(dropped, r.dropped)
        return { p, pairs: r.pairs }
      })
      const R = per.reduce((n, x) => n + x.pairs.reduce((m, q) => m + q.k, 0), 0)
      const inF = (per[0]?.pairs[0]?.A.length ?? 0) / (per[0]?.pairs[0]?.k ?? 1)
      const blockOut = (x: { pairs: Pair[] }) => (x.pairs[0]?.B.length ?? 0) / (x.pairs[0]?.k ?? 1)
      const outF = fused === undefined ? blockOut(per[0] as { pairs: Pair[] }) : fused.length * table.blockOut(cfg)
      const A = new Float32Array(R * inF) // (R, in)
      const B = new Float32Array(outF * R) // (out, R)
      let col = 0
      for (const { p, pairs } of per) {
        const row0 = fused === undefined ? 0 : fused.indexOf(p) * table.blockOut(cfg)
        for (const q of pairs) {
          A.set(q.A, col * inF)
          const rows = q.B.length / q.k
          for (let row = 0; row < rows; row++) for (let j = 0; j < q.k; j++) B[(row0 + row) * R + col + j] = q.B[row * q.k + j] ?? 0
          col += q.k
        }
      }
      rankOf.set(module, R)
      out.push({ name: hfKey(c, l, module, "lora_A.weight"), dtype: "F32", shape: [R, inF], data: A })
      out.push({ name: hfKey(c, l, module, "lora_B.weight"), dtype: "F32", shape: [outF, R], data: B })
      if (dora) out.push({ name: hfKey(c, l, module, "lora_magnitude_vector"), dtype: "F32", shape: [outF], data: magnitude(c, l, module, blocks, outF) })
    }
  const alphaOf = (R: number) => (rslora ? s * Math.sqrt(R) : s * R)
  const [first = ""] = modules
  const r0 = rankOf.get(first) ?? ac.r
  const differing = modules.filter((m) => rankOf.get(m) !== r0)
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: r0,
    lora_alpha: alphaOf(r0),
    lora_dropout: ac.lora_dropout,
    target_modules: modules,
    fan_in_fan_out: table.fanInFanOut,
    bias: "none",
    use_rslora: rslora,
    use_dora: dora,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: Object.fromEntries(differing.map((m) => [m, rankOf.get(m)])),
    alpha_pattern: Object.fromEntries(differing.map((m) => [m, alphaOf(rankOf.get(m) ?? 0)])),
    inference_mode: true,
  }
  return { tensors: out, config, dropped }
}

/** DoRA's magnitude of one module (out): peftlab's m per targeted block, the base columns' norm elsewhere. */
const magnitude = (c: Ctx, l: number, module: string, blocks: ReadonlyArray<Proj>, outF: number): Float32Array => {
  const m = new Float32Array(outF)
  const fused = c.table.fused[module] ?? blocks
  const width = outF / fused.length
  fused.forEach((p, j) => {
    if (blocks.includes(p)) m.set(tensorOf(c.tensors, ours(l, p, "lora_magnitude_vector"), c.file).data, j * width)
    else {
      const W = needBase(c, `h.${l}.${OUR_PREFIX[p]}.kernel`, `DoRA's magnitude of the untargeted ${p} block of ${module}`) // (in, width)
      const inF = W.data.length / width
      for (let o = 0; o < width; o++) {
        let acc = 0
        for (let i = 0; i < inF; i++) acc += (W.data[i * width + o] ?? 0) ** 2
        m[j * width + o] = Math.sqrt(acc)
      }
    }
  })
  return m
}

// ---------------------------------------------------------------------------------------------
// (IA)³

/** PEFT's `feedforward_modules`: peftlab scales the input of mlp_down (ia3.ts `isFeedforward`). */
const FEEDFORWARD: ReadonlyArray<Proj> = ["mlp_down"]

const ia3Export = (c: Ctx): { tensors: SafeTensor[]; config: Record<string, unknown> } => {
  const { table, projs, cfg } = c
  const modules = modulesOf(table, projs)
  const out: SafeTensor[] = []
  for (let l = 0; l < cfg.nLayer; l++)
    for (const module of modules) {
      const blocks = blocksOf(table, module, projs)
      const fused = table.fused[module]
      if (fused === undefined) {
        const [p] = blocks as [Proj]
        const v = tensorOf(c.tensors, ours(l, p, "ia3_l"), c.file).data
        out.push({ name: hfKey(c, l, module, "ia3_l"), dtype: "F32", shape: FEEDFORWARD.includes(p) ? [1, v.length] : [v.length, 1], data: v })
        continue
      }
      const width = table.blockOut(cfg)
      const v = new Float32Array(fused.length * width).fill(1) // untargeted blocks: scale 1
      for (const p of blocks) v.set(tensorOf(c.tensors, ours(l, p, "ia3_l"), c.file).data, fused.indexOf(p) * width)
      out.push({ name: hfKey(c, l, module, "ia3_l"), dtype: "F32", shape: [v.length, 1], data: v })
    }
  const config = {
    peft_type: "IA3",
    task_type: "CAUSAL_LM",
    target_modules: modules,
    feedforward_modules: modulesOf(table, projs.filter((p) => FEEDFORWARD.includes(p))),
    fan_in_fan_out: table.fanInFanOut,
    init_ia3_weights: true,
    modules_to_save: null,
    inference_mode: true,
  }
  return { tensors: out, config }
}

// ---------------------------------------------------------------------------------------------
// VeRA

const veraExport = (c: Ctx): { tensors: SafeTensor[]; config: Record<string, unknown> } => {
  const { ac, table, projs, cfg, tensors, file } = c
  for (const [module, members] of Object.entries(table.fused)) {
    const inside = members.filter((p) => projs.includes(p))
    if (inside.length > 1)
      throw new HfUnsupported(
        "targets",
        `VeRA on ${inside.join(" and ")} cannot be expressed in PEFT on ${table.arch === "gpt2" ? "GPT-2" : table.arch}: the projections are one fused module (${module}), and PEFT's VeRA gives a module one λ_d (r = ${ac.r}) and reads vera_B by output row (${members.map((p, i) => `${p} rows ${i}C..${i + 1}C`).join(", ")}), while peftlab's ${inside.join(", ")} each have their own λ_d and all read rows 0..C. Export a VeRA adapter that targets at most one of ${members.join(", ")} (the other projections map one-to-one).`,
      )
  }
  const r = ac.r
  const A = tensorOf(tensors, "base_model.vera_A", file) // (r, maxIn)
  const B = tensorOf(tensors, "base_model.vera_B", file) // (maxOut, r)
  const modules = modulesOf(table, projs)
  const hasFused = modules.some((m) => table.fused[m] !== undefined)
  const [, ourIn = 0] = A.shape
  const [ourOut = 0] = B.shape
  const maxIn = hasFused ? Math.max(...modules.map((mod) => table.dims(cfg, mod)[0])) : ourIn
  const maxOut = hasFused ? Math.max(...modules.map((mod) => table.dims(cfg, mod)[1])) : ourOut
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
  const blockOf = (p: Proj): number => table.fused[table.module[p] as string]?.indexOf(p) ?? -1
  const lambdaB0 = (l: number, p: Proj) => tensorOf(tensors, ours(l, p, "vera_lambda_b"), file)
  for (const p of projs) {
    const block = blockOf(p)
    const width = block >= 0 ? table.blockOut(cfg) : lambdaB0(0, p).data.length
    for (let i = 0; i < width; i++) {
      if (i >= ourOut) throw new Error(`${file}: vera_B has ${ourOut} rows, ${p} reads row ${i}`)
      claim(block >= 0 ? block * width + i : i, i, block >= 0 ? `c_attn's ${p} block` : p)
    }
  }
  const out: SafeTensor[] = [
    { name: "base_model.vera_A", dtype: "F32", shape: [r, maxIn], data: peftA },
    { name: "base_model.vera_B", dtype: "F32", shape: [maxOut, r], data: peftB },
  ]
  for (let l = 0; l < cfg.nLayer; l++)
    for (const p of projs) {
      const module = table.module[p] as string
      const d = tensorOf(tensors, ours(l, p, "vera_lambda_d"), file)
      const b = lambdaB0(l, p)
      let lambdaB = b.data
      const block = blockOf(p)
      if (block >= 0) {
        lambdaB = new Float32Array((table.fused[module]?.length ?? 1) * table.blockOut(cfg))
        lambdaB.set(b.data, block * table.blockOut(cfg))
      }
      out.push({ name: hfKey(c, l, module, "vera_lambda_d"), dtype: "F32", shape: [r], data: d.data })
      out.push({ name: hfKey(c, l, module, "vera_lambda_b"), dtype: "F32", shape: [lambdaB.length], data: lambdaB })
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
    fan_in_fan_out: table.fanInFanOut,
    bias: "none",
    modules_to_save: null,
    init_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    inference_mode: true,
  }
  return { tensors: out, config }
}

// ---------------------------------------------------------------------------------------------

const LORA_METHODS = ["lora", "lora-fa", "lora-plus", "rslora", "dora", "pissa", "olora", "delta-lora"]

const MAPPING: Readonly<Record<string, string>> = {
  "delta-lora": "Delta-LoRA's whole change (W_T − W₀) + s·A_T·B_T = (1+λ)s·B_T·A_T − λs·B_K·A_K as one LoRA of rank ≤ 2r per projection (float64 SVD), on the original base",
  pissa: "PiSSA converted as PEFT's path_initial_model_for_weight_conversion does: [A | A₀], [B | −B₀], rank 2r, α → 2α, on the original base",
  olora: "OLoRA converted as PEFT's path_initial_model_for_weight_conversion does: [A | A₀], [B | −B₀], rank 2r, α → 2α, on the original base",
}

/**
 * Translates the adapter in `adapterDir` (peftlab's adapter_config.json + adapter_model.safetensors)
 * for a base of config `cfg`. `base`, the original base's parameters, is needed by Delta-LoRA (its
 * change to W) and by DoRA on a fused module (the magnitude of untargeted blocks). Throws
 * `HfUnsupported` naming what has no PEFT form.
 */
export const toPeft = (cfg: ModelConfig, adapterDir: string, base?: BaseParams): PeftExport => {
  const ac = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8")) as PeftlabAdapterConfig
  const file = join(adapterDir, "adapter_model.safetensors")
  const { tensors } = readSafetensors(file)
  const table = moduleTable(cfg)
  const projs = ac.target_modules as ReadonlyArray<Proj>
  const unknown = projs.filter((p) => table.module[p] === undefined)
  if (unknown.length > 0) throw new HfUnsupported("target_modules", `${adapterDir}: targets ${unknown.join(", ")} have no ${table.arch} module`)
  const family = LORA_METHODS.includes(ac.peftlab_method) ? "lora" : ac.peftlab_method === "vera" ? "vera" : ac.peftlab_method === "ia3" ? "ia3" : undefined
  if (family === undefined)
    throw new HfUnsupported("peft_type", `method ${ac.peftlab_method} (peft_type ${ac.peft_type}) has no PEFT export; exportable: ${[...LORA_METHODS, "vera", "ia3"].join(", ")}`)
  const c: Ctx = { cfg, table, ac, projs, tensors, file, base }
  const translated = family === "lora" ? loraExport(c) : family === "vera" ? { ...veraExport(c), dropped: 0 } : { ...ia3Export(c), dropped: 0 }
  const fusedNote = Object.entries(table.fused).map(([m, ps]) => `${ps.join("/")} → ${m}`).join("; ")
  const side = {
    peftlab_method: ac.peftlab_method,
    peftlab_peft_type: ac.peft_type,
    arch: table.arch,
    rank_per_projection: ac.r,
    alpha_per_projection: ac.lora_alpha,
    targets: projs,
    dropout: ac.lora_dropout,
    seed: ac.seed,
    options: ac.options,
    mapping: [
      MAPPING[ac.peftlab_method],
      family === "lora" && fusedNote !== "" ? `${fusedNote} as one LoRA, the projections' ranks summed, block-structured B (exact)` : undefined,
      family === "vera" && fusedNote !== "" ? `one of ${fusedNote} (λ_b zero outside its block, vera_B rows placed for it); projections saved` : undefined,
      family === "ia3" ? `ia3_l (out, 1) scales outputs, bias included; (1, in) scales mlp_down's input (feedforward_modules)${fusedNote !== "" ? `; ${fusedNote} with 1 in untargeted blocks` : ""}` : undefined,
      `other projections one module each (${Object.entries(table.module).map(([p, m]) => `${p} → ${m}`).join(", ")})`,
    ].filter((x) => x !== undefined).join("; "),
    ...(ac.peftlab_method === "delta-lora" ? { max_abs_dropped: translated.dropped } : {}),
  }
  return { tensors: translated.tensors, config: translated.config, side }
}

/** Writes adapter_model.safetensors, adapter_config.json and the side file into `dir`. */
export const writePeftFolder = (dir: string, exp: PeftExport, baseModelPath: string): void => {
  writeSafetensors(join(dir, "adapter_model.safetensors"), exp.tensors, { format: "pt" })
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...exp.config, base_model_name_or_path: baseModelPath }, null, 2) + "\n")
  writeFileSync(join(dir, PEFTLAB_SIDE_FILE), JSON.stringify(exp.side, null, 2) + "\n")
}
