/** The `peftlab` command with the real stage registry (stages/index.ts). */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { projectRoot } from "../src/engine/project.ts"
import { stages } from "../stages/index.ts"
import { runMain } from "../src/cli/run-main.ts"

runMain({ stages, module: pathToFileURL(path.join(projectRoot(), "stages", "index.ts")).href })
