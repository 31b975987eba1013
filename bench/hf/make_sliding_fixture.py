"""Mistral's sliding window with transformers 5.17: tests/fixtures/hf/mistral-tiny with
sliding_window 5 (< the 12-token fixture sequence, so the window bites) → the logits of the
fixture's input_ids, written to tests/fixtures/hf/mistral-tiny/expected-window5.safetensors.
Run: python bench/hf/make_sliding_fixture.py (hf-interop.sh regenerates it)."""
import sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf"
src = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hf" / "mistral-tiny"
cfg = AutoConfig.from_pretrained(src)
cfg.sliding_window = 5
model = AutoModelForCausalLM.from_pretrained(src, config=cfg, dtype=torch.float32, attn_implementation="eager").eval()
ids = load_file(src / "expected.safetensors")["input_ids"].long()
with torch.no_grad():
    logits = model(ids).logits
out = root / "mistral-tiny"
out.mkdir(parents=True, exist_ok=True)
save_file({"input_ids": ids.to(torch.int32), "logits": logits.contiguous()}, out / "expected-window5.safetensors",
          metadata={"format": "pt", "sliding_window": "5", "logits": "mistral-tiny with config.sliding_window = 5, eager attention, float32, positions 0..11"})
