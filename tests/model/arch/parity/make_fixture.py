"""
Independent reference for the GPT forward pass (numpy, float64), written from the nanoGPT /
GPT-2 definitions rather than from our TypeScript: pre-LayerNorm blocks, causal multi-head
attention, tanh-GELU MLP, learned positions, tied or separate output head.

Writes fixture-<tie|untied>.safetensors with the weights (our names and layout: kernels are
(d_in, d_out)), the token ids, and the expected logits. The safetensors writer is the format
spec done by hand (numpy has no safetensors module here). Regenerate with:
    python3 tests/model/arch/parity/make_fixture.py
"""
import json
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # biased, as torch.nn.LayerNorm
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):  # GPT-2's gelu_new
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def forward(w, idx, cfg):
    B, T = idx.shape
    C, nh = cfg["nEmbd"], cfg["nHead"]
    hs = C // nh
    x = w["wte"][idx] + w["wpe"][:T][None]  # (B, T, C)
    causal = np.tril(np.ones((T, T), dtype=bool))
    for l in range(cfg["nLayer"]):
        p = lambda n: w[f"h.{l}.{n}"]
        h = layer_norm(x, p("ln_1.gamma"), p("ln_1.beta"))
        q, k, v = (h @ p(f"attn.{n}.kernel") + p(f"attn.{n}.bias") for n in "qkv")
        split = lambda t: t.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        q, k, v = split(q), split(k), split(v)
        att = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs)
        att = np.where(causal, att, -np.inf)
        att = np.exp(att - att.max(-1, keepdims=True))
        att = att / att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ p("attn.o.kernel") + p("attn.o.bias")
        h = layer_norm(x, p("ln_2.gamma"), p("ln_2.beta"))
        x = x + gelu(h @ p("mlp.up.kernel") + p("mlp.up.bias")) @ p("mlp.down.kernel") + p("mlp.down.bias")
    x = layer_norm(x, w["ln_f.gamma"], w["ln_f.beta"])
    head = w["wte"].T if cfg["tieWeights"] else w["lm_head.kernel"]
    return x @ head


def weights(cfg, rng):
    C, V, H = cfg["nEmbd"], cfg["vocabSize"], cfg["mlpRatio"] * cfg["nEmbd"]
    # Larger than GPT-2's init (std 0.02) so every term moves the logits visibly.
    n = lambda *s: rng.normal(0, 0.3, s)
    w = {"wte": n(V, C), "wpe": n(cfg["blockSize"], C), "ln_f.gamma": 1 + n(C), "ln_f.beta": n(C)}
    for l in range(cfg["nLayer"]):
        for ln in ("ln_1", "ln_2"):
            w[f"h.{l}.{ln}.gamma"], w[f"h.{l}.{ln}.beta"] = 1 + n(C), n(C)
        for name, (i, o) in {"attn.q": (C, C), "attn.k": (C, C), "attn.v": (C, C), "attn.o": (C, C), "mlp.up": (C, H), "mlp.down": (H, C)}.items():
            w[f"h.{l}.{name}.kernel"], w[f"h.{l}.{name}.bias"] = n(i, o) / np.sqrt(i / 4), n(o)
    if not cfg["tieWeights"]:
        w["lm_head.kernel"] = n(C, V)
    return {k: v.astype(np.float32) for k, v in w.items()}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dtype = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if __name__ == "__main__":
    for tie in (True, False):
        cfg = {"vocabSize": 50, "blockSize": 12, "nLayer": 2, "nHead": 2, "nEmbd": 16, "mlpRatio": 4, "tieWeights": tie, "layerNormEps": 1e-5}
        rng = np.random.default_rng(1234 if tie else 5678)
        w = weights(cfg, rng)
        idx = rng.integers(0, cfg["vocabSize"], size=(3, 10)).astype(np.int32)
        logits = forward({k: v.astype(np.float64) for k, v in w.items()}, idx, cfg)
        tensors = {f"weights/{k}": v for k, v in w.items()}
        tensors["idx"], tensors["logits"] = idx, logits.astype(np.float32)
        write_safetensors(HERE / f"fixture-{'tied' if tie else 'untied'}.safetensors", tensors, {"config": json.dumps(cfg)})
        print(f"tie={tie}: logits std {logits.std():.3f}, max |logit| {np.abs(logits).max():.3f}")
