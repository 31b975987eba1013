/** `--force` patterns: brackets are literal, * and ? are the only wildcards. */
import { describe, expect, it } from "vitest"
import { forceMatcher } from "../../src/cli/force.ts"

const IDS = ["tokens", "base", "train[method=vera,seed=1]", "train[method=vera,seed=2]", "train[method=lora,seed=1]", "eval[method=vera,seed=1]", "train[data=a/b.jsonl]"]
const matches = (pattern: string) => IDS.filter(forceMatcher(pattern))

describe("--force patterns", () => {
  it("an id with brackets matches itself literally", () => {
    expect(matches("train[method=vera,seed=1]")).toEqual(["train[method=vera,seed=1]"])
  })
  it("a glob inside the brackets: the issue's own example", () => {
    expect(matches("train[method=vera,seed=*]")).toEqual(["train[method=vera,seed=1]", "train[method=vera,seed=2]"])
    expect(matches("*[*seed=1]")).toEqual(["train[method=vera,seed=1]", "train[method=lora,seed=1]", "eval[method=vera,seed=1]"])
    expect(matches("train[method=?ora,*]")).toEqual(["train[method=lora,seed=1]"])
  })
  it("* crosses / (factor values may be paths); [abc] is not a character class", () => {
    expect(matches("train[data=*]")).toEqual(["train[data=a/b.jsonl]"])
    expect(matches("[te]*")).toEqual([])
    expect(matches("t*")).toEqual(["tokens", "train[method=vera,seed=1]", "train[method=vera,seed=2]", "train[method=lora,seed=1]", "train[data=a/b.jsonl]"])
  })
  it("regular-expression characters are literal too", () => {
    expect(matches("train.method=vera.seed=1.")).toEqual([])
    expect(matches("train[data=a/b.jsonl]")).toEqual(["train[data=a/b.jsonl]"])
    expect(matches("base|tokens")).toEqual([])
  })
})
