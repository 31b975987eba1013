/**
 * `gpus ≥ 1` → the instance prefers the tensorflow backend (engine/backend.ts). tfjs-node-gpu
 * cannot be installed here, so the probe ("does it load?") is faked at its boundary; the plan
 * then shows what the fingerprint records.
 */
import { describe, expect, it } from "vitest"
import { resolveBackends } from "../../../src/engine/backend.ts"
import type { Field } from "../../../src/contracts/fields.ts"
import { kindsOf } from "../../../src/engine/registry.ts"
import { makePlan } from "../../../src/engine/run-pipeline.ts"
import { compileText } from "../../../src/pipeline/compile.ts"
import type { Pipeline } from "../../../src/pipeline/compile.ts"
import { PipelineInvalid } from "../../../src/pipeline/problems.ts"
import { registry } from "../../fixtures/registry.ts"
import { ROOT } from "../../cli/helpers.ts"

/*
 *   src ──▶ gpu (gpus: 1) ──▶ after
 *      └──▶ cpu (gpus: 0)
 */
const pipeline = (): Pipeline => {
  const p = compileText("p.yaml", `name: p
stages:
  src: { kind: fake-source }
  gpu: { kind: fake-step, needs: { source: src }, params: { value: 1 }, resources: { gpus: 1 } }
  cpu: { kind: fake-step, needs: { source: src }, params: { value: 2 }, resources: { gpus: 0, cpus: 1 } }
  after: { kind: fake-step, needs: { source: gpu } }
`, kindsOf(registry))
  if (p instanceof PipelineInvalid) throw new Error(p.message)
  return p
}

const probe = (answer: boolean) => {
  const calls: Array<true> = []
  return { calls, tensorflow: async () => (calls.push(true), answer) }
}

const backendField = (fields: ReadonlyArray<Field>): unknown => fields.find(([k]) => k === "backend")?.[1]

describe("gpus → tensorflow backend", () => {
  it("tensorflow loads: only the instances asking for GPUs get it, and their fingerprints (and their consumers') say so", async () => {
    const p = pipeline()
    const fake = probe(true)
    const said: Array<string> = []
    const backends = await resolveBackends("cpu", { instances: p.instances, defaults: {}, tensorflow: fake.tensorflow, say: (l) => said.push(l) })
    expect(fake.calls).toHaveLength(1)
    expect(said).toEqual([])
    expect(Object.fromEntries(p.instances.map((i) => [i.id, backends.of(i)]))).toEqual({ src: "cpu", gpu: "tensorflow", cpu: "cpu", after: "cpu" })
    const plain = makePlan(undefined, { pipeline: p, projectDir: ROOT, backend: "cpu", force: () => false })
    const gpu = makePlan(undefined, { pipeline: p, projectDir: ROOT, backend: backends.run, backendOf: backends.of, force: () => false })
    expect(gpu.map((x) => [x.instance.id, backendField(x.fields)])).toEqual([["src", "cpu"], ["gpu", "tensorflow"], ["cpu", "cpu"], ["after", "cpu"]])
    const changed = gpu.filter((x, i) => x.fingerprint !== plain[i]!.fingerprint).map((x) => x.instance.id)
    // `after` runs on cpu, but its input was computed on tensorflow: a different cache entry.
    expect(changed).toEqual(["gpu", "after"])
  })

  it("tensorflow does not load: the run's backend for every instance, said once, fingerprints as without GPUs", async () => {
    const p = pipeline()
    const fake = probe(false)
    const said: Array<string> = []
    const backends = await resolveBackends("cpu", { instances: p.instances, defaults: {}, tensorflow: fake.tensorflow, say: (l) => said.push(l) })
    expect(p.instances.map((i) => backends.of(i))).toEqual(["cpu", "cpu", "cpu", "cpu"])
    expect(said).toEqual(["peftlab: gpu asks for GPUs, but @tensorflow/tfjs-node-gpu does not load here: it runs on cpu, like the rest of the run"])
    const plain = makePlan(undefined, { pipeline: p, projectDir: ROOT, backend: "cpu", force: () => false })
    const fallback = makePlan(undefined, { pipeline: p, projectDir: ROOT, backend: backends.run, backendOf: backends.of, force: () => false })
    expect(fallback.map((x) => x.fingerprint)).toEqual(plain.map((x) => x.fingerprint))
  })

  it("--resources gpus=1 is every stage's default; a stage's own gpus: 0 wins", async () => {
    const p = pipeline()
    const backends = await resolveBackends("cpu", { instances: p.instances, defaults: { gpus: 1 }, tensorflow: probe(true).tensorflow })
    expect(p.instances.map((i) => [i.id, backends.of(i)])).toEqual([["src", "tensorflow"], ["gpu", "tensorflow"], ["cpu", "cpu"], ["after", "tensorflow"]])
  })

  it("no instance asks for GPUs: the probe is never asked (no tfjs import in the coordinator)", async () => {
    const p = pipeline()
    const fake = probe(true)
    const backends = await resolveBackends("cpu", { instances: p.instances.filter((i) => i.id !== "gpu"), defaults: { gpus: 0 }, tensorflow: fake.tensorflow })
    expect(fake.calls).toEqual([])
    expect(p.instances.map((i) => backends.of(i))).toEqual(["cpu", "cpu", "cpu", "cpu"])
  })
})
