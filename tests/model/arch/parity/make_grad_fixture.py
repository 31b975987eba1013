"""
Independent reference for one TRAINING step's maths (numpy, float64): the masked mean
cross-entropy of the GPT in make_fixture.py and the gradient of every parameter, by a
hand-written backward pass (written from the textbook derivatives, not from our TypeScript),
checked here against central finite differences before anything is written.

Writes fixture-grads-<tied|untied>.safetensors: weights (our names and layout), idx, targets,
mask, the loss and grads/<name> for every parameter. tests/model/native.test.ts (and the cpu
and wasm rows beside it) compare a whole step against it. Regenerate with:
    python3 tests/model/arch/parity/make_grad_fixture.py
"""
import json
from pathlib import Path

import numpy as np

from make_fixture import HERE, gelu, weights, write_safetensors

C_GELU = np.sqrt(2 / np.pi)


def ln_fwd(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    r = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    xh = (x - mu) * r
    return xh * g + b, (xh, r, g)


def ln_bwd(dy, cache):
    xh, r, g = cache
    dxh = dy * g
    dx = r * (dxh - dxh.mean(-1, keepdims=True) - xh * (dxh * xh).mean(-1, keepdims=True))
    return dx, (dy * xh).reshape(-1, xh.shape[-1]).sum(0), dy.reshape(-1, xh.shape[-1]).sum(0)


def gelu_grad(u):
    t = np.tanh(C_GELU * (u + 0.044715 * u**3))
    return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * C_GELU * (1 + 3 * 0.044715 * u * u)


def loss_and_grads(w, idx, tgt, mask, cfg):
    B, T = idx.shape
    C, nh, eps = cfg["nEmbd"], cfg["nHead"], cfg["layerNormEps"]
    hs = C // nh
    causal = np.tril(np.ones((T, T), dtype=bool))
    split = lambda t: t.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
    merge = lambda t: t.transpose(0, 2, 1, 3).reshape(B, T, C)
    x = w["wte"][idx] + w["wpe"][:T][None]
    caches = []
    for l in range(cfg["nLayer"]):
        p = lambda n: w[f"h.{l}.{n}"]
        h1, ln1 = ln_fwd(x, p("ln_1.gamma"), p("ln_1.beta"), eps)
        q, k, v = (split(h1 @ p(f"attn.{n}.kernel") + p(f"attn.{n}.bias")) for n in "qkv")
        s = np.where(causal, q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs), -np.inf)
        att = np.exp(s - s.max(-1, keepdims=True))
        att = att / att.sum(-1, keepdims=True)
        y = merge(att @ v)
        xm = x + y @ p("attn.o.kernel") + p("attn.o.bias")
        h2, ln2 = ln_fwd(xm, p("ln_2.gamma"), p("ln_2.beta"), eps)
        u = h2 @ p("mlp.up.kernel") + p("mlp.up.bias")
        a = gelu(u)
        caches.append((h1, ln1, q, k, v, att, y, h2, ln2, u, a))
        x = xm + a @ p("mlp.down.kernel") + p("mlp.down.bias")
    xf, lnf = ln_fwd(x, w["ln_f.gamma"], w["ln_f.beta"], eps)
    head = w["wte"].T if cfg["tieWeights"] else w["lm_head.kernel"]
    z = (xf @ head).reshape(B * T, -1)
    wt = (mask / max(mask.sum(), 1)).reshape(-1)
    zmax = z.max(-1, keepdims=True)
    lse = np.log(np.exp(z - zmax).sum(-1)) + zmax[:, 0]
    t = tgt.reshape(-1)
    loss = float((wt * (lse - z[np.arange(B * T), t])).sum())

    g = {k: np.zeros_like(v) for k, v in w.items()}
    dz = np.exp(z - lse[:, None])
    dz[np.arange(B * T), t] -= 1
    dz *= wt[:, None]
    xf2 = xf.reshape(B * T, C)
    if cfg["tieWeights"]:
        g["wte"] += dz.T @ xf2
        dxf = dz @ w["wte"]
    else:
        g["lm_head.kernel"] = xf2.T @ dz
        dxf = dz @ head.T
    dx, g["ln_f.gamma"], g["ln_f.beta"] = ln_bwd(dxf.reshape(B, T, C), lnf)
    flat = lambda t: t.reshape(-1, t.shape[-1])
    for l in reversed(range(cfg["nLayer"])):
        p = lambda n: w[f"h.{l}.{n}"]
        h1, ln1, q, k, v, att, y, h2, ln2, u, a = caches[l]
        # MLP: x = xm + gelu(h2·Wup + bup)·Wdown + bdown
        g[f"h.{l}.mlp.down.kernel"] = flat(a).T @ flat(dx)
        g[f"h.{l}.mlp.down.bias"] = flat(dx).sum(0)
        du = (dx @ p("mlp.down.kernel").T) * gelu_grad(u)
        g[f"h.{l}.mlp.up.kernel"] = flat(h2).T @ flat(du)
        g[f"h.{l}.mlp.up.bias"] = flat(du).sum(0)
        dxm, g[f"h.{l}.ln_2.gamma"], g[f"h.{l}.ln_2.beta"] = ln_bwd(du @ p("mlp.up.kernel").T, ln2)
        dxm = dxm + dx
        # attention: xm = x + merge(softmax(q·kᵀ/√hs)·v)·Wo + bo
        g[f"h.{l}.attn.o.kernel"] = flat(y).T @ flat(dxm)
        g[f"h.{l}.attn.o.bias"] = flat(dxm).sum(0)
        dyh = split(dxm @ p("attn.o.kernel").T)
        datt = dyh @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ dyh
        ds = att * (datt - (datt * att).sum(-1, keepdims=True)) / np.sqrt(hs)
        dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        dh1 = 0
        for n, d in (("q", dq), ("k", dk), ("v", dv)):
            d = merge(d)
            g[f"h.{l}.attn.{n}.kernel"] = flat(h1).T @ flat(d)
            g[f"h.{l}.attn.{n}.bias"] = flat(d).sum(0)
            dh1 = dh1 + d @ p(f"attn.{n}.kernel").T
        dx1, g[f"h.{l}.ln_1.gamma"], g[f"h.{l}.ln_1.beta"] = ln_bwd(dh1, ln1)
        dx = dxm + dx1
    np.add.at(g["wte"], idx.reshape(-1), flat(dx))
    g["wpe"][:T] += dx.sum(0)
    return loss, g


