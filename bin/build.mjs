#!/usr/bin/env node
// Bundles the CLI into dist/ (one ESM file per entry, shared chunks) so `peftlab status` starts
// in a fraction of the time tsx needs to transpile ~100 modules. Run by `npm run build` and
// `prepare`; bin/peftlab.js falls back to tsx when dist/ is missing or older than a source.
// Usage: node bin/build.mjs [--outdir=DIR] [name=entry.ts ...]   (default: dist, peftlab=bin/main.ts)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
let esbuild
try {
  esbuild = await import("esbuild")
} catch {
  console.warn("peftlab build: esbuild not available; the CLI will run through tsx")
  process.exit(0)
}

const args = process.argv.slice(2)
const outdir = join(root, args.find((a) => a.startsWith("--outdir="))?.slice(9) ?? "dist")
const named = args.filter((a) => !a.startsWith("--"))
const entries = Object.fromEntries((named.length > 0 ? named : ["peftlab=bin/main.ts"]).map((a) => a.split("=")))

// Stage definitions name their own file (`module: import.meta.url`) for code digests and workers:
// keep each project file's own URL instead of the bundle's.
const keepModuleUrls = {
  name: "keep-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.tsx?$/ }, (args) => {
      if (args.path.includes("node_modules")) return undefined
      const text = readFileSync(args.path, "utf8").replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
      return { contents: text, loader: args.path.endsWith("x") ? "tsx" : "ts" }
    })
  },
}

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  metafile: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  // Native, huge or only-lazily-needed packages stay in node_modules.
  external: ["better-sqlite3", "esbuild", "tsx", "tsx/*", "@tensorflow/*", "ink", "react", "react/*", "vega", "vega-lite", "@resvg/*", "ink-testing-library"],
  banner: { js: 'import { createRequire as __peftlabRequire } from "node:module"; const require = __peftlabRequire(import.meta.url);' },
  plugins: [keepModuleUrls],
})
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes("node_modules")).map((f) => relative(root, join(root, f)))
mkdirSync(outdir, { recursive: true })
writeFileSync(join(outdir, "inputs.json"), JSON.stringify(inputs))
