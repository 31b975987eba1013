/** The tfjs-free method specs are the one place a method's name, defaults and options live. */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { METHODS } from "../../src/adapters/index.ts"
import { allOptions, methodModules, SPECS } from "../../src/adapters/specs/index.ts"
import { structKeys } from "../../src/pipeline/decode.ts"
import { AttachParams } from "../../stages/attach-adapter/params.ts"

describe("method specs", () => {
  it("list the same methods, in the same order, as the maths registry; each Method spreads its spec", () => {
    expect(SPECS.map((s) => s.name)).toEqual(METHODS.map((m) => m.name))
    for (const [i, spec] of SPECS.entries()) {
      const m = METHODS[i]!
      expect({ name: m.name, peftType: m.peftType, defaults: m.defaults, options: m.options, module: m.module }).toEqual({
        name: spec.name, peftType: spec.peftType, defaults: spec.defaults, options: spec.options, module: spec.module,
      })
    }
  })

  it("name their own files: the spec and the maths file that exports the Method", async () => {
    for (const spec of SPECS) {
      const [specFile, mathsFile] = methodModules(spec.name)
      expect(fileURLToPath(specFile!)).toMatch(new RegExp(`src/adapters/specs/${spec.name}\\.ts$`))
      const exported = Object.values((await import(mathsFile!)) as Record<string, unknown>)
      expect(exported.some((v) => typeof v === "object" && v !== null && (v as { name?: unknown }).name === spec.name && "init" in v)).toBe(true)
    }
  })

  it("option keys are unique across methods, and each is a field of attach-adapter's params", () => {
    const keys = allOptions().map(([k]) => k)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys.sort()).toEqual(["delta_k", "delta_lambda", "lorafa_projection", "loraplus_ratio", "vera_d_init", "vera_projection_seed"])
    for (const k of keys) expect(structKeys(AttachParams)).toContain(k)
  })
})
