/**
 * Any Hugging Face `tokenizer.json` (Llama 3, Qwen2/2.5, Mistral / Llama 2, SmolLM2, GPT-2, …)
 * through Hugging Face's own Rust implementation: the npm `tokenizers` package, the same Rust
 * crate and version (0.23.2) as the Python `tokenizers` wheel, so the ids are the ones Python
 * gives — normalizers, regex pre-tokenizers (Oniguruma, as in Python), added and special tokens,
 * byte fallback, post-processors — with nothing re-implemented here.
 *
 * The Node binding only encodes and decodes asynchronously (each call is a libuv task that
 * resolves a Promise), while peftlab's `Encoder` is synchronous: batches are pure functions of
 * (seed, step), built in constructors. So the library runs in a worker thread and each call
 * blocks on a shared flag (`Atomics.wait`) until the worker has posted the answer, which is then
 * read synchronously with `receiveMessageOnPort` (the synckit pattern). One round trip costs
 * about 0.1 ms on top of the encoding; the worker is unref'd, so it never keeps the process alive.
 *
 * The native addon is loaded only inside the worker (resolved from this file, required there),
 * so nothing else in peftlab — nor the esbuild bundle — loads it.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads"
import type { Encoder } from "./completion-batches.ts"

/** The worker (CommonJS, run with `eval`): one tokenizer, answering requests one at a time. */
const WORKER = `
const { workerData } = require("node:worker_threads")
const { Tokenizer } = require(workerData.library)
const { port, flag } = workerData
let tok = null
const handle = async (m) => {
  switch (m.op) {
    case "load": {
      tok = Tokenizer.fromFile(m.path)
      // Truncation and padding in a tokenizer.json are batching policy; transformers turns them
      // off unless a call asks for them, and peftlab truncates and pads itself.
      tok.disableTruncation()
      tok.disablePadding()
      return { vocabSize: tok.getVocabSize(true) }
    }
    case "encode": return (await tok.encode(m.text, null, { addSpecialTokens: m.special })).getIds()
    case "decode": return await tok.decode(m.ids, m.skipSpecial)
    case "tokenToId": return tok.tokenToId(m.token)
    case "idToToken": return tok.idToToken(m.id)
  }
  throw new Error("unknown request " + m.op)
}
port.on("message", (m) => {
  handle(m).then((value) => ({ value }), (e) => ({ error: String(e && e.message || e) })).then((reply) => {
    port.postMessage(reply)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  })
})
`

/** A call that takes longer than this is taken for a dead worker (encoding 1 MB takes well under a second). */
const CALL_TIMEOUT_MS = 120_000

/** The library in a worker, called synchronously. */
class Bridge {
  private readonly port: MessagePort
  private readonly worker: Worker
  private readonly flag = new Int32Array(new SharedArrayBuffer(4))

  constructor() {
    const library = createRequire(import.meta.url).resolve("tokenizers")
    const { port1, port2 } = new MessageChannel()
    this.worker = new Worker(WORKER, { eval: true, workerData: { library, port: port2, flag: this.flag }, transferList: [port2] })
    this.worker.unref()
    this.port = port1
  }

  close(): void {
    void this.worker.terminate()
  }

  call<T>(request: Readonly<Record<string, unknown>>): T {
    Atomics.store(this.flag, 0, 0)
    this.port.postMessage(request)
    if (Atomics.wait(this.flag, 0, 0, CALL_TIMEOUT_MS) === "timed-out") throw new Error(`tokenizers worker: no answer to ${String(request.op)} within ${CALL_TIMEOUT_MS / 1000} s`)
    const reply = receiveMessageOnPort(this.port)?.message as { value?: T; error?: string } | undefined
    if (reply === undefined) throw new Error(`tokenizers worker: ${String(request.op)} answered nothing`)
    if (reply.error !== undefined) throw new Error(reply.error)
    return reply.value as T
  }
}

/** A special token as tokenizer_config.json names it: a string, or an AddedToken object ({ content }). */
const tokenName = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string" ? (v as { content: string }).content : undefined

