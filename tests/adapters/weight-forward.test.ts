/**
 * A method may fold its ΔW into the kernel for the forward pass (`Method.weightForward`, VeRA):
 * y = x·(W + ΔW) + b instead of x·W + b + forward(x). The two forms must be one function with
 * the same gradients — the folded one is what trains by default, the unfolded one what runs with
 * dropout — so this holds each method that folds against its own `forward`, on cpu.
 */
import * as tf from "@tensorflow/tfjs"
import { beforeAll, describe, expect, it } from "vitest"
import { Adapter } from "../../src/adapters/adapter.ts"
import { METHODS } from "../../src/adapters/index.ts"
import { forward, maskedCrossEntropy, type ProjectionHook } from "../../src/model/arch/model.ts"
import { makeBatch, makeModel, setupBackend, settingsFor } from "./fixtures.ts"

beforeAll(() => setupBackend("cpu"))

const folding = METHODS.filter((m) => m.weightForward !== undefined).map((m) => m.name)

describe("weightForward: the folded form equals the method's forward", () => {
  it("VeRA folds (its r = 256 products are wider than the layer)", () => expect(folding).toContain("vera"))

  it.each(folding)("%s: logits and every trainable gradient agree; dropout turns folding off", (name) => {
    const model = makeModel()
    const method = METHODS.find((m) => m.name === name)!
    const a = Adapter.create(method, model.config, settingsFor(name), { model })
    // Non-trivial trained values (b starts at 0, which would make ΔW = 0).
    a.byRole("trainable").forEach((t, i) => t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.3, "float32", i + 11)))
    const folded = a.hook(undefined, model)
    // The same adapter with the method's own forward: strip the fold.
    const unfolded: ProjectionHook = (x, layer, proj) => {
      const t = a.target(layer, proj)
      return t === undefined ? null : method.forward(a.view(t, model), x, a.settings, { training: false, dropoutSeed: 0 })
    }
    const b = makeBatch(5)
    const run = (hook: ProjectionHook) => {
      const { value, grads } = tf.variableGrads(() => maskedCrossEntropy(forward(model, b.idx, hook), b.targets, b.mask), a.trainableVars())
      const logits = tf.tidy(() => Array.from(forward(model, b.idx, hook).dataSync()))
      return { loss: value.dataSync()[0]!, logits, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])) }
    }
    const [f, u] = [run(folded), run(unfolded)]
    expect(Math.abs(f.loss - u.loss)).toBeLessThan(1e-5)
    f.logits.forEach((v, i) => expect(Math.abs(v - u.logits[i]!)).toBeLessThan(1e-4))
    expect(Object.keys(f.grads).sort()).toEqual(Object.keys(u.grads).sort())
    for (const [k, g] of Object.entries(f.grads)) {
      const scale = Math.max(...g.map(Math.abs))
      expect(scale, k).toBeGreaterThan(0)
      g.forEach((v, i) => expect(Math.abs(v - u.grads[k]![i]!), k).toBeLessThan(1e-4 * Math.max(1, scale)))
    }
    // With dropout while training, forward(x) ≠ x·ΔW: the method must not fold.
    const withDropout = Adapter.create(method, model.config, settingsFor(name, { dropout: 0.1 }), { model })
    const t0 = withDropout.targets[0]!
    expect(method.weightForward!(withDropout.view(t0, model), withDropout.settings, { training: true, dropoutSeed: 1 })).toBeNull()
    ;[a, withDropout].forEach((x) => x.dispose())
  })
})
