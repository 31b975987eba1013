"""
The PyTorch peer of bench/train-worker.ts: the same GPT (pre-LN, separate q/k/v/o, tanh GELU,
learned positions, tied head), batch, AdamW (decay on matrices only) and clipping, on CPU.
Prints one JSON line like the tfjs worker.
    .venv/bin/python bench/train_torch.py <threads> [steps=20] [warmup=3]
"""
import json, math, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]); steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20; warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 3
torch.set_num_threads(threads)
V, T, L, H, C, B = 1024, 64, 2, 4, 128, 16

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.q, self.k, self.v, self.o = (nn.Linear(C, C) for _ in range(4))
        self.up, self.down = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
    def forward(self, x):
        b, t, _ = x.shape
        h = self.ln_1(x)
        split = lambda z: z.view(b, t, H, C // H).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(b, t, C))
        return x + self.down(F.gelu(self.up(self.ln_2(x)), approximate="tanh"))

class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)
    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h: x = blk(x)
        return self.ln_f(x) @ self.wte.weight.T

torch.manual_seed(0)
model = GPT()
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)

def step():
    ids = torch.randint(0, V, (B, T + 1))
    loss = F.cross_entropy(model(ids[:, :-1]).reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    loss.item()

for _ in range(warmup): step()
t0 = time.perf_counter()
for _ in range(steps): step()
s = time.perf_counter() - t0
print(json.dumps({"tokens_per_s": steps * B * T / s, "step_ms": 1000 * s / steps, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": threads}))
