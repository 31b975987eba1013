"""
Writes tests/fixtures/hf/ with the REAL Hugging Face libraries (transformers 5.17, tokenizers 0.23,
safetensors 0.8), so `npm test` can check peftlab against them without Python:

  gpt2-tied/      a GPT-2 written by transformers' save_pretrained: its own byte-level BPE
                  (trained here by `tokenizers`, 300 ids — not peftlab's), n_embd 48, 3 heads,
                  2 layers, n_positions 48, n_inner 160, tied head; tokenizer.json
  gpt2-untied/    the same shape, untied head, sharded (model.safetensors.index.json + 2
                  shards), vocab.json + merges.txt only (no tokenizer.json)
  */expected.safetensors   prompt ids (I32) and transformers' logits (F32) for those prompts
  pretokenize.json         edge strings → the ByteLevel pre-tokenizer's pieces (Oniguruma regex)
  safetensors-cases.json   byte strings → does the reference reader accept them, and its error

Run by bench/hf-interop.sh (which makes the venv); deterministic (torch.manual_seed).
"""
import base64, json, os, struct, sys

import torch
from safetensors.torch import load_file
import safetensors
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/hf"
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)

TEXT = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Fellow citizens, the state of the union is strong, and our economy grows.",
    "Subject: cheap meds!!! Click here now to win $1000 in prizes.",
    "We hold these truths to be self-evident, that all men are created equal.",
    "Numbers 12345 and 6789, symbols #@%&*, tabs\tand\nnewlines.",
]
PROMPTS = [
    "The state of the union is strong.",
    "Subject: win a free prize now!!!",
    "all men are created equal, 1776",
]


def tokenizer(vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TEXT * 20, trainer)
    return tok


def save_expected(folder, model, fast):
    ids = [fast(p)["input_ids"] for p in PROMPTS]
    tensors = {}
    with torch.no_grad():
        for i, seq in enumerate(ids):
            x = torch.tensor([seq])
            tensors[f"ids.{i}"] = x[0].to(torch.int32)
            tensors[f"logits.{i}"] = model(x).logits[0].float().contiguous()
    safetensors.torch.save_file(tensors, os.path.join(folder, "expected.safetensors"), metadata={"format": "pt", "prompts": json.dumps(PROMPTS)})


