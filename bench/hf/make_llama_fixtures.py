"""
Writes the Llama-family fixtures of tests/fixtures/hf/ with the REAL Hugging Face libraries
(transformers 5.17, tokenizers 0.23, safetensors), so `npm test` can hold peftlab's Llama
architecture to them without Python:

  llama-tiny/    LlamaForCausalLM: hidden 64, 4 heads / 2 KV heads (GQA, head_dim 16), 2 layers,
                 SwiGLU 96, rope_theta 1e4 with llama3 scaling (factor 8, low 1, high 4,
                 original_max_position_embeddings 32: see LLAMA3 below), attention_bias and
                 mlp_bias, untied head, saved in bf16 and sharded (index + several shards);
                 Llama 3's regex pre-tokenizer and a BOS post-processor
  qwen2-tiny/    Qwen2ForCausalLM: hidden 64, 4 heads / 2 KV heads with an explicit head_dim 24
                 (≠ 64/4), q/k/v biases and none on o_proj, rope_theta 1e6, tied, float32, one
                 file; Qwen2's regex pre-tokenizer (single digits) and NFC normalizer
  mistral-tiny/  MistralForCausalLM: hidden 64, 4 heads / 1 KV head, linear rope scaling
                 (factor 2), sliding_window 4096 (as Mistral 7B v0.1; longer than any sequence
                 here, so the mask is the plain causal one), untied, float32, one file

Each folder: what save_pretrained writes (config.json, generation_config.json, weights) +
tokenizer.json/tokenizer_config.json (a byte-level BPE of 300 ids trained here by `tokenizers`;
config vocab_size 320, so rows 300..319 exist but no text maps to them) + expected.safetensors:

  input_ids [2, 12] I32   random ids < vocab_size (torch.randint)
  targets   [2, 12] I32   random ids < vocab_size
  logits    [2, 12, V] F32  the model re-loaded from the folder with
                          from_pretrained(dir, dtype=float32) (bf16 weights widened), eval mode
  loss      [] F32        mean cross-entropy of logits vs targets over all 24 positions
  grad.<n>  F32           d loss / d parameter for every parameter, transformers' names and
                          layout (nn.Linear: [out, in]); tied: once, as model.embed_tokens.weight

Weights are random but not the init's near-zero: initializer_range 0.1, RMSNorm gains 1 + 0.1·N
and biases 0.1·N, so a mix-up of any of them shows in the logits.
Run by bench/hf-interop.sh step 2; deterministic (torch.manual_seed per model).
    python bench/hf/make_llama_fixtures.py [out=tests/fixtures/hf]
"""
import json, os, sys

import torch
import torch.nn.functional as F
import safetensors.torch
from tokenizers import Tokenizer, Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)
import transformers

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/hf"
os.makedirs(OUT, exist_ok=True)
torch.set_num_threads(1)  # one reduction order, whatever the machine: a re-run reproduces the bits
VOCAB, TOKENS = 320, 300  # config vocab_size; the tokenizer's size (≤ VOCAB, as Qwen2's 151,665 < 151,936)
B, T = 2, 12

# ~3 KB of English (with digits, punctuation, contractions, whitespace runs and a little Unicode)
TEXT = """The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of
foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light,
it was the season of Darkness, it was the spring of hope, it was the winter of despair.
We hold these truths to be self-evident, that all men are created equal, that they are endowed by
their Creator with certain unalienable Rights, that among these are Life, Liberty and the pursuit of
Happiness. That to secure these rights, Governments are instituted among Men.
Fellow citizens, the state of the union is strong, and our economy grows by 3.5% a year since 2019.
Subject: cheap meds!!! Click here now to win $1000 in prizes. Don't wait; you'll regret it, we've said.
Call me Ishmael. Some years ago - never mind how long precisely - having little or no money in my
purse, and nothing particular to interest me on shore, I thought I would sail about a little and see
the watery part of the world. It is a way I have of driving off the spleen and regulating the circulation.
In the beginning the Universe was created. This has made a lot of people very angry and been widely
regarded as a bad move. Numbers 12345 and 6789, symbols #@%&*, tabs\tand\nnewlines,   runs of   spaces.
Fine-tuning a language model with low-rank adapters trains two small matrices per projection while the
pretrained weights stay frozen; the update is their product, scaled by alpha over r.
Café, naïve, résumé, Zürich, São Paulo — “quoted” text… and 日本語 or 😀 now and then.
"""

# The pre-tokenizer regexes as the real checkpoints' tokenizer.json files ship them.
LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def tokenizer(family):
    """A byte-level BPE of TOKENS ids; specials first, so their ids are 0, 1, …"""
    tok = Tokenizer(models.BPE())
    if family == "mistral":  # the GPT-2 ByteLevel regex
        specials = ["<unk>", "<s>", "</s>"]
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        specials = ["<unk>", "<s>", "</s>"] if family == "llama" else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        split = LLAMA3_SPLIT if family == "llama" else QWEN2_SPLIT
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=family == "llama", use_regex=False)])
    if family == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TOKENS, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([TEXT] * 4, trainer)
    assert tok.get_vocab_size() <= VOCAB
    if family in ("llama", "mistral"):  # BOS prepended, as Llama 3's and Mistral's tokenizers do
        bos = ("<s>", tok.token_to_id("<s>"))
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[bos])
    return tok, specials


