/**
 * LoRA+ (Hayou et al., ICML 2024, arXiv 2402.12354): LoRA's parametrization and init, with
 * B's learning rate λ·lr while A keeps lr. Default λ = 16 (the paper's rule of thumb).
 * As in PEFT, trainable 1-D tensors would go with B; our adapters have none.
 * Separate optimizer groups keep the moment slots in a fixed order (docs/METHODS.md §5).
 */
import type { ParamGroup } from "../model/adamw.ts"
import { loraFamily } from "./lora.ts"
import type { Method } from "./method.ts"
import { loraPlusSpec } from "./specs/lora-plus.ts"

export const loraPlus: Method = {
  ...loraPlusSpec,
  ...loraFamily("trainable"),
  training: {
    paramGroups: (a, weightDecay): ParamGroup[] => {
      const ratio = Number(a.settings.options.loraplus_ratio)
      const of = (suffix: string) => a.byRole("trainable").filter((t) => t.name.endsWith(suffix)).map((t) => t.variable)
      return [
        { name: "lora_A", vars: of(".lora_A"), lrScale: 1, weightDecay },
        { name: "lora_B", vars: of(".lora_B"), lrScale: ratio, weightDecay },
      ]
    },
  },
}
