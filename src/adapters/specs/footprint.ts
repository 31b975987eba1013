/**
 * A method's footprint (its spec's `footprint`) on a model config → the estimator's input
 * (src/model/arch/memory.ts). tfjs-free: `peftlab status` calls it for every train instance.
 */
import { parameterCount, projByName, projDims, PROJ_NAMES, type ModelConfig, type ProjName } from "../../model/arch/config.ts"
import type { TrainMemoryInput } from "../../model/arch/memory.ts"
import { findSpec } from "./index.ts"

export interface TrainShapeRequest {
  readonly config: ModelConfig
  readonly batch: number
  readonly seq: number
  readonly headRows: number
  readonly method: string
  /** Unset: the method's default. */
  readonly rank?: number | undefined
  /** Either spelling (q or q_proj); unset: q and v (settings.ts's DEFAULT_TARGETS). */
  readonly targets?: ReadonlyArray<string> | undefined
  readonly dropout?: number | undefined
}

/** The estimator's input for a train of `method`; throws on an unknown method (plan time has already refused it). */
export const trainMemoryInput = (r: TrainShapeRequest): TrainMemoryInput => {
  const spec = findSpec(r.method)
  if (spec === undefined) throw new Error(`unknown method ${r.method}`)
  const f = spec.footprint
  const rank = r.rank ?? spec.defaults.rank
  const asked = (r.targets ?? ["q", "v"]).map(projByName).filter((p): p is ProjName => p !== undefined)
  const targets = f.form === "full" ? [] : PROJ_NAMES.filter((p) => asked.includes(p))
  const perLayer = targets.map((proj) => ({ proj, dims: projDims(r.config, proj) }))
  const dims = Array.from({ length: r.config.nLayer }, () => perLayer.map((t) => t.dims)).flat()
  const counts = f.counts(Array.from({ length: r.config.nLayer }, () => perLayer.map(({ proj, dims: [dIn, dOut] }) => ({ proj, dIn, dOut }))).flat(), rank)
  const P = parameterCount(r.config)
  const modifiedBase = f.writesBase === "all" ? P : f.writesBase === "targets" ? dims.reduce((n, [dIn, dOut]) => n + dIn * dOut, 0) : 0
  return {
    config: r.config,
    batch: r.batch,
    seq: r.seq,
    headRows: r.headRows,
    adapter: {
      form: f.form,
      targets,
      rank,
      dropout: r.dropout ?? spec.defaults.dropout,
      trainable: f.form === "full" ? P : counts.trainable,
      frozen: counts.frozen,
      modifiedBase,
    },
  }
}

/** An adapter as plan time knows it: attach-adapter's `facts` (its params as the pipeline set them). */
export interface AdapterFacts {
  readonly method: string
  readonly rank?: number | undefined
  readonly targets?: ReadonlyArray<string> | undefined
  readonly dropout?: number | undefined
}
