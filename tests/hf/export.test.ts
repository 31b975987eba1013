/**
 * Export without Python: the GPT-2 folder holds transformers' own tensors bit for bit after an
 * import/export round trip, and the PEFT adapters reproduce peftlab's ΔW under PEFT's own
 * formulas (LoRA with fan_in_fan_out: ΔW = (lora_alpha/r)·(B·A)ᵀ with rank_pattern/alpha_pattern,
 * use_rslora: lora_alpha/√r, use_dora: W' = (W + ΔW)·diag(m/‖W + ΔW‖); IA3: W·diag(l), b ⊙ l, or
 * diag(l)·W for feedforward_modules; VeRA: ΔW = ((λ_b ⊙ vera_B[:out]) · (λ_d ⊙ vera_A[:, :in]))ᵀ),
 * every method on the ORIGINAL base (PiSSA, OLoRA, Delta-LoRA as LoRA of rank 2r). bench/hf-interop.sh checks the
 * same files in the real PEFT.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Adapter } from "../../src/adapters/adapter.ts"
import { getMethod } from "../../src/adapters/index.ts"
import { saveAdapter } from "../../src/adapters/io.ts"
import { resolveSettings } from "../../src/adapters/settings.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { disposeGPT, initGPT, param, type GPTConfig, type ModelConfig } from "../../src/model/arch/model.ts"
import { HfUnsupported } from "../../src/hf/config.ts"
import { exportArtifact } from "../../src/hf/export.ts"
import { importHfFolder, readPeftlabModel } from "../../src/hf/folder.ts"
import { HF_MODULE, toPeft } from "../../src/hf/peft.ts"
import { readSafetensors, saveModel } from "../../src/model/safetensors.ts"
import { disposeBatch, makeBatch } from "../adapters/fixtures.ts"

const FIX = join(import.meta.dirname, "..", "fixtures", "hf")
let dir = ""
beforeAll(async () => {
  await tf.setBackend("cpu")
  dir = mkdtempSync(join(tmpdir(), "hf-export-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("GPT-2 folder export", () => {
  it.each(["gpt2-tied", "gpt2-untied"])("import then export of %s gives transformers' tensors back bit for bit", (name) => {
    const art = mkdtempSync(join(dir, "art-"))
    importHfFolder(join(FIX, name), art)
    const out = join(dir, `out-${name}`)
    exportArtifact({ provenance: {}, kind: "load-model", dir: art }, out)
    const orig = new Map<string, { shape: readonly number[]; data: Float32Array | Int32Array }>()
    const files = name === "gpt2-tied" ? ["model.safetensors"] : Object.values((JSON.parse(readFileSync(join(FIX, name, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> }).weight_map)
    for (const f of new Set(files)) for (const [k, t] of readSafetensors(join(FIX, name, f)).tensors) orig.set(k, t)
    const { tensors, metadata } = readSafetensors(join(out, "model.safetensors"))
    expect(metadata).toEqual({ format: "pt" })
    expect([...tensors.keys()].sort()).toEqual([...orig.keys()].sort())
    for (const [k, t] of tensors) {
      expect(t.shape, k).toEqual(orig.get(k)?.shape)
      expect(Buffer.from(t.data.buffer).equals(Buffer.from((orig.get(k)?.data as Float32Array).buffer)), k).toBe(true)
    }
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8")) as Record<string, unknown>
    const theirs = JSON.parse(readFileSync(join(FIX, name, "config.json"), "utf8")) as Record<string, unknown>
    for (const k of ["model_type", "n_embd", "n_head", "n_layer", "n_positions", "n_inner", "vocab_size", "activation_function", "layer_norm_epsilon", "tie_word_embeddings"]) expect(cfg[k], k).toEqual(theirs[k])
    expect(JSON.parse(readFileSync(join(out, "tokenizer_config.json"), "utf8"))).toMatchObject({ tokenizer_class: "PreTrainedTokenizerFast", model_max_length: 48 })
  })

  it("refuses a non-empty output folder and an eval stage, and leaves nothing behind", () => {
    const out = mkdtempSync(join(dir, "eval-"))
    expect(() => exportArtifact({ provenance: {}, kind: "eval", dir: out }, join(out, "x"))).toThrow(/stage kind eval has nothing to export/)
    expect(() => exportArtifact({ provenance: {}, kind: "load-model", dir: out }, dir)).toThrow(/not empty/)
  })
})

// ---------------------------------------------------------------------------------------------
// Adapters

const cfg: GPTConfig = { vocabSize: 40, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, mlpRatio: 4, tieWeights: true, layerNormEps: 1e-5 }
const C = cfg.nEmbd

/**
 * A trained-looking adapter saved in peftlab's format, on a base (saved first, with random
 * biases) it applies to. Every trainable tensor random (B too) — but Delta-LoRA really trains (4
 * steps, W written from step 1), so that its change to W has the telescoping form. Returns ΔW
 * per target (d_in, d_out) — for Delta-LoRA the whole change (W_T − W₀) + s·A·B —, Δb where the
 * method has one ((IA)³) and the original kernels.
 */
