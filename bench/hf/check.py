"""
The Hugging Face side of bench/hf-interop.sh: loads every exported folder with the REAL
transformers 5.17 and PEFT 0.21 and compares with what peftlab computed (bench/hf/peftlab-logits.ts).

For a model export (build-model / load-model / merge):
  AutoTokenizer ids == peftlab ids; AutoModelForCausalLM logits vs peftlab logits (≤ 1e-4).
For an adapter export (train):
  base/ logits vs peftlab's original base (every method, Delta-LoRA, PiSSA and OLoRA too) (≤ 1e-4);
  PeftModel.from_pretrained(base, dir) logits vs peftlab's adapter logits (≤ 1e-4), with no
  missing/unexpected adapter keys, and the adapter changing the logits (it is not silently ignored);
  merge_and_unload() logits vs peftlab's merged model (≤ 1e-4), and its weights vs the exported
  merge stage (the same checkpoint transformers-side).
Usage: check.py <manifest.json>; prints one line per check and a summary; exit 1 on any failure.
"""
import json, sys, warnings

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging
from peft import PeftModel

torch.set_grad_enabled(False)
TOL = 1e-4
failures = []
rows = []


def report(what, value, ok, extra=""):
    rows.append((what, value, ok))
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {value}{extra}", flush=True)
    if not ok:
        failures.append(what)


def logits_of(model, ref, n, key, label, keep=None):
    worst = 0.0
    outs = []
    for i in range(n):
        ids = ref[f"ids.{i}"].long()[None]
        y = model(ids).logits[0].float()
        outs.append(y)
        worst = max(worst, (y - ref[f"{key}.{i}"]).abs().max().item())
    report(label, f"max|Δ logits| = {worst:.3e}", worst <= TOL, f" (tolerance {TOL:g}, {n} prompts)")
    return outs


def load_model(path, label):
    # float32 as peftlab computes: transformers 5 loads in the checkpoint's dtype (bf16 for the
    # Llama fixture) by default.
    model, info = AutoModelForCausalLM.from_pretrained(path, output_loading_info=True, dtype=torch.float32)
    model.eval()
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    report(f"{label}: AutoModelForCausalLM loads", "no missing/unexpected keys" if not bad else json.dumps(bad, default=str)[:300], not bad)
    return model


def check_tokenizer(path, ref, texts, n, label):
    # peftlab keeps what the post-processor puts first (the Llama family's BOS) once, then the last
    # T − |prefix| tokens of the text; T is its block size (GPT-2: n_positions; the Llama family:
    # the pipeline's block_size, below max_position_embeddings), so the longest row.
    T = max(len(ref[f"ids.{i}"]) for i in range(n))
    tok = AutoTokenizer.from_pretrained(path)

    def truncated(text):
        full, plain = tok(text)["input_ids"], tok(text, add_special_tokens=False)["input_ids"]
        k = next(k for k in range(len(full) - len(plain) + 1) if full[k:k + len(plain)] == plain)
        return full[:k] + plain[-(T - k):]
    same = all(truncated(texts[i]) == ref[f"ids.{i}"].tolist() for i in range(n))
    report(f"{label}: AutoTokenizer ids == peftlab ids", f"{n} prompts", same)


manifest = json.load(open(sys.argv[1]))
for entry in manifest:
    label, kind = entry["id"], entry["kind"]
    if kind == "refused":
        report(f"{label}: export refused (exit 2, nothing written)", entry["message"][:400], True)
        continue
    d, ref_path = entry["dir"], entry["logits"]
    ref = load_file(ref_path)
    from safetensors import safe_open
    with safe_open(ref_path, "pt") as f:
        texts = json.loads(f.metadata()["texts"])
    n = len(texts)
    if kind == "model":
        m = load_model(d, label)
        check_tokenizer(d, ref, texts, n, label)
        logits_of(m, ref, n, "base", f"{label}: transformers vs peftlab")
        continue
    base_path = entry.get("base", f"{d}/base")
    base = load_model(base_path, f"{label} base")
    check_tokenizer(base_path, ref, texts, n, f"{label} base")
    base_out = logits_of(base, ref, n, "base", f"{label} base: transformers vs peftlab")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hf_logging.set_verbosity_warning()
        pm = PeftModel.from_pretrained(base, d)
    noisy = [str(w.message)[:200] for w in caught if "key" in str(w.message).lower()]
    report(f"{label}: PeftModel.from_pretrained ({pm.peft_config['default'].peft_type.value})", "no missing/unexpected adapter keys" if not noisy else noisy[0], not noisy)
    pm.eval()
    ad_out = logits_of(pm, ref, n, "adapter", f"{label}: PEFT adapter vs peftlab adapter")
    effect = max((a - b).abs().max().item() for a, b in zip(ad_out, base_out))
    report(f"{label}: the adapter changes the logits", f"max|adapter − base| = {effect:.3e}", effect > 10 * TOL)
    merged = pm.merge_and_unload()
    logits_of(merged, ref, n, "merged", f"{label}: merge_and_unload vs peftlab merged")
    if entry.get("merge_dir"):
        other = AutoModelForCausalLM.from_pretrained(entry["merge_dir"], dtype=torch.float32).eval()
        sd, so = merged.state_dict(), other.state_dict()
        worst = max((sd[k].float() - so[k].float()).abs().max().item() for k in so)
        report(f"{label}: merge_and_unload weights vs exported merge stage", f"max|ΔW| = {worst:.3e} over {len(so)} tensors", worst <= TOL)

print(f"\n{len(rows)} checks: {len(rows) - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
