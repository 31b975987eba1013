/**
 * `--force` patterns. Instance ids contain brackets (`train[method=vera,seed=2]`), which a glob
 * library reads as a character class (and factor values may contain `/`, which it reads as a
 * path separator), so a pattern here has two wildcards only: `*` (any characters, `/` too) and
 * `?` (one character); every other character, brackets included, is literal. That is three lines
 * of regular expression, hand-written because no glob library has this (path-free) dialect.
 */

const REGEX_SPECIAL = /[.+^${}()|[\]\\]/g

/** A matcher for one `--force` pattern. */
export const forceMatcher = (pattern: string): ((id: string) => boolean) => {
  const re = new RegExp(`^${pattern.replace(REGEX_SPECIAL, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`, "s")
  return (id) => re.test(id)
}