const makeAdapter = async (method: string, targets: string[], rank: number) => {
  const model = initGPT(cfg, 1)
  let k = 7
  for (const [name, v] of model.params) if (name.endsWith(".bias")) v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", k++))
  const base = mkdtempSync(join(dir, `base-`))
  saveModel(base, model)
  copyFileSync(join(FIX, "gpt2-tied", "tokenizer.json"), join(base, "tokenizer.json")) // any tokenizer: export copies it
  const kernels = new Map([...model.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]))
  const settings = resolveSettings(getMethod(method), { rank, alpha: 3 * rank, targets, seed: 2, options: { delta_k: 0 } })
  const a = Adapter.create(getMethod(method), cfg, settings, { model })
  if (method === "delta-lora") {
    const tr = new Trainer(model, a, { weightDecay: 0, gradClip: 0, seed: 0 })
    const b = makeBatch(3)
    for (let t = 0; t < 4; t++) tr.step(b, 5e-2, t)
    tr.dispose()
    disposeBatch(b)
  } else for (const t of a.tensors.values()) if (t.role === "trainable") t.variable.assign(tf.add(t.variable, tf.randomNormal(t.variable.shape, 0, 0.5, "float32", k++)))
  const deltas = new Map<string, Float64Array>()
  const biasDeltas = new Map<string, Float64Array>()
  for (const t of a.targets) {
    const d = Float64Array.from(a.delta(t, model).dataSync())
    const W0 = kernels.get(`${t.prefix}.kernel`) as Float32Array
    const WT = param(model, `${t.prefix}.kernel`).dataSync()
    deltas.set(t.prefix, d.map((x, i) => x + (WT[i]! - W0[i]!))) // W_T = W₀ but for Delta-LoRA
    const db = a.deltaBias(t, model)
    if (db !== null) biasDeltas.set(t.prefix, Float64Array.from(db.dataSync()))
  }
  const out = mkdtempSync(join(dir, `${method}-`))
  await saveAdapter(out, a, model)
  a.dispose()
  disposeGPT(model)
  return { out, deltas, biasDeltas, base, kernels }
}

type M = { shape: readonly number[]; data: Float32Array | Int32Array }
const get = (tensors: ReadonlyMap<string, M>, name: string): M => {
  const t = tensors.get(name)
  if (t === undefined) throw new Error(`no ${name}`)
  return t
}

/** PEFT's Conv1D delta (fan_in_fan_out): (s·B·A)ᵀ, (in, out) row-major, in float64. */
const peftLoraDelta = (A: M, B: M, scaling: number): Float64Array => {
  const [R = 0, inF = 0] = A.shape
  const [outF = 0] = B.shape
  const d = new Float64Array(inF * outF)
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) {
    let s = 0
    for (let r = 0; r < R; r++) s += (B.data[o * R + r] ?? 0) * (A.data[r * inF + i] ?? 0)
    d[i * outF + o] = scaling * s
  }
  return d
}

/** peftlab's ΔW of one projection placed in its HF module's columns. */
const expectBlock = (peft: Float64Array, outF: number, ours: Float64Array | undefined, col0: number, width: number, label: string, tol = 1e-6) => {
  let worst = 0
  const rows = (ours?.length ?? 0) / width
  for (let i = 0; i < rows; i++) for (let o = 0; o < width; o++) worst = Math.max(worst, Math.abs((peft[i * outF + col0 + o] ?? NaN) - (ours?.[i * width + o] ?? NaN)))
  expect(worst, label).toBeLessThan(tol)
}

