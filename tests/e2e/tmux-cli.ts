/** `peftlab` with the registry of the real-terminal test (tmux-stages.ts). */
import { runMain } from "../../src/cli/run-main.ts"
import { stages } from "./tmux-stages.ts"

runMain({ stages, module: new URL("./tmux-stages.ts", import.meta.url).href })
