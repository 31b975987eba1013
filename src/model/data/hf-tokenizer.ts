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
 * read synchronously with `receiveMessageOnPort` (the synckit pattern). A round trip measured
 * 60–140 µs on top of the encoding (the shared 2-core machine); the worker is unref'd, so it
 * never keeps the process alive.
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
      return null
    }
    case "vocabSize": return tok.getVocabSize(true)
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

/**
 * How long a call may take before the worker is taken for dead: a minute, plus 100 µs per
 * character or id (20× the 5 µs per character measured encoding 1 MB with the llama3 fixture
 * on the shared 2-core machine).
 */
const timeoutMs = (size: number): number => 60_000 + size / 10

/** The library in a worker, called synchronously. */
class Bridge {
  private readonly port: MessagePort
  private readonly worker: Worker
  private readonly flag = new Int32Array(new SharedArrayBuffer(4))
  private dead = false

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

  /** `size`: characters or ids in the request, for the timeout. */
  call<T>(request: Readonly<Record<string, unknown>>, size = 0): T {
    if (this.dead) throw new Error(`tokenizers worker: stopped after an earlier call timed out`)
    Atomics.store(this.flag, 0, 0)
    this.port.postMessage(request)
    if (Atomics.wait(this.flag, 0, 0, timeoutMs(size)) === "timed-out") {
      this.dead = true // a late answer would be read as the next call's
      this.close()
      throw new Error(`tokenizers worker: no answer to ${String(request.op)} within ${timeoutMs(size) / 1000} s`)
    }
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
      bridge.call({ op: "load", path })
    } catch (e) {
      bridge.close()
      throw new Error(`${path}: the tokenizers library cannot read it: ${(e as Error).message}`)
    }
    try {
      this.vocabSize = bridge.call<number>({ op: "vocabSize" })
      ;[this.prefix, this.suffix] = this.around()
      const configPath = join(dirname(path), "tokenizer_config.json")
      const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>) : {}
      const idOf = (key: string): number | undefined => {
        const name = tokenName(config[key])
        if (name === undefined) return undefined
        const id = this.tokenToId(name)
        if (id === undefined) throw new Error(`${configPath}: ${key} ${JSON.stringify(name)} is not in ${path}`)
        return id
      }
      this.bosId = idOf("bos_token")
      this.eosId = idOf("eos_token")
    } catch (e) {
      bridge.close()
      throw e
    }
  }

  /**
   * What the post-processor adds around a single sequence, read off the library's own output:
   * a short text encoded with and without special tokens, the plain ids found whole inside the
   * other. The first probe that gives any ids decides (an empty sequence could not tell a
   * prefix from a suffix).
   */
  private around(): [number[], number[]] {
    for (const probe of ["a b", "a", "the", "0", ".", "<unk>"]) {
      const plain = this.encode(probe)
      if (plain.length === 0) continue
      const full = this.encodeWithSpecialTokens(probe)
      const at = [...Array(Math.max(0, full.length - plain.length + 1)).keys()].find((k) => plain.every((id, i) => full[k + i] === id))
      if (at === undefined) throw new Error(`${this.path}: the post-processor changes the sequence itself (${JSON.stringify(plain)} → ${JSON.stringify(full)}), not only what surrounds it`)
      return [full.slice(0, at), full.slice(at + plain.length)]
    }
    throw new Error(`${this.path}: cannot tell what the post-processor adds: every probe text encodes to no ids`)
  }

  /** Token ids of `text`, without the post-processor's special tokens (special tokens written in the text still match). */
  encode(text: string): number[] {
    return this.bridge.call<number[]>({ op: "encode", text, special: false }, text.length)
  }

  /** Token ids as `tokenizer(text)` gives them: `prefix ++ encode(text) ++ suffix`. */
  encodeWithSpecialTokens(text: string): number[] {
    return this.bridge.call<number[]>({ op: "encode", text, special: true }, text.length)
  }

  /** Text of `ids` through the tokenizer's decoder (special tokens kept unless skipped). */
  decode(ids: ArrayLike<number>, opts: { readonly skipSpecialTokens?: boolean } = {}): string {
    return this.bridge.call<string>({ op: "decode", ids: Array.from(ids), skipSpecial: opts.skipSpecialTokens ?? false }, ids.length)
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
