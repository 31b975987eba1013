/** The project root: the nearest folder above this module holding peftlab's package.json (works from src/ and dist/). */
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const isPeftlab = (dir: string): boolean => {
  const file = path.join(dir, "package.json")
  return existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "peftlab"
}

export const projectRoot = (from: string = import.meta.url): string => {
  let dir = path.dirname(fileURLToPath(from))
  while (!isPeftlab(dir)) {
    const up = path.dirname(dir)
    if (up === dir) throw new Error("peftlab: cannot find the project's package.json")
    dir = up
  }
  return dir
}
