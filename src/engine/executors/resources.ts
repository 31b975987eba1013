/**
 * What a stage instance asks of a cluster: `resources: { cpus, mem, time, gpus, partition }` in
 * a stage of the pipeline YAML, over the CLI's defaults. Validated with the pipeline (exit 2,
 * file:line:col); turned into `sbatch` flags only by the Slurm executor. They are not part of
 * the fingerprint: where a stage ran does not change what it computes.
 *
 * - cpus: a positive integer (`-c`)
 * - mem: a positive integer with an optional K/M/G/T suffix, Slurm's `--mem` (`4G`, `500M`)
 * - time: `30m`, `2h`, `1h30m`, `90s`, `1d`, or Slurm's own `MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`
 * - gpus: a non-negative integer (`--gres=gpu:N`); the worker then prefers the tensorflow backend
 * - partition: a partition name (`-p`)
 */
import { Schema } from "effect"

const MEM = /^[1-9][0-9]*[KMGT]?$/
const TIME_UNITS = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/
const TIME_SLURM = /^(?:\d+-\d{1,2}(?::\d{1,2}){0,2}|\d+(?::\d{1,2}){0,2})$/
const PARTITION = /^[A-Za-z0-9_.-]+$/

const isTime = (s: string): boolean => (TIME_UNITS.test(s) && s.length > 0) || TIME_SLURM.test(s)

export const Resources = Schema.Struct({
  cpus: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  mem: Schema.optionalKey(Schema.String.check(Schema.isPattern(MEM, { expected: "a memory size like 4G, 500M or 1024 (MB)" }))),
  time: Schema.optionalKey(Schema.String.check(Schema.makeFilter(isTime, { expected: "a time limit like 30m, 2h, 1h30m or Slurm's HH:MM:SS" }))),
  gpus: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  partition: Schema.optionalKey(Schema.String.check(Schema.isPattern(PARTITION, { expected: "a partition name" }))),
})
export type Resources = typeof Resources.Type

export const RESOURCE_KEYS = ["cpus", "mem", "time", "gpus", "partition"] as const

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
