/** Adapters on disk: PEFT names and layout, and a bit-exact round trip for every method. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { METHODS } from "../../src/adapters/index.ts"
import { ADAPTER_WEIGHTS, loadAdapter, logicalName, readAdapterConfig, saveAdapter, storedName } from "../../src/adapters/io.ts"
import { Trainer } from "../../src/adapters/trainer.ts"
import { readSafetensors } from "../../src/model/safetensors.ts"
import { disposeGPT, forward, type GPT } from "../../src/model/arch/model.ts"
import { cloneModel, disposeBatch, makeAdapter, makeBatch, makeModel, values, setupBackend } from "./fixtures.ts"

let base: GPT
const dirs: string[] = []
beforeAll(async () => {
  await setupBackend()
  base = makeModel(6)
})
afterAll(() => {
  disposeGPT(base)
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))
})

describe("names", () => {
  it("map our names to PEFT's and back", () => {
    const cases: Array<[string, boolean, string]> = [
      ["h.0.attn.q.lora_A", true, "base_model.model.h.0.attn.q.lora_A.weight"],
      ["h.1.mlp.up.vera_lambda_d", false, "base_model.model.h.1.mlp.up.vera_lambda_d"],
      ["vera_A", true, "base_model.vera_A"],
      ["h.0.attn.v.kernel", true, "base_model.model.h.0.attn.v.base_layer.weight"],
    ]
    for (const [ours, rank2, peft] of cases) {
      expect(storedName(ours, rank2)).toBe(peft)
      expect(logicalName(peft)).toBe(ours)
    }
  })
})

describe.each(METHODS.map((m) => [m.name, m] as const))("%s", (_name, method) => {
  it("saves in PyTorch layout and loads back to identical logits (and W for Delta-LoRA)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peftlab-io-"))
    dirs.push(dir)
    const model = cloneModel(base)
    const a = makeAdapter(method, model)
    const tr = new Trainer(model, a, { weightDecay: 0, gradClip: 0, seed: 0 })
    const b = makeBatch(31)
    for (let t = 0; t < 4; t++) tr.step(b, 1e-2, t)
    await saveAdapter(dir, a, model)
    const cfg = await readAdapterConfig(dir)
    expect(cfg.peftlab_method).toBe(method.name)
    expect(cfg.r).toBe(a.settings.rank)
    const { tensors } = await readSafetensors(join(dir, ADAPTER_WEIGHTS))
    const t0 = a.targets[0]!
    if (method.name === "full") expect(cfg.modified_base).toEqual([...model.params.keys()])
    else if (method.name === "vera") expect(tensors.get("base_model.vera_A")?.shape).toEqual([a.settings.rank, 64])
    else if (method.name === "ia3") expect(tensors.get(`base_model.model.${t0.prefix}.ia3_l`)?.shape).toEqual([t0.dOut])
    else expect(tensors.get(`base_model.model.${t0.prefix}.lora_A.weight`)?.shape).toEqual([a.settings.rank, t0.dIn])
    expect(cfg.modified_base.length > 0).toBe(method.name === "delta-lora" || method.name === "full")

    const fresh = cloneModel(base)
    const loaded = await loadAdapter(dir, fresh)
    const [y0, y1] = [forward(model, b.idx, a.hook(undefined, model)), forward(fresh, b.idx, loaded.hook(undefined, fresh))]
    expect(values(y1)).toEqual(values(y0))
    for (const [k, v] of model.params) expect(values(fresh.params.get(k) as tf.Tensor), k).toEqual(values(v))
    tf.dispose([y0, y1])
    ;[a, loaded].forEach((x) => x.dispose())
    tr.dispose()
    disposeBatch(b)
    ;[model, fresh].forEach(disposeGPT)
  })
})
