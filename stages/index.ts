/**
 * The registry: the only list of stage kinds a pipeline can name. To add a kind, import its file
 * and add it to the array (one import + one entry). Keep stage files light at the top: this module
 * is imported by `peftlab status`.
 */
import type { AnyStageDefinition } from "../src/engine/stage.ts"

export const stages: ReadonlyArray<AnyStageDefinition> = []
