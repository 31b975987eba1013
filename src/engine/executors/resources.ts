/**
 * A stage's `resources` (the schema is the pipeline's: src/pipeline/resources.ts) as Slurm reads
 * them: `sbatch` flags, the key of the jobs that may share an allocation, and the CLI's defaults.
 */
import { Schema } from "effect"
import { RESOURCE_KEYS, Resources, TIME_UNITS } from "../../pipeline/resources.ts"

export type { Resources }

/** `30m` → `30`, `1h30m` → `90`, `90s` → `2` (minutes, rounded up); Slurm's own formats pass through. */
export const slurmTime = (time: string): string => {
  const m = TIME_UNITS.exec(time)
  if (m === null || time.length === 0) return time
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number]
  return String(Math.max(1, Math.ceil(d * 1440 + h * 60 + min + s / 60)))
}

/** The sbatch flags for a resource request (stage values over the defaults). */
export const sbatchFlags = (r: Resources): ReadonlyArray<string> => [
  ...(r.cpus !== undefined ? [`--cpus-per-task=${r.cpus}`] : []),
  ...(r.mem !== undefined ? [`--mem=${r.mem}`] : []),
  ...(r.time !== undefined ? [`--time=${slurmTime(r.time)}`] : []),
  ...(r.gpus !== undefined && r.gpus > 0 ? [`--gres=gpu:${r.gpus}`] : []),
  ...(r.partition !== undefined ? [`--partition=${r.partition}`] : []),
]

/** A stable key: instances with equal keys may share one Slurm job. */
export const resourceKey = (r: Resources): string => RESOURCE_KEYS.map((k) => `${k}=${r[k] ?? ""}`).join(",")

/** `cpus=2,mem=4G,time=30m` (the CLI's defaults) → resources, or what is wrong with it. */
export const parseResources = (text: string): Resources | string => {
  const raw: Record<string, unknown> = {}
  for (const part of text.split(",").filter((p) => p !== "")) {
    const [key = "", value] = part.split("=")
    if (!(RESOURCE_KEYS as ReadonlyArray<string>).includes(key) || value === undefined) return `expected key=value pairs with keys ${RESOURCE_KEYS.join(", ")}, got "${part}"`
    raw[key] = key === "cpus" || key === "gpus" ? (/^\d+$/.test(value) ? Number(value) : value) : value
  }
  const decoded = Schema.decodeUnknownExit(Resources)(raw)
  if (decoded._tag === "Success") return decoded.value
  return String(decoded.cause).split("\n")[0] ?? "invalid resources"
}
