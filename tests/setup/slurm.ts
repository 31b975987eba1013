/**
 * vitest global setup: bring up the local Slurm cluster the Slurm executor tests run against
 * (scripts/slurm-up.sh, idempotent, ~1 s), when we are root and the packages are installed.
 * Otherwise nothing happens here and those tests are skipped saying how to start it
 * (tests/setup/facilities.ts; failed instead under PEFTLAB_REQUIRE_ALL=1).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export default function setup(): void {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/slurm-up.sh")
  if (!existsSync(script) || process.getuid?.() !== 0 || !existsSync("/usr/sbin/slurmctld")) return
  const r = spawnSync("bash", [script], { encoding: "utf8" })
  if (r.status !== 0) process.stderr.write(`tests/setup/slurm.ts: scripts/slurm-up.sh failed:\n${r.stderr}`)
}
