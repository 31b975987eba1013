/**
 * gc: drop what no record points at — artifacts no cache row names (superseded by a forced
 * rerun), store folders without an artifact row, (scratch checkpoints are kept:
 * they let an interrupted stage resume).
 */
import type { Database as Db } from "better-sqlite3"
import { removeOrphans } from "./recover.ts"

export const collectGarbage = (db: Db, runsDir: string, options: { readonly otherLiveRuns: number }): { readonly artifacts: number; readonly folders: number } => {
  if (options.otherLiveRuns > 0) return { artifacts: 0, folders: 0 }
  const unused = db.transaction(() => {
    const rows = db.prepare(`SELECT digest FROM artifacts WHERE digest NOT IN (SELECT artifact_digest FROM cache)`).all() as Array<{ digest: string }>
    for (const { digest } of rows) {
      db.prepare(`UPDATE executions SET artifact_digest = NULL WHERE artifact_digest = ?`).run(digest)
      db.prepare(`DELETE FROM artifacts WHERE digest = ?`).run(digest)
    }
    return rows.length
  }).immediate()
  const folders = removeOrphans(db, runsDir)
  return { artifacts: unused, folders }
}
