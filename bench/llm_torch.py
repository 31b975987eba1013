"""
The PyTorch side of the real-shape benchmark (issue 20): transformers 5.17 + PEFT 0.21 on CPU,
training a model of SmolLM2-135M's or Qwen2.5-0.5B's published shape (random weights) at
sequence 256, so a TypeScript harness can put peftlab's numbers beside torch's in one run.

  python bench/llm_torch.py make <model>                      write the checkpoint folder (once)
  python bench/llm_torch.py run <model> <lora|full> <threads> [--batch 4] [--warmup 1] [--windows 3]
                                                              [--steps-per-window 1] [--no-profile]
  python bench/llm_torch.py all [--models smollm2-135m,qwen2.5-0.5b] [--threads 1,2] [--methods lora,full]
                                [--malloc keep|default] [same flags]
      one `run` per (model, method, threads) in a fresh process (peak RSS is per process); full
      FT is skipped, with the estimate, where it would not fit in MemAvailable; see KEEP_MEMORY

<model>: smollm2-135m | qwen2.5-0.5b. The folder bench/out/<model>-random/ is what peftlab loads
too: config.json, generation_config.json, model.safetensors (bf16, tied: no lm_head.weight) and a
tokenizer.json (a byte-level BPE trained here on a few KB of text; it has fewer ids than the
model's vocabulary — the benchmark feeds random ids, the tokenizer is only there so the folder is
complete). `run` makes the folder if it is absent.

One step (the same on both sides): ids ~ U[0, vocab) of shape [batch, seq + 1] from a seeded
generator, logits = model(ids[:, :-1]) in float32 (the bf16 weights widened at load), loss =
mean cross-entropy against ids[:, 1:], backward, AdamW(lr 1e-4, betas (0.9, 0.999), eps 1e-8,
weight_decay 0) over the trainable parameters, no clipping, no dropout. LoRA: PEFT r 8, alpha 16,
dropout 0, on q/k/v/o/gate/up/down_proj; full: every parameter.

Each `run` prints one JSON line: tokens/s of each timed window (median of them as tokens_per_s;
also per second of the process's CPU time, tokens_per_cpu_s, the less noisy figure on a shared
machine at one thread), peak RSS (getrusage ru_maxrss, taken before the profiled step), and the
profile split of one more step under torch.profiler: the self CPU time of every op, attributed to the module that ran it —
forward ops through record_function ranges opened by module hooks (innermost module wins),
backward ops through the autograd node's sequence number back to the forward op that made it:
  matmul      nn.Linear projections (q/k/v/o/gate/up/down) and, for LoRA, PEFT's adapter maths
  attention   the attention module less its projections (RoPE, GQA repeat, SDPA) + rotary tables
  norm        RMSNorm
  activation  the MLP less its projections (SiLU and the gate product)
  embedding_head  the embedding, lm_head and the cross-entropy
  optimizer   AdamW step and zero_grad
  other       the rest (residual adds, masks, gradient accumulation, Python glue)
"""
import argparse, json, math, os, resource, statistics, subprocess, sys, time