const ourPrefix = (l: number, p: string) => (p === "mlp_up" ? `h.${l}.mlp.up` : p === "mlp_down" ? `h.${l}.mlp.down` : `h.${l}.attn.${p}`)
const projsOf = (mod: string): string[] => (mod === "attn.c_attn" ? ["q", "k", "v"] : [Object.entries(HF_MODULE).find(([, m]) => m === mod)?.[0] as string])

/** The original W of a GPT-2 module (in, out): c_attn = [q | k | v] along the output. */
const moduleBase = (kernels: ReadonlyMap<string, Float32Array>, l: number, mod: string): { W: Float64Array; outF: number } => {
  const parts = projsOf(mod).map((p) => ({ W: kernels.get(`${ourPrefix(l, p)}.kernel`) as Float32Array, out: p === "mlp_up" ? 4 * C : C }))
  const inF = (parts[0]?.W.length ?? 0) / (parts[0]?.out ?? 1)
  const outF = parts.reduce((n, p) => n + p.out, 0)
  const W = new Float64Array(inF * outF)
  let col = 0
  for (const p of parts) {
    for (let i = 0; i < inF; i++) for (let o = 0; o < p.out; o++) W[i * outF + col + o] = p.W[i * p.out + o]!
    col += p.out
  }
  return { W, outF }
}

