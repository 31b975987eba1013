/** Resolving what a pipeline asked for into complete `AdapterSettings`, method defaults applied. */
import { HF_PROJ_NAMES, PROJ_NAMES, projByName, type ProjName } from "../model/arch/config.ts"
import type { AdapterSettings, Method, OptionValue } from "./method.ts"

export interface SettingsRequest {
  readonly rank?: number | undefined
  readonly alpha?: number | undefined
  readonly targets?: ReadonlyArray<string> | undefined
  readonly dropout?: number | undefined
  readonly seed?: number | undefined
  /** Every method-specific key the pipeline set; keys of other methods are ignored. */
  readonly options?: Readonly<Record<string, OptionValue | undefined>> | undefined
}

export const DEFAULT_TARGETS: ReadonlyArray<ProjName> = ["q", "v"]

export const resolveSettings = (method: Method, req: SettingsRequest): AdapterSettings => {
  const rank = req.rank ?? method.defaults.rank
  const dropout = req.dropout ?? method.defaults.dropout
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`rank must be a positive integer, got ${rank}`)
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${dropout}`)
  // Either spelling (q or q_proj, mlp_gate or gate_proj): one canonical name, so both cache alike downstream.
  const asked = req.targets ?? DEFAULT_TARGETS
  const bad = asked.filter((t) => projByName(t) === undefined)
  if (bad.length > 0) throw new Error(`unknown target projection ${bad.join(", ")}; known: ${PROJ_NAMES.map((p) => `${p} (${HF_PROJ_NAMES[p]})`).join(", ")}`)
  const targets = asked.map((t) => projByName(t))
  if (targets.length === 0) throw new Error("targets is empty: adapt at least one projection")
  const options: Record<string, OptionValue> = {}
  for (const [key, spec] of Object.entries(method.options)) {
    const v = req.options?.[key] ?? spec.default
    if (typeof v !== typeof spec.default) throw new Error(`${key} must be a ${typeof spec.default}, got ${JSON.stringify(v)}`)
    options[key] = v
  }
  const s: AdapterSettings = {
    method: method.name,
    rank,
    alpha: req.alpha ?? method.defaults.alpha,
    targets: PROJ_NAMES.filter((p) => targets.includes(p)),
    dropout,
    seed: req.seed ?? 0,
    options,
  }
  return method.normalize?.(s) ?? s
}
