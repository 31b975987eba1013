"""
Writes one small tokenizer per Llama-family pipeline, and the ids Python `tokenizers` gives for
a fixed list of texts, for tests/model/data/hf-tokenizer.test.ts.

    /work/venv/bin/python tests/model/data/hf-tokenizers/make_fixtures.py   (tokenizers 0.23.2, transformers 5.17)

Each family keeps its published pipeline — normalizer, pre-tokenizer, model flags, decoder,
post-processor, added tokens — as the checkpoints ship it on the Hub; only the vocabulary is
new: trained here by the tokenizers BPE trainer on the few KB of CORPUS below (so the files stay
small), with the family's added tokens appended where the family puts them.

  llama3   Meta-Llama-3-8B: Split(cl100k regex, \\p{N}{1,3}) + ByteLevel(use_regex=False),
           BPE ignore_merges, post-processor Sequence[ByteLevel, TemplateProcessing(<|begin_of_text|> $A)].
           Regex as in transformers' TikTokenConverter (convert_slow_tokenizer.py) and the
           published tokenizer.json.
  qwen2    Qwen2/2.5: NFC, Split(Qwen regex, single \\p{N}) + ByteLevel, ByteLevel post-processor
           (no BOS); regex as transformers' Qwen2Tokenizer PRETOKENIZE_REGEX. Some added tokens
           are not special (<tool_call>), as Qwen2.5 ships them.
  mistral  Mistral 7B v0.1 / Llama 2 (sentencepiece BPE as converted by transformers, legacy):
           normalizer Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer, BPE with <unk>,
           byte_fallback and fuse_unk, vocabulary <unk> <s> </s> <0x00>…<0xFF> then pieces,
           decoder Replace/ByteFallback/Fuse/Strip, post-processor TemplateProcessing(<s> $A).
  smollm2  SmolLM2 (StarCoder-style GPT-2 BPE): Digits(individual) + ByteLevel(use_regex=True),
           special tokens at ids 0…, ByteLevel post-processor (no BOS).

Outputs, per family: <family>/tokenizer.json, <family>/tokenizer_config.json (written by
transformers' save_pretrained with the family's bos/eos tokens), <family>/expected.json.
"""
import json
import os
import shutil
import tempfile

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

assert tokenizers.__version__ == "0.23.2", tokenizers.__version__

HERE = os.path.dirname(os.path.abspath(__file__))

# transformers 5.17 convert_slow_tokenizer.py, TikTokenConverter's default pattern (Llama 3's published Split regex).
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# transformers 5.17 models/qwen2/tokenization_qwen2.py, PRETOKENIZE_REGEX (Qwen2/2.5's published Split regex).
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# The training text: English prose, contractions, numbers, code, a little French and German.
# No CJK and no emoji, so that the fixture texts also reach byte fallback / single-byte tokens.
CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's a sentence that uses every letter of the alphabet.",
    "We'll see what they've done. I'm sure you'd like it, and she'll say it's fine; don't worry, they're here.",
    "Subject: cheap meds now! Click here to claim your prize of $1,000,000 before 12/31/2024.",
    "Label: spam\nLabel: ham\nLabel: spam\nThe meeting is at 10:30 tomorrow in room 42.",
    "In 1969, Apollo 11 landed on the Moon; 3.14159 is pi and 2.71828 is e. Call 555-0123 or 555-0199.",
    "def train(model, data, steps=1000):\n    for step in range(steps):\n        loss = model(data[step % len(data)])\n        loss.backward()\n    return model\n",
    "for (let i = 0; i < n; i++) {\n\tsum += values[i] * weights[i];\n}\nconsole.log(sum);\n",
    "Le café est très bon à Paris. Les élèves étudient la thèse de Noël. Où est la bibliothèque ?",
    "Die Straße ist schön, und die Brücke über den Fluss ist groß. Grüße aus München!",
    "Fine-tuning large language models with low-rank adapters (LoRA) trains two small matrices per layer.",
    "Parameter-efficient methods such as VeRA, LoRA-FA and Delta-LoRA change fewer weights than full fine-tuning.",
    "The results table reports accuracy, macro-F1 and perplexity for each method, seed and learning rate.",
    "Hello, world! Hello again, world. HELLO WORLD. hello world.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 100 256 1024 4096 65536 123456789.",
    "    Indented line with four spaces.\n        And eight.\n\nTwo newlines above.\r\nA carriage return too.",
    "Question: what is the capital of France? Answer: Paris.\nQuestion: 7 * 6? Answer: 42.",
    "Email me at someone@example.com or visit https://example.org/path?query=1&x=2 for details.",
    "Prices went up 15% in Q3; revenue was $2.5M (up from $2.1M). Margins: 23.4% vs 21.9%.",
    "She said, \"It isn't over.\" He replied: 'Not yet -- but soon.' They laughed...",
    "A naïve résumé, a façade, a coöperative, an Ångström, and a jalapeño.",
] * 3

