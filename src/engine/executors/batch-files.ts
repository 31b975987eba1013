/**
 * The files of one Slurm job (a batch of instances) in the shared runs directory:
 * `runs/slurm/<run id>/<batch>/` holds `batch.json` (the jobs), `job.sh`, `slurm.out`, and per
 * job i `<i>.events` (JSON lines, appended) and `<i>.exit` (the outcome, written by rename).
 */
import * as path from "node:path"
import type { Job } from "../protocol.ts"

export interface BatchFile {
  readonly jobs: ReadonlyArray<Job>
}

export const batchFile = (dir: string): string => path.join(dir, "batch.json")
export const eventsFile = (dir: string, i: number): string => path.join(dir, `${i}.events`)
export const exitFile = (dir: string, i: number): string => path.join(dir, `${i}.exit`)