describe("PEFT LoRA export", () => {
  it.each([
    ["lora", ["q", "v"]],
    ["lora-plus", ["q", "k", "v", "o", "mlp_up", "mlp_down"]],
    ["lora-fa", ["k", "mlp_down"]],
    ["rslora", ["q", "v", "o"]],
    ["dora", ["q", "v", "mlp_up"]],
    ["pissa", ["q", "k", "v", "o", "mlp_up", "mlp_down"]],
    ["olora", ["v", "mlp_down"]],
    ["delta-lora", ["q", "v", "mlp_down"]],
  ])("%s on %j: PEFT's formula gives peftlab's ΔW in every module, on the original base", async (method, targets) => {
    const rank = 3
    const { out, deltas, base, kernels } = await makeAdapter(method, targets, rank)
    const peft = toPeft(cfg, out, readPeftlabModel(base).params)
    const tensors = new Map(peft.tensors.map((t) => [t.name, t]))
    const conf = peft.config as { r: number; lora_alpha: number; rank_pattern: Record<string, number>; alpha_pattern: Record<string, number>; target_modules: string[]; fan_in_fan_out: boolean; peft_type: string; use_rslora: boolean; use_dora: boolean }
    expect(conf.peft_type).toBe("LORA")
    expect(conf.fan_in_fan_out).toBe(true)
    expect(conf.use_rslora).toBe(method === "rslora")
    expect(conf.use_dora).toBe(method === "dora")
    expect(conf.target_modules).toEqual([...new Set(targets.map((t) => HF_MODULE[t as keyof typeof HF_MODULE]))])
    // PiSSA / OLoRA: [A | A₀], [B | −B₀] (rank 2r); Delta-LoRA: its change, rank min(2r, in, out).
    const perProj = ["pissa", "olora", "delta-lora"].includes(method) ? 2 * rank : rank
    const qkv = targets.filter((t) => ["q", "k", "v"].includes(t))
    for (let l = 0; l < cfg.nLayer; l++) {
      for (const mod of conf.target_modules) {
        const A = get(tensors, `base_model.model.transformer.h.${l}.${mod}.lora_A.weight`)
        const B = get(tensors, `base_model.model.transformer.h.${l}.${mod}.lora_B.weight`)
        const R = conf.rank_pattern[mod] ?? conf.r
        const alpha = conf.alpha_pattern[mod] ?? conf.lora_alpha
        expect(A.shape[0]).toBe(R)
        expect(R).toBe(mod === "attn.c_attn" ? qkv.length * perProj : perProj)
        let d = peftLoraDelta(A, B, conf.use_rslora ? alpha / Math.sqrt(R) : alpha / R)
        const outF = B.shape[0] ?? 0
        if (conf.use_dora) {
          // PEFT's DoRA: W' = (W + ΔW)·diag(m/‖W + ΔW‖) per output column, ΔW' = W' − W.
          const { W } = moduleBase(kernels, l, mod)
          const m = get(tensors, `base_model.model.transformer.h.${l}.${mod}.lora_magnitude_vector`)
          expect(m.shape).toEqual([outF])
          const inF = W.length / outF
          const adapted = W.map((w, i) => w + d[i]!)
          const norm = Array.from({ length: outF }, (_, o) => Math.sqrt(Array.from({ length: inF }, (_, i) => adapted[i * outF + o]! ** 2).reduce((x, y) => x + y, 0)))
          d = adapted.map((x, i) => (x * m.data[i % outF]!) / norm[i % outF]! - W[i]!)
        }
        const tol = method === "delta-lora" ? 1e-5 : 1e-6
        if (mod === "attn.c_attn") ["q", "k", "v"].forEach((p, j) => expectBlock(d, outF, deltas.get(`h.${l}.attn.${p}`) ?? new Float64Array(C * C), j * C, C, `${mod} ${p}`, tol)) // untargeted blocks: exactly 0
        else expectBlock(d, outF, deltas.get(ourPrefix(l, projsOf(mod)[0]!)), 0, outF, mod, tol)
      }
    }
    expect(readFileSync(join(out, "adapter_config.json"), "utf8")).toContain(`"peftlab_method": "${method}"`)
    expect(peft.side).toMatchObject({ peftlab_method: method, rank_per_projection: rank, targets, arch: "gpt2" })
  })

  it("delta-lora: exported on the ORIGINAL base, as LoRA (no base of its own)", async () => {
    const { out, base, kernels } = await makeAdapter("delta-lora", ["q", "v"], 2)
    const exp = join(dir, "delta-export")
    exportArtifact({ provenance: {}, kind: "train", dir: out, modelDir: base }, exp)
    const cfgJson = JSON.parse(readFileSync(join(exp, "adapter_config.json"), "utf8")) as Record<string, unknown>
    expect(cfgJson).toMatchObject({ peft_type: "LORA", r: 8, lora_alpha: 24 }) // q, v at rank 2·2 each on c_attn; α'/R = 24/8 = α/r = 6/2
    expect(cfgJson).not.toHaveProperty("peftlab_method")
    const cAttn = get(readSafetensors(join(exp, "base", "model.safetensors")).tensors, "transformer.h.1.attn.c_attn.weight")
    const q = kernels.get("h.1.attn.q.kernel") as Float32Array
    for (let i = 0; i < C; i++) for (let o = 0; o < C; o++) expect(cAttn.data[i * 3 * C + o]).toBe(q[i * C + o])
    const side = JSON.parse(readFileSync(join(exp, "peftlab_adapter.json"), "utf8")) as { peftlab_method: string; max_abs_dropped: number }
    expect(side.peftlab_method).toBe("delta-lora")
    expect(side.max_abs_dropped).toBeLessThan(1e-6) // rank(ΔW) ≤ 2r: nothing but float rounding left out
  })
})

describe("PEFT Delta-LoRA export before training", () => {
  it("an attach-adapter artifact (no W_T saved) exports as its s·A·B, rank r inside the rank-2r module", async () => {
    const model = initGPT(cfg, 1)
    const settings = resolveSettings(getMethod("delta-lora"), { rank: 2, alpha: 4, targets: ["o"], seed: 2 })
    const a = Adapter.create(getMethod("delta-lora"), cfg, settings, { model })
    for (const t of a.tensors.values()) t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.5, "float32", 3))
    const out = mkdtempSync(join(dir, "delta-attach-"))
    await saveAdapter(out, a) // as attach-adapter saves: no model, no W
    const params = new Map([...model.params].map(([n, v]) => [n, { shape: v.shape, data: Float32Array.from(v.dataSync()) }]))
    const peft = toPeft(cfg, out, params)
    const t = new Map(peft.tensors.map((x) => [x.name, x]))
    const d = peftLoraDelta(get(t, "base_model.model.transformer.h.0.attn.c_proj.lora_A.weight"), get(t, "base_model.model.transformer.h.0.attn.c_proj.lora_B.weight"), (peft.config.lora_alpha as number) / (peft.config.r as number))
    expect(peft.config.r).toBe(4) // always rank 2r: here two of the SVD's columns carry σ ≈ 0

    expectBlock(d, C, Float64Array.from(a.delta(a.targets[0]!).dataSync()), 0, C, "c_proj")
    a.dispose()
    disposeGPT(model)
  })
})

