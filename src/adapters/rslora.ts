/**
 * rsLoRA (Kalajdzievski, arXiv 2312.03732): LoRA with the rank-stabilized scaling s = α/√r
 * instead of α/r. The paper shows α/r makes the adapter's learning slow down as r grows (the
 * gradient of B·A shrinks like 1/r), while α/√r keeps the updates' scale stable in r, so a
 * higher rank keeps helping. Parametrization, init and counts are LoRA's (PEFT: `use_rslora`).
 */
import { loraFamily } from "./lora.ts"
import type { AdapterSettings, Method } from "./method.ts"
import { rsLoRASpec } from "./specs/rslora.ts"

export const rsLoRAScaling = (s: AdapterSettings): number => s.alpha / Math.sqrt(s.rank)

export const rsLoRA: Method = {
  ...rsLoRASpec,
  ...loraFamily("trainable", rsLoRAScaling),
}
