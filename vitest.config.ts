import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
    // tfjs and better-sqlite3 are native/wasm-heavy: isolate test files in processes.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
