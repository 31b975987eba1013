/**
 * The tfjs-free list of methods (what `peftlab status` checks pipelines against). Adding a
 * method (DoRA) = its spec file here + one line below, its maths file + one line in ../index.ts.
 */
import { didYouMean } from "../../pipeline/suggest.ts"
import type { MethodSpec, OptionSpec, OptionValue } from "../method-spec.ts"
import { deltaLoRASpec } from "./delta-lora.ts"
import { doraSpec } from "./dora.ts"
import { fullSpec } from "./full.ts"
import { ia3Spec } from "./ia3.ts"
import { loraSpec } from "./lora.ts"
import { loraFASpec } from "./lora-fa.ts"
import { loraPlusSpec } from "./lora-plus.ts"
import { oloraSpec } from "./olora.ts"
import { pissaSpec } from "./pissa.ts"
import { rsLoRASpec } from "./rslora.ts"
import { veraSpec } from "./vera.ts"

export const SPECS: ReadonlyArray<MethodSpec> = [loraSpec, loraFASpec, veraSpec, deltaLoRASpec, loraPlusSpec, fullSpec, doraSpec, rsLoRASpec, ia3Spec, pissaSpec, oloraSpec]

export const specNames = (): ReadonlyArray<string> => SPECS.map((s) => s.name)

export const findSpec = (name: string): MethodSpec | undefined => SPECS.find((s) => s.name === name)

/** Why `name` is not a method, or undefined when it is. */
export const unknownMethod = (name: string): string | undefined =>
  findSpec(name) !== undefined ? undefined : `unknown PEFT method "${name}"${didYouMean(name, specNames())}; known: ${specNames().join(", ")}`

/** Every method option by key (keys are unique across methods; a test holds them to it). */
export const allOptions = (): ReadonlyArray<readonly [key: string, option: OptionSpec, method: string]> =>
  SPECS.flatMap((s) => Object.entries(s.options).map(([k, o]) => [k, o, s.name] as const))

/**
 * The two method registries (this list and ../index.ts): a stage that reaches them does not
 * depend on every method; its instances depend on their own method's files (`methodModules`).
 */
export const METHOD_REGISTRIES: ReadonlyArray<string> = [import.meta.url, new URL("../index.ts", import.meta.url).href]

/** The spec file and the maths file of a method: what an instance of it runs. */
export const methodModules = (name: string): ReadonlyArray<string> => {
  const spec = findSpec(name)
  return spec === undefined ? [] : [spec.specModule, spec.module]
}

/** The options of `method` that `params` sets (unset ones left out; other methods' keys ignored). */
export const methodOptions = (method: string, params: Readonly<Record<string, unknown>>): Readonly<Record<string, OptionValue>> => {
  const out: Record<string, OptionValue> = {}
  for (const key of Object.keys(findSpec(method)?.options ?? {})) {
    const v = params[key]
    if (typeof v === "number" || typeof v === "boolean") out[key] = v
  }
  return out
}
