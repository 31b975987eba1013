#!/usr/bin/env bash
# The Hugging Face interop check, with the REAL transformers 5.17 and PEFT 0.21 (README, "Using
# peftlab with Hugging Face"). Not part of `npm test` (CI has no Python venv guarantee); the
# fixtures it regenerates are committed and checked by tests/hf/*.test.ts.
#
#  1. a venv from the machine's local wheels (.venv; $PIP_FIND_LINKS, see docs/HF.md)
#  2. regenerates tests/fixtures/hf with transformers/tokenizers/safetensors into bench/out/hf/
#     and says whether the committed fixtures are reproduced byte for byte
#  3. runs pipelines/quick.yaml, bench/hf/interop.yaml (LoRA on all six projections, VeRA on
#     q/o/mlp), bench/hf/methods.yaml (DoRA, rsLoRA, PiSSA, OLoRA, Delta-LoRA, (IA)³) and
#     bench/hf/import.yaml (a transformers-written GPT-2 fine-tuned by peftlab) and
#     bench/hf/{llama,qwen2,mistral}-interop.yaml (every method with a PEFT form on a
#     transformers-written Llama / Qwen2 / Mistral, all seven projections)
#  4. `peftlab export`s every base, adapter and merge; peftlab computes its logits for them
#  5. bench/hf/check.py loads each folder in transformers / PEFT and compares (≤ 1e-4)
# Usage: bash bench/hf-interop.sh   (runs dir: bench/out/hf-runs; everything under bench/out/hf)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/hf
export PEFTLAB_RUNS_DIR="$PWD/bench/out/hf-runs"
mkdir -p "$OUT"

# 1. venv
if ! .venv/bin/python -c "import transformers, peft" 2>/dev/null; then
  : "${PIP_FIND_LINKS:?set PIP_FIND_LINKS to the folder of the local torch wheel (docs/HF.md)}"
  W="$(dirname "$PIP_FIND_LINKS")/pypi/files"
  python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q --no-index --find-links "$PIP_FIND_LINKS" --find-links "$W" torch transformers==5.17.0 peft==0.21.0 safetensors tokenizers
fi
.venv/bin/python -c "import torch, transformers, peft, safetensors, tokenizers as t; print('torch', torch.__version__, '· transformers', transformers.__version__, '· peft', peft.__version__, '· safetensors', safetensors.__version__, '· tokenizers', t.__version__)"

# 2. fixtures
rm -rf "$OUT/fixtures"
.venv/bin/python bench/hf/make_fixtures.py "$OUT/fixtures" 2>/dev/null | grep -v "^Writing" || true
.venv/bin/python bench/hf/make_llama_fixtures.py "$OUT/fixtures" 2>/dev/null | grep -v "^Writing" || true
.venv/bin/python bench/hf/make_sliding_fixture.py "$OUT/fixtures" 2>/dev/null | grep -v "^Writing\|^Loading" || true
.venv/bin/python - "$OUT/fixtures" tests/fixtures/hf <<'PY'
# Same files, same bytes — but safetensors files by content (tensors + metadata): safetensors'
# writer does not order its header deterministically across processes.
import os, sys, torch
from safetensors import safe_open
new, old = sys.argv[1], sys.argv[2]
files = sorted(os.path.relpath(os.path.join(r, f), new) for r, _, fs in os.walk(new) for f in fs)
committed = sorted(os.path.relpath(os.path.join(r, f), old) for r, _, fs in os.walk(old) for f in fs)
diff = sorted(set(files) ^ set(committed))
for f in files:
    if f not in committed: continue
    a, b = os.path.join(new, f), os.path.join(old, f)
    if f.endswith(".safetensors"):
        with safe_open(a, "pt") as x, safe_open(b, "pt") as y:
            same = x.metadata() == y.metadata() and sorted(x.keys()) == sorted(y.keys()) and all(torch.equal(x.get_tensor(k), y.get_tensor(k)) for k in x.keys())
    else:
        same = open(a, "rb").read() == open(b, "rb").read()
    if not same: diff.append(f)