describe("PEFT IA3 export", () => {
  it("(IA)³ on k, v, o, mlp_down: ia3_l (out, 1) with 1 in c_attn's q block, (1, in) for mlp.c_proj (feedforward); PEFT's merge gives peftlab's ΔW and Δb", async () => {
    const targets = ["k", "v", "o", "mlp_down"]
    const { out, deltas, biasDeltas, base, kernels } = await makeAdapter("ia3", targets, 1)
    const peft = toPeft(cfg, out, readPeftlabModel(base).params)
    const t = new Map(peft.tensors.map((x) => [x.name, x]))
    expect(peft.config).toMatchObject({ peft_type: "IA3", target_modules: ["attn.c_attn", "attn.c_proj", "mlp.c_proj"], feedforward_modules: ["mlp.c_proj"], fan_in_fan_out: true })
    const params = readPeftlabModel(base).params
    for (let l = 0; l < cfg.nLayer; l++)
      for (const mod of ["attn.c_attn", "attn.c_proj", "mlp.c_proj"]) {
        const ia3 = get(t, `base_model.model.transformer.h.${l}.${mod}.ia3_l`)
        const { W, outF } = moduleBase(kernels, l, mod)
        const inF = W.length / outF
        const ff = mod === "mlp.c_proj"
        expect(ia3.shape).toEqual(ff ? [1, inF] : [outF, 1])
        // PEFT's merge (fan_in_fan_out): output: W·diag(l), b ⊙ l; feedforward: diag(l)·W, b kept.
        const d = W.map((w, i) => w * ((ff ? ia3.data[Math.floor(i / outF)]! : ia3.data[i % outF]!) - 1))
        if (mod === "attn.c_attn") {
          ;["q", "k", "v"].forEach((p, j) => expectBlock(d, outF, deltas.get(`h.${l}.attn.${p}`) ?? new Float64Array(C * C), j * C, C, `${mod} ${p}`))
          for (let o = 0; o < C; o++) expect(ia3.data[o]).toBe(1) // q untargeted
          ;["k", "v"].forEach((p, j) => {
            const b = params.get(`h.${l}.attn.${p}.bias`)!.data
            const db = biasDeltas.get(`h.${l}.attn.${p}`)!
            for (let o = 0; o < C; o++) expect(Math.abs(b[o]! * (ia3.data[(j + 1) * C + o]! - 1) - db[o]!)).toBeLessThan(1e-6)
          })
        } else expectBlock(d, outF, deltas.get(ourPrefix(l, projsOf(mod)[0]!)), 0, outF, mod)
        if (ff) expect(biasDeltas.has(`h.${l}.mlp.down`)).toBe(false)
      }
  })
})

