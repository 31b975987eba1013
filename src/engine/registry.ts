/** The stage kinds a run may use, and the module that exports them (workers import it). */
import type { AnyStageDefinition } from "../contracts/stage.ts"

export interface Registry {
  readonly stages: ReadonlyArray<AnyStageDefinition>
  /** URL of a module exporting `stages` (stages/index.ts; a test fixture for fake kinds). */
  readonly module: string
}

export const kindsOf = (registry: Registry): ReadonlyMap<string, AnyStageDefinition> => new Map(registry.stages.map((s) => [s.kind, s]))