# The fixture texts: Unicode (accents, CJK, emoji, combining marks, U+0085, U+FEFF, NBSP), digits
# and long numbers, whitespace runs (spaces, tabs, newlines, trailing), contractions in both cases,
# code, and the empty string. Each family adds texts with its own special tokens inside.
TEXTS = [
    "Hello world! It's a test, isn't it? We'll see.",
    "I'M SURE THEY'LL SAY IT'S FINE, DON'T YOU THINK",
    "Café naïve résumé façade Ångström jalapeño",
    "Combining: e\u0301 a\u0300 n\u0303 A\u030a, and \u212b (angstrom sign)",
    "日本語のテキスト 你好，世界！ 한국어",
    "Emoji: 😀👍🏽🇺🇸 ❤️ 👨\u200d👩\u200d👧",
    "NEL\u0085here BOM\ufeffthere NBSP\u00a0here \u3000ideographic",
    "Numbers: 0 7 42 123 1234 12345 3.14159 1,000,000 and 12345678901234567890",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\t\tmore\t\t\ttabs",
    "line\nbreaks\n\n\nand\r\nCRLF\n",
    "   \n\t  \n  ",
    " ",
    "",
    "def f(x):\n    return x ** 2  # comment\n",
    "Subject: cheap meds now!\nLabel:",
    " spam",
]

FAMILY_SPECIAL_TEXTS = {
    "llama3": [
        "<|begin_of_text|>Hello<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "text <|end_of_text|> more <|reserved_special_token_0|>end",
    ],
    "qwen2": [
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n",
        "<|endoftext|>after end",
        "call <tool_call>{\"x\": 1}</tool_call> done",
    ],
    "mistral": [
        "<s>[INST] Hello there [/INST] Hi!</s>",
        "a <s> b </s> c <unk> d",
        "<0x41> is not a byte token in text",
    ],
    "smollm2": [
        "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
        "<|endoftext|>x<repo_name>peftlab<file_sep>src/a.ts",
    ],
}


def train_byte_level(tok: Tokenizer, vocab_size: int, special_tokens=()) -> None:
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(special_tokens),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)


def patched(tok: Tokenizer, fields: dict) -> Tokenizer:
    """The tokenizer with some tokenizer.json fields set (a dict merges one level into the field)."""
    d = json.loads(tok.to_str())
    for k, v in fields.items():
        d[k] = {**d[k], **v} if k == "model" else v
    return Tokenizer.from_str(json.dumps(d))


def llama3() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE(fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    train_byte_level(tok, 600)
    tok.model.ignore_merges = True
    # Meta's first ten special tokens (transformers' DEFAULT_LLAMA_SPECIAL_TOKENS["3"]), after the vocabulary.
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
                "<|reserved_special_token_4|>", "<|eot_id|>"]
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    bos = "<|begin_of_text|>"
    bos_id = tok.token_to_id(bos)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, bos_id)]),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    return tok, {"bos_token": bos, "eos_token": "<|end_of_text|>"}


