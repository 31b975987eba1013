/** Plan-time problems of a transformers folder, for load-model's `check` (tfjs-free). */
import { existsSync, statSync } from "node:fs"
import { checkHfFolder, HfUnsupported } from "./config.ts"

export const checkHfFolderProblems = (dir: string, blockSize?: number): ReadonlyArray<{ param: string; message: string }> => {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [{ param: "path", message: `${dir}: no such folder` }]
  try {
    checkHfFolder(dir, blockSize)
    return []
  } catch (e) {
    if (e instanceof HfUnsupported) return [{ param: e.field === "block_size" ? "block_size" : "path", message: `${e.message} [field: ${e.field}]` }]
    return [{ param: "path", message: e instanceof Error ? e.message : String(e) }]
  }
}