MODELS = {
    # HuggingFaceTB/SmolLM2-135M's config.json (LlamaForCausalLM): rope_theta 100000, 2048 positions
    "smollm2-135m": dict(cls="llama", vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, head_dim=64, intermediate_size=1536, max_position_embeddings=2048,
                         rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, initializer_range=0.041666666666666664,
                         bos_token_id=0, eos_token_id=0, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
    # Qwen/Qwen2.5-0.5B's config.json (Qwen2ForCausalLM): q/k/v biases, rope_theta 1e6
    "qwen2.5-0.5b": dict(cls="qwen2", vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, intermediate_size=4864, max_position_embeddings=32768, rms_norm_eps=1e-6,
                         rope_theta=1000000.0, tie_word_embeddings=True, initializer_range=0.02,
                         # the hub's bos/eos are 151643, <|endoftext|>'s id there; here that token is id 0
                         bos_token_id=0, eos_token_id=0, specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = """The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.
We hold these truths to be self-evident, that all men are created equal. Call me Ishmael. Some years
ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about
a little and see the watery part of the world. Fine-tuning a language model with low-rank adapters
trains two small matrices per projection while the pretrained weights stay frozen. Numbers 12345 and
6789, symbols #@%&*, tabs\tand\nnewlines. Café, naïve, Zürich, 日本語, 😀.
"""


def folder(name):
    return os.path.join(HERE, "out", f"{name}-random")


def make(name):
    """Random weights by transformers' own init (seed 0), saved as a checkpoint folder in bf16."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    spec = dict(MODELS[name])
    cls, specials, theta = spec.pop("cls"), spec.pop("specials"), spec.pop("rope_theta")
    spec["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    cfg = (LlamaConfig if cls == "llama" else Qwen2Config)(**spec)
    torch.manual_seed(0)
    model = (LlamaForCausalLM if cls == "llama" else Qwen2ForCausalLM)(cfg)
    out = folder(name)
    os.makedirs(out, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(out)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([TEXT] * 8, trainers.BpeTrainer(vocab_size=512, special_tokens=specials,
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=specials[0], bos_token=specials[0] if cls == "llama" else None,
                            model_max_length=cfg.max_position_embeddings).save_pretrained(out)
    return out


CATEGORIES = ["matmul", "attention", "norm", "activation", "embedding_head", "optimizer", "other"]


def category(module_name, module):
    cls = type(module).__name__
    if module_name.endswith("embed_tokens") or module_name.endswith("lm_head"):
        return "embedding_head"
    if cls.endswith("RMSNorm"):
        return "norm"
    if cls.endswith("Attention") or cls.endswith("RotaryEmbedding"):
        return "attention"
    if cls.endswith("MLP") or cls == "SiLU":
        return "activation"
    if cls == "Linear" or type(module).__module__.startswith("peft.tuners"):  # nn.Linear, PEFT's lora.Linear
        return "matmul" if not module_name.endswith("lm_head") else "embedding_head"
    return None


def profile_split(model, step):
    """One step under torch.profiler; the share of self CPU time per category (see the docstring)."""
    import torch
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile
    stack, handles = [], []

    def enter(label):
        def pre(_m, _a):
            r = record_function(label); r.__enter__(); stack.append(r)
        return pre

    def leave(_m, _a, _o):
        stack.pop().__exit__(None, None, None)

    for n, m in model.named_modules():
        c = category(n, m)
        if c is not None:
            handles += [m.register_forward_pre_hook(enter("cat:" + c)), m.register_forward_hook(leave)]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(record_function)
    for h in handles:
        h.remove()
    events = prof.events()

    def ancestors(e):
        while e is not None:
            yield e
            e = e.cpu_parent

    # forward sequence number → category of the innermost module range around the op. Ops that
    # make no autograd node carry the NEXT node's number, so the last op with a number (in time
    # order) is the one that made the node the backward pass reports.
    # (Ops inside a backward node carry that node's number too: they are not forward ops.)
    backward = lambda e: any(a.name.startswith("autograd::engine::evaluate_function: ") for a in ancestors(e))
    fwd = {}
    for e in sorted(events, key=lambda e: e.time_range.start):
        if e.sequence_nr >= 0 and not backward(e):
            fwd[e.sequence_nr] = next((a.name[4:] for a in ancestors(e.cpu_parent) if a.name.startswith("cat:")), "other")
    total = {c: 0.0 for c in CATEGORIES}
    for e in events:
        c = None
        for a in ancestors(e):
            if a.name.startswith("cat:"):
                c = a.name[4:]; break
            if a.name.startswith("autograd::engine::evaluate_function: "):
                c = fwd.get(a.sequence_nr, "other") if a.sequence_nr >= 0 else "other"; break
        total[c or "other"] += e.self_cpu_time_total
    s = sum(total.values())
    return {"profile_ms": round(s / 1000, 1), **{c: round(v / s, 4) for c, v in total.items()}}


def run(args):
    import torch
    import torch.nn.functional as F
    import transformers, peft
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(args.threads)
    path = folder(args.model)
    if not os.path.exists(os.path.join(path, "config.json")):  # in its own process: not in this one's peak RSS
        subprocess.run([sys.executable, __file__, "make", args.model], check=True, stdout=subprocess.DEVNULL)
    load_avg = os.getloadavg()
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.config.use_cache = False
    if args.method == "lora":
        model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS, bias="none"))
    model.train()
    load_s = time.perf_counter() - t0
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    V = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    losses = []

    def step(rf=None):
        scope = rf if rf is not None else (lambda _n: __import__("contextlib").nullcontext())
        ids = torch.randint(0, V, (args.batch, args.seq + 1), generator=gen)
        logits = model(input_ids=ids[:, :-1]).logits  # [B, T, V] float32
        with scope("cat:embedding_head"):
            loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        with scope("cat:optimizer"):
            opt.step()
            opt.zero_grad(set_to_none=True)
        losses.append(loss.item())

    for _ in range(args.warmup):
        step()
    windows, cpu_windows = [], []  # tokens per wall second; per second of this process's CPU time
    for _ in range(args.windows):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(args.steps_per_window):
            step()
        windows.append(args.steps_per_window * args.batch * args.seq / (time.perf_counter() - t))
        cpu_windows.append(args.steps_per_window * args.batch * args.seq / (time.process_time() - c))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    split = profile_split(model, step) if args.profile else None
    tps = statistics.median(windows)
    return {
        "side": "torch", "model": args.model, "folder": os.path.relpath(path), "method": args.method, "threads": args.threads,
        "batch": args.batch, "seq": args.seq, "tokens_per_step": args.batch * args.seq,
        "warmup_steps": args.warmup, "steps_per_window": args.steps_per_window,
        "windows_tokens_per_s": [round(w, 1) for w in windows], "tokens_per_s": round(tps, 1),
        "step_s": round(args.batch * args.seq / tps, 3),
        # all threads' CPU time: at 1 thread the step's cost with less of the other jobs' noise
        "windows_tokens_per_cpu_s": [round(w, 1) for w in cpu_windows], "tokens_per_cpu_s": round(statistics.median(cpu_windows), 1), "peak_rss_mb": round(peak),
        "params_total": sum(p.numel() for p in model.parameters()), "params_trainable": sum(p.numel() for p in params),
        "loss_first": round(losses[0], 4), "loss_last_timed": round(losses[args.warmup + args.windows * args.steps_per_window - 1], 4),
        "profile": split, "load_s": round(load_s, 1),
        "attn_implementation": model.config._attn_implementation,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "malloc": MALLOC_NOTE if os.environ.get("MALLOC_TRIM_THRESHOLD_") else "glibc default",
        "load_avg_1m_before_after": [round(load_avg[0], 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
    }


# glibc returns large freed blocks to the kernel, so every step faults its ~200 MB logits buffers
# in again; on this VM a fresh page costs ~40-60 MB/s under load (measured: 3.5-7 s to first-touch
# 200 MB, 44 ms to refill it), more than the matmuls. `all` runs torch with these thresholds by
# default, so freed memory stays in the process (as peftlab's wasm heap does); --malloc default
# measures what an untuned torch gets.
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736", "MALLOC_TOP_PAD_": "1073741824"}
MALLOC_NOTE = "glibc, freed memory kept: " + " ".join(f"{k}={v}" for k, v in KEEP_MEMORY.items())


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make", "run", "all"])
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--batch", type=int, default=4)  # 4 × 256 = 1,024 tokens a step
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--steps-per-window", type=int, default=1)
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-0.5b")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--methods", default="lora,full")
    ap.add_argument("--malloc", choices=["keep", "default"], default="keep")
    a = ap.parse_args()
    if a.cmd == "make":
        print(make(a.rest[0]))
    elif a.cmd == "run":
        a.model, a.method, a.threads = a.rest[0], a.rest[1], int(a.rest[2])
        assert a.model in MODELS and a.method in ("lora", "full")
        print(json.dumps(run(a)), flush=True)
    else:
        flags = ["--batch", str(a.batch), "--seq", str(a.seq), "--warmup", str(a.warmup), "--windows", str(a.windows),
                 "--steps-per-window", str(a.steps_per_window)] + ([] if a.profile else ["--no-profile"])
        for model in a.models.split(","):
            lora_rss = None
            for method in a.methods.split(","):
                for threads in a.threads.split(","):
                    if method == "full" and lora_rss is not None:
                        # full FT holds 4 float32 copies of every parameter (weights, grads, Adam m and v)
                        # beyond what the LoRA run needed: refuse before an out-of-memory kill
                        from transformers import AutoConfig
                        need = lora_rss + 3 * 4 * param_count(AutoConfig.from_pretrained(folder(model))) / 2**20
                        if need > 0.9 * mem_available_mb():
                            print(json.dumps({"side": "torch", "model": model, "method": method, "threads": int(threads),
                                              "skipped": f"estimated peak {need:.0f} MB > 90% of MemAvailable {mem_available_mb():.0f} MB"}), flush=True)
                            continue
                    env = {**os.environ, **(KEEP_MEMORY if a.malloc == "keep" else {})}
                    r = subprocess.run([sys.executable, __file__, "run", model, method, threads] + flags, capture_output=True, text=True, env=env)
                    line = next((l for l in r.stdout.splitlines() if l.startswith("{")), None)
                    if r.returncode != 0 or line is None:
                        print(json.dumps({"side": "torch", "model": model, "method": method, "threads": int(threads),
                                          "failed": f"exit {r.returncode}", "stderr_tail": r.stderr[-800:]}), flush=True)
                        continue
                    print(line, flush=True)
                    if method == "lora":
                        lora_rss = max(lora_rss or 0, json.loads(line)["peak_rss_mb"])


def param_count(cfg):
    """Parameters of a Llama/Qwen2 config (tied head: the embedding once)."""
    d, f, L, V = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.vocab_size
    hd = getattr(cfg, "head_dim", None) or d // cfg.num_attention_heads
    q, kv = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
    attn = d * q + 2 * d * kv + q * d + ((q + 2 * kv) if cfg.model_type == "qwen2" else 0)
    return V * d * (1 if cfg.tie_word_embeddings else 2) + L * (attn + 3 * d * f + 2 * d) + d


if __name__ == "__main__":
    main()