def qwen2() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    train_byte_level(tok, 600)
    tok.add_tokens([
        AddedToken("<|endoftext|>", normalized=False, special=True),
        AddedToken("<|im_start|>", normalized=False, special=True),
        AddedToken("<|im_end|>", normalized=False, special=True),
        AddedToken("<tool_call>", normalized=False, special=False),
        AddedToken("</tool_call>", normalized=False, special=False),
    ])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    # As Qwen2.5 publishes them (the trainer's model and the Python ByteLevel decoder serialize
    # other values for these fields; none of them changes an id or a decoded string).
    tok = patched(tok, {
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"continuing_subword_prefix": "", "end_of_word_suffix": ""},
    })
    return tok, {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}


def mistral() -> tuple[Tokenizer, dict]:
    # Train sentencepiece-style pieces ("▁word"): Metaspace splits on spaces for the trainer only.
    trainee = Tokenizer(models.BPE(unk_token="<unk>"))
    trainee.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # sentencepiece keeps no piece for "\n", "\t" or "\r": those reach the model as byte tokens (<0x0A>…).
    corpus = [t.replace("\n", " ").replace("\t", " ").replace("\r", " ") for t in CORPUS]
    trainee.train_from_iterator(corpus, trainer=trainers.BpeTrainer(vocab_size=520, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False))
    trained = json.loads(trainee.to_str())["model"]
    # Llama 2 / Mistral layout: <unk> <s> </s>, the 256 byte tokens, then the pieces in training order.
    order = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    order += [t for t, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]) if t not in order]
    vocab = {t: i for i, t in enumerate(order)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in trained["merges"]], unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in ["<unk>", "<s>", "</s>"]])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)])
    return tok, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def smollm2() -> tuple[Tokenizer, dict]:
    tok = Tokenizer(models.BPE(fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    # SmolLM2's first special tokens, at ids 0… (the trainer puts special_tokens first).
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>", "<filename>"]
    train_byte_level(tok, 600, specials)
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    return tok, {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}


def around(tok: Tokenizer) -> tuple[list[int], list[int]]:
    """The ids the post-processor puts before and after a single sequence."""
    plain = tok.encode("a b", add_special_tokens=False).ids
    full = tok.encode("a b", add_special_tokens=True).ids
    for k in range(len(full) - len(plain) + 1):
        if full[k:k + len(plain)] == plain:
            return full[:k], full[k + len(plain):]
    raise AssertionError("the post-processor rewrote the sequence itself")


def write(family: str, build) -> None:
    tok, special = build()
    out = os.path.join(HERE, family)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "tokenizer.json")
    tok.save(path)
    # tokenizer_config.json as transformers writes it for this tokenizer and its bos/eos.
    with tempfile.TemporaryDirectory() as tmp:
        PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(path), **special).save_pretrained(tmp)
        shutil.copy(os.path.join(tmp, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))
    # The reference: the file on disk, read back by Python tokenizers.
    ref = Tokenizer.from_file(path)
    cases = []
    for text in TEXTS + FAMILY_SPECIAL_TEXTS[family]:
        plain = ref.encode(text, add_special_tokens=False).ids
        full = ref.encode(text, add_special_tokens=True).ids
        cases.append({
            "text": text,
            "ids": plain,
            "ids_special": full,
            "decoded": ref.decode(plain, skip_special_tokens=False),
            "decoded_special": ref.decode(full, skip_special_tokens=False),
        })
    before, after = around(ref)
    tid = lambda name: None if special.get(name) is None else ref.token_to_id(special[name])
    expected = {
        "family": family,
        "tokenizers_version": tokenizers.__version__,
        "vocab_size": ref.get_vocab_size(with_added_tokens=True),
        "max_id": max(ref.get_vocab(with_added_tokens=True).values()),
        "bos_id": tid("bos_token"),
        "eos_id": tid("eos_token"),
        "prefix": before,
        "suffix": after,
        "cases": cases,
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{family}: vocab {expected['vocab_size']}, prefix {before}, suffix {after}, bos {expected['bos_id']}, eos {expected['eos_id']}, "
          f"tokenizer.json {os.path.getsize(path)} B")


if __name__ == "__main__":
    for name, fn in [("llama3", llama3), ("qwen2", qwen2), ("mistral", mistral), ("smollm2", smollm2)]:
        write(name, fn)
