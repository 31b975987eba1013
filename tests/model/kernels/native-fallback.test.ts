/**
 * Where the native addon is missing (no OpenBLAS at install), `auto` falls back to wasm and says
 * why once, in one line; `--backend native` is exit 2 with the same reason. The real CLI, with
 * PEFTLAB_NATIVE_ADDON pointing at an addon that does not exist.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { ROOT } from "../../cli/helpers.ts"

const tmp = mkdtempSync(path.join(os.tmpdir(), "peftlab-native-"))
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/main.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PEFTLAB_NATIVE_ADDON: path.join(tmp, "build", "peftlab_blas.node"), PEFTLAB_RUNS_DIR: path.join(tmp, "runs") },
  })

describe("native fallback", () => {
  it("--backend native without the addon: exit 2 with the reason and how to get it", () => {
    const r = cli("status", "pipelines/quick.yaml", "--backend", "native")
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^backend native is unavailable: .*libopenblas-dev/m)
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/) // no stack trace
  })

  it("auto without the addon: runs on wasm, saying why once in one line", () => {
    const first = cli("status", "pipelines/quick.yaml")
    expect(first.status).toBe(0)
    const notes = first.stderr.split("\n").filter((l) => l.includes("native"))
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatch(/^peftlab: using wasm, native is unavailable: .*libopenblas-dev/)
    const second = cli("status", "pipelines/quick.yaml")
    expect(second.status).toBe(0)
    expect(second.stderr).not.toMatch(/native/)
  })
})
