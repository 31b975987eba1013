/**
 * Our forward pass against an independent numpy implementation (tests/model/arch/parity/
 * make_fixture.py, float64): same weights, same tokens, logits within 1e-5 — on the cpu
 * backend, on wasm with its fast paths, and on native (OpenBLAS and fused kernels).
 */
import { join } from "node:path"
import * as tf from "@tensorflow/tfjs"
import { describe, expect, it } from "vitest"
import { initBackend } from "../../../src/model/kernels/backend.ts"
import { disposeGPT, forward, parameterSpecs, type GPT, type GPTConfig } from "../../../src/model/arch/model.ts"
import { readSafetensors } from "../../../src/model/safetensors.ts"
import { needsHere } from "../../setup/facilities.ts"

const load = (name: string) => {
  const { tensors, metadata } = readSafetensors(join(import.meta.dirname, "parity", `fixture-${name}.safetensors`))
  const config = JSON.parse(metadata.config ?? "{}") as GPTConfig
  const get = (k: string) => {
    const t = tensors.get(k)
    if (t === undefined) throw new Error(`fixture lacks ${k}`)
    return t
  }
  const build = (): GPT => ({
    config,
    params: new Map(parameterSpecs(config).map((s) => [s.name, tf.variable(tf.tensor(get(`weights/${s.name}`).data, [...s.shape]))])),
  })
  return { config, build, idx: get("idx"), logits: get("logits") }
}

describe("parity with the numpy reference", () => {
  for (const backend of ["cpu", "wasm", "native"] as const) {
    for (const name of ["tied", "untied"]) {
      it(`${name} head, ${backend}: logits within 1e-5`, async (ctx) => {
        if (backend === "native") needsHere(ctx, "native")
        await initBackend(backend)
        const f = load(name)
        const model = f.build()
        const ours = tf.tidy(() => forward(model, tf.tensor2d(f.idx.data, [...f.idx.shape] as [number, number], "int32")).dataSync())
        expect(ours.length).toBe(f.logits.data.length)
        let maxDiff = 0
        ours.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (f.logits.data[i] ?? NaN)))))
        expect(maxDiff).toBeLessThan(1e-5)
        disposeGPT(model)
      })
    }
  }
})