def make_model(name, tie, shard):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    tok = tokenizer(300)
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=48, n_embd=48, n_layer=2, n_head=3, n_inner=160,
                     tie_word_embeddings=tie, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # non-trivial LayerNorm and biases, so a mix-up of any of them shows
        for n, p in model.named_parameters():
            if n.endswith("bias") or ".ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(folder, max_shard_size="100KB" if shard else "50GB")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=48)
    if shard:
        # vocab.json + merges.txt only: what older GPT-2 checkpoints ship
        vocab = tok.get_vocab()
        merges = json.loads(tok.to_str())["model"]["merges"]
        with open(os.path.join(folder, "vocab.json"), "w") as f:
            json.dump(vocab, f, ensure_ascii=False, sort_keys=True)  # get_vocab() order is a hash map's
        with open(os.path.join(folder, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n")
            for m in merges:
                f.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    else:
        fast.save_pretrained(folder)
    save_expected(folder, model, fast)
    print(f"{folder}: {sorted(os.listdir(folder))}")


make_model("gpt2-tied", tie=True, shard=False)
make_model("gpt2-untied", tie=False, shard=True)

# The ByteLevel pre-tokenizer (Oniguruma) on edge characters.
EDGE = [
    "a\u0085b", "x \ufeffy", "\ufeff", "a\u00a0b", "a \u00a0 b", "tab\t\tend", "line\r\n\r\nnext", "a\u2028b", "\u3000x\u3000",
    "a\u200bb", "a\u180eb", "  lead", "trail  ", "it's we've I'll", "x\u0085\u0085 y", "\u1680q", "num 12 34.5", "emoji 😀😀 ok",
    "ünïcödé wörds", "日本語のテキスト", "mix\u000bvt\u000cff", "a\u2000\u2001b", "end\u0085",
]
pt = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
cases = []
for s in EDGE:
    pieces = [p for p, _ in pt.pre_tokenize_str(s)]
    cases.append({"text": s, "pieces": pieces})
with open(os.path.join(OUT, "pretokenize.json"), "w") as f:
    json.dump({"generator": "tokenizers " + __import__("tokenizers").__version__, "cases": cases}, f, ensure_ascii=False, indent=1)


# safetensors: what the reference reader accepts and rejects.
def file(header, data=b"", raw_header=None, pad=True):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h = h + b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)
T = lambda dtype, shape, a, b: {"dtype": dtype, "shape": shape, "data_offsets": [a, b]}
CASES = {
    "valid": file({"a": T("F32", [2], 0, 8), "b": T("F32", [1], 8, 12)}, f32(1, 2, 3)),
    "valid-metadata": file({"__metadata__": {"format": "pt"}, "a": T("F32", [1], 0, 4)}, f32(1)),
    "valid-empty": file({}),
    "valid-unordered-offsets": file({"a": T("F32", [1], 4, 8), "b": T("F32", [1], 0, 4)}, f32(1, 2)),
    "valid-zero-size": file({"a": T("F32", [0], 0, 0), "b": T("F32", [1], 0, 4)}, f32(1)),
    "valid-f16-bf16": file({"h": T("F16", [2], 0, 4), "b": T("BF16", [2], 4, 8)}, struct.pack("<4H", 0x3C00, 0xC000, 0x3F80, 0xC040)),
    "valid-proto-name": file({"__proto__": T("F32", [1], 0, 4)}, f32(7)),
    "overlap": file({"a": T("F32", [2], 0, 8), "b": T("F32", [1], 4, 8)}, f32(1, 2)),
    "hole": file({"a": T("F32", [1], 0, 4), "b": T("F32", [1], 8, 12)}, f32(1, 2, 3)),
    "not-from-zero": file({"a": T("F32", [1], 4, 8)}, f32(1, 2)),
    "trailing-bytes": file({"a": T("F32", [1], 0, 4)}, f32(1) + b"\0\0\0\0"),
    "truncated-data": file({"a": T("F32", [2], 0, 8)}, f32(1)),
    "negative-offset": file(None, f32(1), raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}'),
    "negative-shape": file(None, f32(1), raw_header=b'{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}'),
    "float-shape": file(None, f32(1), raw_header=b'{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}'),
    "size-mismatch": file({"a": T("F32", [3], 0, 8)}, f32(1, 2)),
    "unknown-dtype": file({"a": T("F33", [1], 0, 4)}, f32(1)),
    "metadata-number": file(None, f32(1), raw_header=b'{"__metadata__":{"step":3},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    "metadata-nested": file(None, f32(1), raw_header=b'{"__metadata__":{"x":{"y":"z"}},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    "invalid-utf8": file(None, f32(1), raw_header=b'{"a\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    "header-not-object": file(None, b"", raw_header=b"[1, 2]"),
    "header-not-json": file(None, b"", raw_header=b"{nope"),
    "header-past-end": struct.pack("<Q", 1000) + b"{}",
    "header-too-large": struct.pack("<Q", 100_000_001) + b"{}",
    "short-file": b"\x01\x02",
    "end-before-begin": file({"a": T("F32", [0], 4, 0)}, b""),
}
results = []
for name, data in CASES.items():
    try:
        safetensors.deserialize(data)
        ok, err = True, None
    except Exception as e:  # noqa: BLE001 — we record the reference's verdict, whatever it is
        ok, err = False, f"{type(e).__name__}: {e}"
    results.append({"name": name, "bytes": base64.b64encode(data).decode(), "reference_accepts": ok, "reference_error": err})
with open(os.path.join(OUT, "safetensors-cases.json"), "w") as f:
    json.dump({"generator": "safetensors " + safetensors.__version__, "cases": results}, f, indent=1)
print("safetensors cases:", {r["name"]: r["reference_accepts"] for r in results})
