import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
    // tfjs and better-sqlite3 are native/wasm-heavy: isolate test files in processes.
    pool: "forks",
    // The Slurm executor tests need a local cluster: started here when possible (root + packages).
    globalSetup: ["tests/setup/slurm.ts"],
    // Tests skipped for a missing facility (tmux, Slurm, root, native) are listed at the end, with how to provide each.
    reporters: ["default", "./tests/setup/skip-summary.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