def check_finite_differences(w, idx, tgt, mask, cfg, grads, rng):
    for name in w:
        for _ in range(3):
            i = tuple(rng.integers(0, s) for s in w[name].shape)
            h = 1e-6
            wp, wm = dict(w), dict(w)
            wp[name], wm[name] = w[name].copy(), w[name].copy()
            wp[name][i] += h
            wm[name][i] -= h
            fd = (loss_and_grads(wp, idx, tgt, mask, cfg)[0] - loss_and_grads(wm, idx, tgt, mask, cfg)[0]) / (2 * h)
            assert abs(fd - grads[name][i]) < 1e-6 + 1e-5 * abs(fd), (name, i, fd, grads[name][i])


if __name__ == "__main__":
    for tie in (True, False):
        cfg = {"vocabSize": 50, "blockSize": 12, "nLayer": 2, "nHead": 2, "nEmbd": 16, "mlpRatio": 4, "tieWeights": tie, "layerNormEps": 1e-5}
        rng = np.random.default_rng(4321 if tie else 8765)
        w = weights(cfg, rng)
        idx = rng.integers(0, cfg["vocabSize"], size=(3, 10)).astype(np.int32)
        tgt = rng.integers(0, cfg["vocabSize"], size=(3, 10)).astype(np.int32)
        mask = (rng.random((3, 10)) < 0.7).astype(np.float32)
        w64 = {k: v.astype(np.float64) for k, v in w.items()}
        loss, grads = loss_and_grads(w64, idx, tgt, mask.astype(np.float64), cfg)
        check_finite_differences(w64, idx, tgt, mask.astype(np.float64), cfg, grads, rng)
        tensors = {f"weights/{k}": v for k, v in w.items()}
        tensors.update({f"grads/{k}": v.astype(np.float32) for k, v in grads.items()})
        tensors["idx"], tensors["targets"], tensors["mask"] = idx, tgt, mask
        tensors["loss"] = np.array([loss], dtype=np.float32)
        name = f"fixture-grads-{'tied' if tie else 'untied'}.safetensors"
        write_safetensors(HERE / name, tensors, {"config": json.dumps(cfg), "loss_f64": repr(loss)})
        print(f"{name}: loss {loss:.6f}, finite differences agree on {3 * len(w)} entries")
