/**
 * Domain text for pretraining: the prompts of a fine-tuning task's TRAINING split (text only,
 * never a label), added to the tokenizer's and the base model's corpus. A base that has read
 * e-mails before it is asked to classify them (Gururangan et al. 2020, "Don't Stop
 * Pretraining": domain- and task-adaptive pretraining) — but only ever the training e-mails.
 *
 * Safety: the record travels with the tokenize artifact into the base model's folder, and
 * every stage that splits the task again (train, eval, merge) checks that its split is the one
 * pretraining read from (same data, seed, fractions, examples); otherwise a validation or test
 * e-mail could have been pretraining text, and the stage fails instead.
 */
import type { Task } from "./task.ts"

export interface DomainTextSpec {
  readonly data: string // "spam-assassin" or a JSONL path (relative: to the pipeline file's folder)
  readonly split_seed: number
  readonly val_fraction: number
  readonly test_fraction: number
  /** SpamAssassin: body characters per e-mail (the split does not depend on it). */
  readonly body_chars: number
}

/** What pretraining read, as written next to the tokenizer (tokenize) and the model (build-model). */
export interface DomainTextRecord {
  readonly data: string
  readonly split_seed: number
  readonly val_fraction: number
  readonly test_fraction: number
  readonly body_chars: number
  /** Examples before splitting, and the digest of their completions in order: with the seed and
   * fractions these fix the split exactly. */
  readonly examples: number
  readonly labels_digest: string
  readonly train_documents: number
  readonly chars: number
}

/** The file both artifacts carry. */
export const DOMAIN_TEXT = "pretrain_task_text.json"

/**
 * null when `task`, split as `split` says, is the split pretraining read its training text
 * from; otherwise why not (a stage must then refuse to fine-tune or evaluate on it).
 */
export const domainSplitMismatch = (
  record: DomainTextRecord,
  split: { readonly data: string; readonly split_seed: number; readonly val_fraction: number; readonly test_fraction: number },
  task: Pick<Task, "count" | "labelsDigest">,
): string | null => {
  const differs: string[] = []
  if (record.data !== split.data) differs.push(`data ${JSON.stringify(record.data)} vs ${JSON.stringify(split.data)}`)
  if (record.split_seed !== split.split_seed) differs.push(`split_seed ${record.split_seed} vs ${split.split_seed}`)
  if (record.val_fraction !== split.val_fraction) differs.push(`val_fraction ${record.val_fraction} vs ${split.val_fraction}`)
  if (record.test_fraction !== split.test_fraction) differs.push(`test_fraction ${record.test_fraction} vs ${split.test_fraction}`)
  if (differs.length === 0 && (record.examples !== task.count || record.labels_digest !== task.labelsDigest))
    differs.push(`the data now has other examples (${task.count} vs ${record.examples} when pretraining read it)`)
  return differs.length === 0
    ? null
    : `the base model was pretrained on the training split of ${record.data} (tokenize's task_text), and this stage splits its data differently (${differs.join("; ")}): its validation or test examples may have been pretraining text. Give task_text the same data and split as train/eval.`
}