print("fixtures: tests/fixtures/hf reproduced exactly (" + str(len(files)) + " files)" if not diff else "fixtures: DIFFER from tests/fixtures/hf: " + ", ".join(diff))
PY
# 3. pipelines
for p in pipelines/quick.yaml bench/hf/interop.yaml bench/hf/methods.yaml bench/hf/import.yaml bench/hf/llama-interop.yaml bench/hf/qwen2-interop.yaml bench/hf/mistral-interop.yaml; do
  node bin/peftlab.js run "$p" --plain > "$OUT/$(basename "$p" .yaml).log" 2>&1 || { echo "peftlab run $p failed:"; tail -n 20 "$OUT/$(basename "$p" .yaml).log"; exit 1; }
  echo "ran $p ($(grep -c '^finished\|^cached' "$OUT/$(basename "$p" .yaml).log") stages finished or cached)"
done

# 4. exports + peftlab's logits
rm -rf "$OUT/export"; mkdir -p "$OUT/export"
node --input-type=module - "$OUT" <<'JS'
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
const out = process.argv[2]
const ex = `${out}/export`
const jobs = [], manifest = []
const exportOne = (pipeline, id, name) => {
  const r = spawnSync("node", ["bin/peftlab.js", "export", pipeline, id, `${ex}/${name}`], { encoding: "utf8" })
  if (r.status === 0) return JSON.parse(readFileSync(`${ex}/${name}/peftlab_export.json`, "utf8"))
  if (r.status === 2) return { refused: r.stderr.trim().split("\n")[0] }
  throw new Error(`export ${name}: ${r.stderr}`)
}
for (const [pipeline, tag] of [["pipelines/quick.yaml", "quick"], ["bench/hf/interop.yaml", "interop"], ["bench/hf/methods.yaml", "methods"], ["bench/hf/import.yaml", "import"], ["bench/hf/llama-interop.yaml", "llama"], ["bench/hf/qwen2-interop.yaml", "qwen2"], ["bench/hf/mistral-interop.yaml", "mistral"]]) {
  const ids = execFileSync("node", ["bin/peftlab.js", "status", pipeline, "--json"], { encoding: "utf8" }).trim().split("\n").map((l) => JSON.parse(l).id)
  for (const id of ids.filter((i) => i === "base" || i.startsWith("merge["))) {
    const name = `${tag}:${id}`
    const rec = exportOne(pipeline, id, name)
    jobs.push({ out: `${ex}/${name}.logits.safetensors`, model: rec.artifact })
    manifest.push({ id: name, kind: "model", dir: `${ex}/${name}`, logits: `${ex}/${name}.logits.safetensors` })
  }
  for (const id of ids.filter((i) => i.startsWith("train["))) {
    const name = `${tag}:${id}`
    const rec = exportOne(pipeline, id, name)
    if (rec.refused) { manifest.push({ id: name, kind: "refused", message: rec.refused }); continue }
    jobs.push({ out: `${ex}/${name}.logits.safetensors`, model: rec.model_artifact, adapter: rec.artifact })
    manifest.push({ id: name, kind: "adapter", dir: `${ex}/${name}`, logits: `${ex}/${name}.logits.safetensors`, merge_dir: `${ex}/${tag}:${id.replace(/^train/, "merge")}`,
      ...(tag === "import" ? { base: "tests/fixtures/hf/gpt2-untied", base_note: "the transformers-written original" } : {}),
      ...(["llama", "qwen2", "mistral"].includes(tag) ? { base: `tests/fixtures/hf/${tag}-tiny`, base_note: "the transformers-written original" } : {}) })
  }
}
writeFileSync(`${out}/logit-jobs.json`, JSON.stringify(jobs, null, 1))
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 1))
console.log(`exported ${manifest.filter((m) => m.kind !== "refused").length} folders; refused ${manifest.filter((m) => m.kind === "refused").length}`)
JS
npx tsx bench/hf/peftlab-logits.ts "$OUT/logit-jobs.json" > "$OUT/peftlab-logits.log"
echo "peftlab logits: $(wc -l < "$OUT/peftlab-logits.log") files"

# 5. transformers + PEFT
.venv/bin/python bench/hf/check.py "$OUT/manifest.json" 2>"$OUT/check.stderr" | tee "$OUT/check.txt"
