/**
 * The seed → randomness rule: a cell's seed (attach-adapter's `seed`) drives every random
 * choice of the cell — each method's random init (LoRA's A, VeRA's shared projections), the
 * dropout masks and the data order; only an explicit `vera_projection_seed` pins the projections.
 * (IA)³, PiSSA and OLoRA have no random init (l = 1; factors of W): seeds vary data and dropout only.
 */
import * as tf from "@tensorflow/tfjs"
import { beforeAll, describe, expect, it } from "vitest"
import { Adapter } from "../../src/adapters/adapter.ts"
import { getMethod, METHODS } from "../../src/adapters/index.ts"
import { batchIndices } from "../../src/model/data/completion-batches.ts"
import { makeModel, setupBackend, settingsFor } from "./fixtures.ts"

beforeAll(() => setupBackend())

const values = (a: Adapter, role: "trainable" | "frozen" | "shared") =>
  a.byRole(role).map((t) => [t.name, Array.from(t.variable.dataSync())] as const)

/** Tensors drawn at random: not constant, and not DoRA's magnitude (m₀ = ‖W‖, a function of W). */
const randomTensors = (a: Adapter) =>
  [...values(a, "trainable"), ...values(a, "frozen"), ...values(a, "shared")].filter(([name, v]) => new Set(v).size > 1 && !name.endsWith(".lora_magnitude_vector"))

describe("seeds drive every random choice", () => {
  /** Full fine-tuning, (IA)³ (l = 1), PiSSA and OLoRA (factors of W) make no random choice at init. */
  const deterministic = ["full", "ia3", "pissa", "olora"]

  it.each(METHODS.map((m) => m.name).filter((n) => !deterministic.includes(n)))("%s: its random init differs across seeds and repeats for the same seed", (name) => {
    const model = makeModel()
    const method = getMethod(name)
    const make = (seed: number) => Adapter.create(method, model.config, settingsFor(name, { seed }), { model })
    const [a1, a1again, a2] = [make(1), make(1), make(2)]
    const r1 = randomTensors(a1)
    expect(r1.length).toBeGreaterThan(0)
    expect(randomTensors(a1again)).toEqual(r1)
    const r2 = new Map(randomTensors(a2))
    for (const [tensor, v] of r1) expect(r2.get(tensor), tensor).not.toEqual(v)
    ;[a1, a1again, a2].forEach((a) => a.dispose())
  })

  it.each(["ia3", "pissa", "olora"])("%s: its init is a function of W alone, the same for every seed", (name) => {
    const model = makeModel()
    const method = getMethod(name)
    const make = (seed: number) => Adapter.create(method, model.config, settingsFor(name, { seed }), { model })
    const [a1, a2] = [make(1), make(2)]
    const all = (a: Adapter) => [...values(a, "trainable"), ...values(a, "frozen")]
    expect(all(a1).length).toBeGreaterThan(0)
    expect(all(a2)).toEqual(all(a1))
    ;[a1, a2].forEach((a) => a.dispose())
  })

  it("VeRA: the shared projections follow the seed unless vera_projection_seed pins them; the used seed is recorded", () => {
    const model = makeModel()
    const vera = getMethod("vera")
    const make = (seed: number, pin?: number) =>
      Adapter.create(vera, model.config, settingsFor("vera", { seed, ...(pin === undefined ? {} : { options: { vera_projection_seed: pin } }) }), { model })
    const shared = (a: Adapter) => values(a, "shared")
    const [s1, s2, p1, p2] = [make(1), make(2), make(1, 7), make(2, 7)]
    expect(shared(s1).map(([n]) => n)).toEqual(["vera_A", "vera_B"])
    expect(shared(s1)[0]?.[1]).not.toEqual(shared(s2)[0]?.[1])
    expect(shared(s1)[1]?.[1]).not.toEqual(shared(s2)[1]?.[1])
    expect(shared(p1)).toEqual(shared(p2))
    expect([s1, s2, p1, p2].map((a) => a.settings.options.vera_projection_seed)).toEqual([1, 2, 7, 7])
    ;[s1, s2, p1, p2].forEach((a) => a.dispose())
  })

  it("dropout masks follow the run seed; data order follows the seed", () => {
    const model = makeModel()
    const lora = getMethod("lora")
    const a = Adapter.create(lora, model.config, settingsFor("lora", { seed: 1, dropout: 0.5 }), { model })
    a.byRole("trainable").forEach((t, i) => t.variable.assign(tf.randomNormal(t.variable.shape, 0, 0.1, "float32", i + 1)))
    const x = tf.randomNormal([4, 16], 0, 1, "float32", 5) as tf.Tensor2D
    const out = (dropoutSeed: number) => Array.from((a.hook({ training: true, dropoutSeed }, model)(x, 0, "q") as tf.Tensor2D).dataSync())
    expect(out(11)).toEqual(out(11))
    expect(out(11)).not.toEqual(out(12))
    expect(batchIndices(100, 8, 1, 0)).toEqual(batchIndices(100, 8, 1, 0))
    expect(batchIndices(100, 8, 1, 0)).not.toEqual(batchIndices(100, 8, 2, 0))
    a.dispose()
    x.dispose()
  })
})
