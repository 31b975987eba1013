/**
 * What a stage instance asks of a cluster: `resources: { cpus, mem, time, gpus, partition }` in
 * a stage of the pipeline YAML, over the CLI's defaults. Validated with the pipeline (exit 2,
 * file:line:col); turned into `sbatch` flags only by the Slurm executor
 * (src/engine/executors/resources.ts). They are not part of the fingerprint — where a stage ran
 * does not change what it computes — except through the backend: an instance asking for GPUs
 * prefers tensorflow (src/engine/backend.ts), and the backend is.
 *
 * - cpus: a positive integer (`-c`)
 * - mem: a positive integer with an optional K/M/G/T suffix, Slurm's `--mem` (`4G`, `500M`)
 * - time: `30m`, `2h`, `1h30m`, `90s`, `1d`, or Slurm's own `MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`
 * - gpus: a non-negative integer (`--gres=gpu:N`); N ≥ 1 makes the instance prefer the tensorflow backend
 * - partition: a partition name (`-p`)
 */
import { Schema } from "effect"

const MEM = /^[1-9][0-9]*[KMGT]?$/
/** `1h30m`-style time limits (each unit optional, in this order). */
export const TIME_UNITS = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/
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
