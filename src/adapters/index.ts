/**
 * The registry: the only list of methods. Adding one (DoRA) = its file + one line here.
 */
import { deltaLoRA } from "./delta-lora.ts"
import { dora } from "./dora.ts"
import { full } from "./full.ts"
import { ia3 } from "./ia3.ts"
import { lora } from "./lora.ts"
import { loraFA } from "./lora-fa.ts"
import { loraPlus } from "./lora-plus.ts"
import type { Method } from "./method.ts"
import { olora } from "./olora.ts"
import { pissa } from "./pissa.ts"
import { rsLoRA } from "./rslora.ts"
import { vera } from "./vera.ts"

export const METHODS: ReadonlyArray<Method> = [lora, loraFA, vera, deltaLoRA, loraPlus, full, dora, rsLoRA, ia3, pissa, olora]

export const methodNames = (): string[] => METHODS.map((m) => m.name)

export const getMethod = (name: string): Method => {
  const m = METHODS.find((x) => x.name === name)
  if (m === undefined) throw new Error(`unknown PEFT method "${name}"; known: ${methodNames().join(", ")}`)
  return m
}
