/**
 * Export without Python: the GPT-2 folder holds transformers' own tensors bit for bit after an
 * import/export round trip, and the PEFT adapters reproduce peftlab's ΔW under PEFT's own
 * formulas (LoRA with fan_in_fan_out: ΔW = (lora_alpha/r)·(B·A)ᵀ with rank_pattern/alpha_pattern;
 * VeRA: ΔW = ((λ_b ⊙ vera_B[:out]) · (λ_d ⊙ vera_A[:, :in]))ᵀ). bench/hf-interop.sh checks the
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
import { disposeGPT, initGPT, param, type GPTConfig } from "../../src/model/arch/model.ts"
import { HfUnsupported } from "../../src/hf/config.ts"
import { exportArtifact } from "../../src/hf/export.ts"
import { importHfFolder } from "../../src/hf/folder.ts"
import { HF_MODULE, toPeft } from "../../src/hf/peft.ts"
import { readSafetensors, saveModel } from "../../src/model/safetensors.ts"

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

/** A trained-looking adapter (every tensor random, B too) saved in peftlab's format; returns its ΔW per target, (d_in, d_out). */
const makeAdapter = async (method: string, targets: string[], rank: number) => {
  const model = initGPT(cfg, 1)
  const settings = resolveSettings(getMethod(method), { rank, alpha: 3 * rank, targets, seed: 2 })
  const a = Adapter.create(getMethod(method), cfg, settings, { model })
  let k = 7
  for (const t of a.tensors.values()) if (t.role === "trainable") t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.5, "float32", k++))
  const deltas = new Map<string, Float64Array>()
  for (const t of a.targets) deltas.set(t.prefix, Float64Array.from(a.delta(t, model).dataSync()))
  if (method === "delta-lora") for (const t of a.targets) param(model, `${t.prefix}.kernel`).assign(tf.randomNormal([t.dIn, t.dOut], 0, 1, "float32", k++))
  const out = mkdtempSync(join(dir, `${method}-`))
  await saveAdapter(out, a, model)
  const base = mkdtempSync(join(dir, `base-`))
  saveModel(base, model)
  copyFileSync(join(FIX, "gpt2-tied", "tokenizer.json"), join(base, "tokenizer.json")) // any tokenizer: export copies it
  const kernels = new Map([...model.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]))
  a.dispose()
  disposeGPT(model)
  return { out, deltas, base, kernels }
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
const expectBlock = (peft: Float64Array, outF: number, ours: Float64Array | undefined, col0: number, width: number, label: string) => {
  let worst = 0
  const rows = (ours?.length ?? 0) / width
  for (let i = 0; i < rows; i++) for (let o = 0; o < width; o++) worst = Math.max(worst, Math.abs((peft[i * outF + col0 + o] ?? NaN) - (ours?.[i * width + o] ?? NaN)))
  expect(worst, label).toBeLessThan(1e-6)
}

describe("PEFT LoRA export", () => {
  it.each([
    ["lora", ["q", "v"]],
    ["lora-plus", ["q", "k", "v", "o", "mlp_up", "mlp_down"]],
    ["lora-fa", ["k", "mlp_down"]],
  ])("%s on %j: PEFT's formula gives peftlab's ΔW in every module", async (method, targets) => {
    const rank = 3
    const { out, deltas } = await makeAdapter(method, targets, rank)
    const peft = toPeft(cfg, out)
    const tensors = new Map(peft.tensors.map((t) => [t.name, t]))
    const conf = peft.config as { r: number; lora_alpha: number; rank_pattern: Record<string, number>; alpha_pattern: Record<string, number>; target_modules: string[]; fan_in_fan_out: boolean; peft_type: string }
    expect(conf.peft_type).toBe("LORA")
    expect(conf.fan_in_fan_out).toBe(true)
    expect(conf.target_modules).toEqual([...new Set(targets.map((t) => HF_MODULE[t as keyof typeof HF_MODULE]))])
    const qkv = targets.filter((t) => ["q", "k", "v"].includes(t))
    for (let l = 0; l < cfg.nLayer; l++) {
      for (const mod of conf.target_modules) {
        const A = get(tensors, `base_model.model.transformer.h.${l}.${mod}.lora_A.weight`)
        const B = get(tensors, `base_model.model.transformer.h.${l}.${mod}.lora_B.weight`)
        const R = conf.rank_pattern[mod] ?? conf.r
        const alpha = conf.alpha_pattern[mod] ?? conf.lora_alpha
        expect(A.shape[0]).toBe(R)
        const d = peftLoraDelta(A, B, alpha / R)
        const outF = B.shape[0] ?? 0
        if (mod === "attn.c_attn") {
          expect(R).toBe(qkv.length * rank)
          ;["q", "k", "v"].forEach((p, j) => {
            const ours = deltas.get(`h.${l}.attn.${p}`) ?? new Float64Array(C * C) // untargeted blocks must be exactly 0
            expectBlock(d, outF, ours, j * C, C, `${mod} ${p}`)
          })
        } else {
          const p = Object.entries(HF_MODULE).find(([, m]) => m === mod)?.[0]
          const prefix = p === "o" ? `h.${l}.attn.o` : p === "mlp_up" ? `h.${l}.mlp.up` : `h.${l}.mlp.down`
          expect(R).toBe(rank)
          expectBlock(d, outF, deltas.get(prefix), 0, outF, mod)
        }
      }
    }
    expect(readFileSync(join(out, "adapter_config.json"), "utf8")).toContain(`"peftlab_method": "${method}"`)
    expect(peft.side).toMatchObject({ peftlab_method: method, rank_per_projection: rank, targets })
  })

  it("delta-lora: a LoRA adapter plus its trained W in the exported base (c_attn carries the new q)", async () => {
    const { out, base, kernels } = await makeAdapter("delta-lora", ["q", "v"], 2)
    const exp = join(dir, "delta-export")
    exportArtifact({ provenance: {}, kind: "train", dir: out, modelDir: base }, exp)
    const cfgJson = JSON.parse(readFileSync(join(exp, "adapter_config.json"), "utf8")) as Record<string, unknown>
    expect(cfgJson.peft_type).toBe("LORA")
    expect(cfgJson).not.toHaveProperty("peftlab_method")
    const cAttn = get(readSafetensors(join(exp, "base", "model.safetensors")).tensors, "transformer.h.1.attn.c_attn.weight")
    const q = kernels.get("h.1.attn.q.kernel") as Float32Array
    for (let i = 0; i < C; i++) for (let o = 0; o < C; o++) expect(cAttn.data[i * 3 * C + o]).toBe(q[i * C + o])
    expect(JSON.parse(readFileSync(join(exp, "peftlab_adapter.json"), "utf8"))).toMatchObject({ peftlab_method: "delta-lora", updated_base: ["h.0.attn.q.kernel", "h.0.attn.v.kernel", "h.1.attn.q.kernel", "h.1.attn.v.kernel"] })
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
