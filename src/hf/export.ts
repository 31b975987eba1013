/**
 * `peftlab export`: a committed stage artifact → Hugging Face folders (tfjs-free).
 *   build-model, load-model, merge → a transformers GPT-2 folder (AutoModelForCausalLM / AutoTokenizer).
 *   attach-adapter, train          → a PEFT adapter folder, with the GPT-2 base it applies to in
 *                                    `base/`: the original base, for every method (Delta-LoRA,
 *                                    PiSSA and OLoRA as LoRA of rank 2r on it).
 * Export is a command rather than part of every artifact: the store keeps one layout (peftlab's),
 * cached results of earlier runs export without rerunning, and a VeRA adapter that PEFT cannot
 * express fails here, with the reason, instead of failing the pipeline.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { isLlama } from "../model/arch/config.ts"
import { HfUnsupported } from "./config.ts"
import { exportModelFolder, readPeftlabModel, writeHfModel } from "./folder.ts"
import { toPeft, writePeftFolder } from "./peft.ts"

/** Where an export came from (a transformers or PEFT loader ignores the file). */
export const EXPORT_RECORD = "peftlab_export.json"

export const MODEL_KINDS = ["build-model", "load-model", "merge"]
export const ADAPTER_KINDS = ["attach-adapter", "train"]

export interface ExportSource {
  /** Provenance, written to peftlab_export.json: pipeline, stage id, fingerprint. */
  readonly provenance: Readonly<Record<string, string>>
  readonly kind: string
  /** The stage's committed artifact. */
  readonly dir: string
  /** For adapters: the artifact of the base model the adapter was made for. */
  readonly modelDir?: string | undefined
}

export interface ExportResult {
  readonly written: ReadonlyArray<string>
  readonly note: string
}

/** Writes the export into `outDir` (created; must not exist or be empty). On failure nothing is left behind. */
export const exportArtifact = (src: ExportSource, outDir: string): ExportResult => {
  const out = resolve(outDir)
  if (existsSync(out) && readdirSync(out).length > 0) throw new HfUnsupported("out", `${outDir} exists and is not empty; export writes into a new or empty folder`)
  const created = !existsSync(out)
  mkdirSync(out, { recursive: true })
  const provenance = (extra: Record<string, unknown>) =>
    writeFileSync(join(out, EXPORT_RECORD), JSON.stringify({ ...src.provenance, kind: src.kind, artifact: src.dir, ...(src.modelDir ? { model_artifact: src.modelDir } : {}), ...extra }, null, 2) + "\n")
  try {
    if (MODEL_KINDS.includes(src.kind)) {
      exportModelFolder(src.dir, out)
      provenance({ format: "transformers GPT-2" })
      return { written: [out], note: "a transformers GPT-2 folder: AutoModelForCausalLM.from_pretrained / AutoTokenizer.from_pretrained" }
    }
    if (ADAPTER_KINDS.includes(src.kind)) {
      if (src.modelDir === undefined) throw new Error(`${src.kind} export needs the base model's artifact`)
      const { config, params } = readPeftlabModel(src.modelDir)
      const peft = toPeft(config, src.dir, params)
      const base = join(out, "base")
      mkdirSync(base)
      writeHfModel(base, config, params, join(src.modelDir, "tokenizer.json"))
      writePeftFolder(out, peft, base)
      provenance({ format: `PEFT ${String(peft.config.peft_type)}`, base: "base/" })
      return {
        written: [out, base],
        note: `a PEFT ${String(peft.config.peft_type)} adapter: PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("${base}"), "${out}")`,
      }
    }
    throw new HfUnsupported("kind", `stage kind ${src.kind} has nothing to export (exportable: ${[...MODEL_KINDS, ...ADAPTER_KINDS].join(", ")})`)
  } catch (e) {
    if (created) rmSync(out, { recursive: true, force: true })
    else for (const f of readdirSync(out)) rmSync(join(out, f), { recursive: true, force: true })
    throw e
  }
}