def randomize(model):
    with torch.no_grad():  # non-trivial RMSNorm gains and biases, so a mix-up of any of them shows
        for n, p in model.named_parameters():
            if n.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)
            elif "norm" in n:
                p.add_(torch.randn_like(p) * 0.1)


def save_expected(folder, name, notes):
    torch.manual_seed(1)
    input_ids = torch.randint(0, VOCAB, (B, T))
    targets = torch.randint(0, VOCAB, (B, T))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    logits = model(input_ids).logits  # [B, T, V]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))  # mean over B·T
    loss.backward()
    tensors = {"input_ids": input_ids.to(torch.int32), "targets": targets.to(torch.int32),
               "logits": logits.detach().float().contiguous(), "loss": loss.detach().float().reshape(())}
    names = []
    for n, p in model.named_parameters():  # named_parameters() lists a tied weight once
        tensors[f"grad.{n}"] = p.grad.float().contiguous()
        names.append(n)
    meta = {
        "format": "pt",
        "generator": f"bench/hf/make_llama_fixtures.py · torch {torch.__version__} · transformers {transformers.__version__}",
        "model": name,
        "input_ids": "I32 [2, 12]: torch.manual_seed(1); torch.randint(0, vocab_size, (2, 12))",
        "targets": "I32 [2, 12]: the next torch.randint(0, vocab_size, (2, 12))",
        "logits": "F32 [2, 12, vocab_size]: AutoModelForCausalLM.from_pretrained(dir, dtype=float32, attn_implementation='eager').eval()(input_ids).logits; no attention mask, positions 0..11",
        "loss": "F32 [] (scalar): F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)), mean over all 24 positions",
        "grad": "F32 grad.<name>: d loss / d parameter after loss.backward(), transformers' names and layout, for every model.named_parameters() entry (a tied weight once, under model.embed_tokens.weight)",
        "parameters": json.dumps(names),
        "notes": notes,
    }
    safetensors.torch.save_file(tensors, os.path.join(folder, "expected.safetensors"), metadata=meta)
    return loss.item()


def make(name, family, cls, cfg, dtype, shard, notes):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):  # a re-run must not leave shards of another size behind
        os.remove(os.path.join(folder, f))
    torch.manual_seed(0)
    tok, specials = tokenizer(family)
    model = cls(cfg).eval()
    randomize(model)
    model.to(dtype).save_pretrained(folder, max_shard_size="64KB" if shard else "50GB")
    eos = "</s>" if family != "qwen2" else "<|endoftext|>"
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=cfg.max_position_embeddings,
                                   bos_token=None if family == "qwen2" else "<s>", eos_token=eos,
                                   unk_token="<unk>" if family != "qwen2" else None,
                                   pad_token=eos if family == "qwen2" else None)
    fast.save_pretrained(folder)
    # the folder's tokenizer loads with AutoTokenizer and gives the trained tokenizer's ids
    auto = AutoTokenizer.from_pretrained(folder)
    probe = "The state of the union is strong, 12345 — Café!"
    assert auto(probe)["input_ids"] == tok.encode(probe).ids, (auto(probe)["input_ids"], tok.encode(probe).ids)
    loss = save_expected(folder, name, notes)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{folder}: loss {loss:.6f}, {size / 1024:.0f} KB: {sorted(os.listdir(folder))}")


# llama3 scaling: original_max_position_embeddings 32 (not 16) so that head_dim 16's eight
# frequencies fall in all three bands: wavelength 2π·θ^(2i/16) = 6.3 < 32/4 (high band, kept),
# 19.9 in [8, 32] (smoothed), 62.8 and up > 32 (divided by factor 8). With 16, the high band
# (wavelength < 4) would be empty and its branch untested.
LLAMA3 = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 32}
make("llama-tiny", "llama", LlamaForCausalLM,
     LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
                 intermediate_size=96, max_position_embeddings=64, rms_norm_eps=1e-5, rope_parameters=LLAMA3,
                 attention_bias=True, mlp_bias=True, tie_word_embeddings=False, initializer_range=0.1,
                 bos_token_id=1, eos_token_id=2, pad_token_id=None),
     torch.bfloat16, True, "bf16 weights, sharded; llama3 rope; attention_bias (q/k/v/o) and mlp_bias; untied")
make("qwen2-tiny", "qwen2", Qwen2ForCausalLM,
     Qwen2Config(vocab_size=VOCAB, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
                 num_hidden_layers=2, intermediate_size=96, max_position_embeddings=64, rms_norm_eps=1e-6,
                 rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True,
                 initializer_range=0.1, bos_token_id=None, eos_token_id=0, pad_token_id=None),
     torch.float32, False, "float32; head_dim 24 != 64/4; q/k/v biases, no o_proj bias; tied")
make("mistral-tiny", "mistral", MistralForCausalLM,
     MistralConfig(vocab_size=VOCAB, hidden_size=64, num_attention_heads=4, num_key_value_heads=1, num_hidden_layers=2,
                   intermediate_size=96, max_position_embeddings=64, rms_norm_eps=1e-5, sliding_window=4096,
                   rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0},
                   tie_word_embeddings=False, initializer_range=0.1, bos_token_id=1, eos_token_id=2, pad_token_id=None),
     torch.float32, False, "float32; 1 KV head; linear rope factor 2; sliding_window 4096 > 12 (plain causal mask); untied")
