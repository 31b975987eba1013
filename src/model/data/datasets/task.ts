/**
 * A fine-tuning task, split: what the train, eval and merge stages load.
 */
import { isAbsolute, resolve } from "node:path"
import { StageError } from "../../../contracts/stage.ts"
import { readJsonlExamples } from "./jsonl.ts"
import { loadSpamAssassin } from "./spam-assassin.ts"
import { digestExamples, labelsOf, splitExamples, type Example, type SplitOptions } from "./split.ts"

export type { Example, SplitOptions } from "./split.ts"

export type TaskSource = "spam-assassin" | { readonly path: string }

export interface Task {
  readonly train: ReadonlyArray<Example>
  readonly validation: ReadonlyArray<Example>
  readonly test: ReadonlyArray<Example>
  /** The distinct completions when they form a small label set (sorted), else []. */
  readonly labels: ReadonlyArray<string>
  /** sha256 of all examples before splitting (names the data by content). */
  readonly digest: string
  /** How many examples there were before splitting. */
  readonly count: number
  /** sha256 of the completions in order: with the split options, it fixes which examples land
   * in which split, whatever the prompts' length (SpamAssassin's body_chars). */
  readonly labelsDigest: string
}

/** "spam-assassin", or a JSONL path (relative: to the pipeline file's folder). */
export const taskSource = (data: string, pipelineDir: string): TaskSource =>
  data === "spam-assassin" ? "spam-assassin" : { path: isAbsolute(data) ? data : resolve(pipelineDir, data) }

export const loadTask = async (source: TaskSource, opts: SplitOptions & { readonly bodyChars?: number }): Promise<Task> => {
  const all = source === "spam-assassin" ? await loadSpamAssassin(opts.bodyChars) : readJsonlExamples(source.path)
  let splits
  try {
    splits = splitExamples(all, opts)
  } catch (e) {
    throw new StageError({ reason: "InvalidData", message: (e as Error).message })
  }
  return { ...splits, labels: labelsOf(all), digest: digestExamples(all), count: all.length, labelsDigest: digestExamples(all.map((e) => ({ prompt: "", completion: e.completion }))) }
}
