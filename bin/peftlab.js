#!/usr/bin/env node
process.env.NODE_ENV ??= "production" // before tsx compiles any JSX: React's dev build halves the dashboard's frame rate
// Runs the compiled bundle (dist/, built by `npm run build` / `prepare`) when it is newer than
// every source file it was built from; otherwise the TypeScript sources through tsx.
import { existsSync, readFileSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bundle = join(root, "dist", "peftlab.mjs")
const meta = join(root, "dist", "inputs.json")

const fresh = () => {
  if (!existsSync(bundle) || !existsSync(meta)) return false
  const built = statSync(bundle).mtimeMs
  const inputs = JSON.parse(readFileSync(meta, "utf8"))
  return inputs.every((f) => existsSync(join(root, f)) && statSync(join(root, f)).mtimeMs <= built)
}

if (process.env.PEFTLAB_NO_BUNDLE !== "1" && fresh()) {
  await import(pathToFileURL(bundle).href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(pathToFileURL(join(root, "bin", "main.ts")).href)
}