export class HfTokenizer implements Encoder {
  /** Ids the tokenizer can produce, added tokens included (the library's get_vocab_size(true)). */
  readonly vocabSize: number
  /** Ids the post-processor puts before a single sequence (Llama 3 [<|begin_of_text|>], Mistral [<s>], Qwen2 []). */
  readonly prefix: ReadonlyArray<number>
  /** Ids the post-processor puts after a single sequence ([] for all four families; [</s>] for RoBERTa-style). */
  readonly suffix: ReadonlyArray<number>
  /** tokenizer_config.json's bos_token / eos_token beside tokenizer.json, as ids; undefined when not named. */
  readonly bosId: number | undefined
  readonly eosId: number | undefined

  private readonly bridge = new Bridge()

  constructor(readonly path: string) {
    const bridge = this.bridge
    try {
      this.vocabSize = bridge.call<{ vocabSize: number }>({ op: "load", path }).vocabSize
    } catch (e) {
      bridge.close()
      throw new Error(`${path}: the tokenizers library cannot read it: ${(e as Error).message}`)
    }
    // What the post-processor adds, read off the library's own output: one short sequence
    // with and without special tokens; the plain ids must appear whole inside the other.
    const plain = this.encode("a b")
    const full = this.encodeWithSpecialTokens("a b")
    const at = [...Array(full.length - plain.length + 1).keys()].find((k) => plain.every((id, i) => full[k + i] === id))
    if (at === undefined) throw new Error(`${path}: the post-processor changes the sequence itself (${JSON.stringify(plain)} → ${JSON.stringify(full)}), not only what surrounds it`)
    this.prefix = full.slice(0, at)
    this.suffix = full.slice(at + plain.length)
    const configPath = join(dirname(path), "tokenizer_config.json")
    const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>) : {}
    const idOf = (key: string): number | undefined => {
      const name = tokenName(config[key])
      if (name === undefined) return undefined
      const id = bridge.call<number | null>({ op: "tokenToId", token: name })
      if (id === null) throw new Error(`${configPath}: ${key} ${JSON.stringify(name)} is not in ${path}`)
      return id
    }
    this.bosId = idOf("bos_token")
    this.eosId = idOf("eos_token")
  }

  /** Token ids of `text`, without the post-processor's special tokens (special tokens written in the text still match). */
  encode(text: string): number[] {
    return this.bridge.call<number[]>({ op: "encode", text, special: false })
  }

  /** Token ids as `tokenizer(text)` gives them: `prefix ++ encode(text) ++ suffix`. */
  encodeWithSpecialTokens(text: string): number[] {
    return this.bridge.call<number[]>({ op: "encode", text, special: true })
  }

  /** Text of `ids` through the tokenizer's decoder (special tokens kept unless skipped). */
  decode(ids: ArrayLike<number>, opts: { readonly skipSpecialTokens?: boolean } = {}): string {
    return this.bridge.call<string>({ op: "decode", ids: Array.from(ids), skipSpecial: opts.skipSpecialTokens ?? false })
  }

  tokenToId(token: string): number | undefined {
    return this.bridge.call<number | null>({ op: "tokenToId", token }) ?? undefined
  }

  idToToken(id: number): string | undefined {
    return this.bridge.call<string | null>({ op: "idToToken", id }) ?? undefined
  }
}

/** One worker per tokenizer file (and version of it), for the life of the process. */
const loaded = new Map<string, HfTokenizer>()

/** The tokenizer of a tokenizer.json (with tokenizer_config.json beside it, when there is one). */
export const loadHfTokenizer = (path: string): HfTokenizer => {
  const file = resolve(path) // not realpath: a Hub cache's tokenizer.json is a link into blobs/, its config sits beside the link
  const config = join(dirname(file), "tokenizer_config.json")
  const version = (f: string) => (existsSync(f) ? `${statSync(f).mtimeMs}:${statSync(f).size}` : "-")
  const key = `${file}\0${version(file)}\0${version(config)}`
  const hit = loaded.get(key)
  if (hit !== undefined) return hit
  const tok = new HfTokenizer(file)
  loaded.set(key, tok)
  return tok
}
