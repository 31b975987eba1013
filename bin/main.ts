/** The `peftlab` command with the real stage registry (stages/index.ts). */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { projectRoot } from "../engine/project.ts"
import { stages } from "../../stages/index.ts"
import { runMain } from "./run-main.ts"

runMain({ stages, module: pathToFileURL(path.join(projectRoot(), "stages", "index.ts")).href })