describe("the Llama module table", () => {
  const llama = { ...cfg, arch: "llama" } as unknown as ModelConfig
  it("LoRA on q, v, mlp_down: one nn.Linear module each under model.layers, fan_in_fan_out false, no fusion", async () => {
    const { out } = await makeAdapter("lora", ["q", "v", "mlp_down"], 2)
    const peft = toPeft(llama, out)
    expect(peft.config).toMatchObject({ r: 2, lora_alpha: 6, fan_in_fan_out: false, target_modules: ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"], rank_pattern: {}, alpha_pattern: {} })
    const names = peft.tensors.map((x) => x.name)
    expect(names).toContain("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")
    expect(names).toContain("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight")
    expect(peft.tensors.find((x) => x.name === "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight")?.shape).toEqual([C, 2])
    expect(peft.side).toMatchObject({ arch: "llama" })
  })
  it("VeRA on q and v is exact there (separate modules): the shared pair passes through", async () => {
    const { out } = await makeAdapter("vera", ["q", "v"], 4)
    const peft = toPeft(llama, out)
    expect(peft.config).toMatchObject({ peft_type: "VERA", target_modules: ["self_attn.q_proj", "self_attn.v_proj"], fan_in_fan_out: false })
    expect(peft.tensors.find((x) => x.name === "base_model.model.model.layers.0.self_attn.v_proj.vera_lambda_b")?.shape).toEqual([C])
  })
  it("refuses an architecture it has no table for", async () => {
    const { out } = await makeAdapter("lora", ["q"], 2)
    expect(() => toPeft({ ...cfg, arch: "mamba" } as unknown as ModelConfig, out)).toThrow(/no PEFT module table for architecture mamba; known: gpt2, llama/)
  })
})

describe("PEFT VeRA export", () => {
  const peftVeraDelta = (A: M, B: M, ld: M, lb: M, inF: number, outF: number): Float64Array => {
    const R = ld.shape[0] ?? 0
    const maxIn = A.shape[1] ?? 0
    const d = new Float64Array(inF * outF)
    for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) {
      let s = 0
      for (let r = 0; r < R; r++) s += (lb.data[o] ?? 0) * (B.data[o * R + r] ?? 0) * (ld.data[r] ?? 0) * (A.data[r * maxIn + i] ?? 0)
      d[i * outF + o] = s
    }
    return d
  }

  it.each([
    [["q", "o", "mlp_up", "mlp_down"]],
    [["k", "o"]],
    [["v"]],
  ])("VeRA on %j: PEFT's formula gives peftlab's ΔW", async (targets) => {
    const { out, deltas } = await makeAdapter("vera", targets, 4)
    const peft = toPeft(cfg, out)
    const t = new Map(peft.tensors.map((x) => [x.name, x]))
    const conf = peft.config as Record<string, unknown>
    // projection_prng_key: the seed the shared projections were drawn from — the adapter's seed (2) unless vera_projection_seed pins it
    expect(conf).toMatchObject({ peft_type: "VERA", r: 4, save_projection: true, projection_prng_key: 2, d_initial: 0.1, fan_in_fan_out: true })
    expect(conf).not.toHaveProperty("lora_alpha")
    const modules = conf.target_modules as string[]
    const dims = (m: string): [number, number] => (m === "attn.c_attn" ? [C, 3 * C] : m === "mlp.c_fc" ? [C, 4 * C] : m === "mlp.c_proj" ? [4 * C, C] : [C, C])
    expect(get(t, "base_model.vera_A").shape).toEqual([4, Math.max(...modules.map((m) => dims(m)[0]))])
    expect(get(t, "base_model.vera_B").shape).toEqual([Math.max(...modules.map((m) => dims(m)[1])), 4])
    for (let l = 0; l < cfg.nLayer; l++)
      for (const p of targets) {
        const mod = HF_MODULE[p as keyof typeof HF_MODULE]
        const [inF, outF] = dims(mod)
        const k = (leaf: string) => get(t, `base_model.model.transformer.h.${l}.${mod}.${leaf}`)
        const d = peftVeraDelta(get(t, "base_model.vera_A"), get(t, "base_model.vera_B"), k("vera_lambda_d"), k("vera_lambda_b"), inF, outF)
        const prefix = p === "mlp_up" ? `h.${l}.mlp.up` : p === "mlp_down" ? `h.${l}.mlp.down` : `h.${l}.attn.${p}`
        const block = ["q", "k", "v"].indexOf(p)
        if (block >= 0) ["q", "k", "v"].forEach((other, j) => expectBlock(d, outF, j === block ? deltas.get(prefix) : new Float64Array(C * C), j * C, C, `${p} in c_attn block ${other}`))
        else expectBlock(d, outF, deltas.get(prefix), 0, outF, p)
      }
  })

  it.each([
    [["q", "v"], /VeRA on q and v cannot be expressed in PEFT on GPT-2: .*one λ_d .*at most one of q, k, v/],
    [["k", "mlp_up"], /VeRA on .* cannot be expressed in PEFT on GPT-2: PEFT reads row 8 of the shared vera_B for both/],
  ])("VeRA on %j is refused, saying why", async (targets, message) => {
    const { out } = await makeAdapter("vera", targets, 4)
    let err: unknown
    try {
      toPeft(cfg, out)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(HfUnsupported)
    expect((err as HfUnsupported).field).toBe("targets")
    expect((err as Error).message).toMatch(message)
  })
})
