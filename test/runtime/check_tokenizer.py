#!/usr/bin/env python3
"""Tokenizes a corpus of varied strings (CJK, emoji, code, runs of spaces and
newlines, contractions in any case, digits, special tokens, invalid UTF-8)
with mcc's runtime tokenizer and with the Hugging Face `tokenizers` library,
and requires identical ids for every string.

usage: check_tokenizer.py MCC_PROBE MODEL
MODEL is a GGUF file or a directory holding tokenizer.json (used as is). For
a byte-level GGUF the reference is `tokenizers` built from the file's
metadata; for a SentencePiece GGUF (scores, no merges) it is llama.cpp
(llama-cpp-python) loading the same file.
"""
import os
import random
import subprocess
import sys

PIECES = [
    "Hello, world!", "What is machine learning?", "The quick brown fox jumps over the lazy dog.",
    "I'M here, you're there; we'LL see. Don't, won't, it's, I'd, they've",
    "日本語のテキストです。", "中文分词测试，你好世界！", "한국어 문장입니다", "Привет, мир!", "Ελληνικά γράμματα",
    "مرحبا بالعالم", "नमस्ते दुनिया", "ไทยภาษา", "emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 and ✨", "🤖🤖🤖",
    "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }", "#include <stdio.h>\n",
    "    four spaces", "\t\ttabs\tand\ttext", "\n\n\nnewlines\n\n", "  \n  \n", "trailing spaces   ", "   ",
    "a\r\nb\r\n", "12345", "3.14159265358979", "1,000,000 and 42nd", "x1y22z333", "٣٤٥ ¼ ½ Ⅻ",
    "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<|im_start|><|im_end|>", "not<|im_end|>special",
    "email@example.com https://example.org/path?q=1&r=2", "$$$ ??? !!! ...", "‘quotes’ “double” «guillemets»",
    "café naïve résumé", "ÅÄÖ åäö", "straße", "İstanbul ıi", "µs °C ±", "\u00a0nbsp\u2009thin\u3000ideographic",
    "zero\u200bwidth", "<s>", "</s>", "<unk>", "a<s>b</s> c", "A" * 50, "ab" * 30, "'s's's", "''quoted''", "--flag=value", "snake_case_name CamelCaseName",
]


def corpus(n):
    rng = random.Random(1234)
    out = list(PIECES)
    while len(out) < n:
        k = rng.randint(1, 4)
        s = "".join(rng.choice(PIECES) + rng.choice(["", " ", "\n", "  ", "\t", ". "]) for _ in range(k))
        if rng.random() < 0.15:   # cut mid-way: may split a multi-byte character
            b = s.encode()
            s = b[: rng.randint(0, len(b))]
        elif rng.random() < 0.1:  # inject invalid bytes
            b = s.encode()
            i = rng.randint(0, len(b))
            s = b[:i] + rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80\x80", b"\xed\xa0\x80"]) + b[i:]
        out.append(s)
    return [s if isinstance(s, bytes) else s.encode() for s in out]


class LlamaCpp:
    def __init__(self, model):
        from llama_cpp import Llama
        self.llm = Llama(model_path=model, vocab_only=True, verbose=False)

    def encode(self, text, add_special_tokens=False):
        class Ids:
            pass
        r = Ids()
        r.ids = self.llm.tokenize(text.encode(), add_bos=add_special_tokens, special=True)
        return r


def reference(model):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    if os.path.isdir(model):
        return Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    import gguf
    r = gguf.GGUFReader(model)
    f = r.fields
    if bytes(f["tokenizer.ggml.model"].parts[f["tokenizer.ggml.model"].data[0]]).decode() == "llama":
        return LlamaCpp(model)
    def strs(key):
        fld = f[key]
        return [bytes(fld.parts[i]).decode("utf-8") for i in fld.data]
    tokens = strs("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in strs("tokenizer.ggml.merges")]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    pre = bytes(f["tokenizer.ggml.pre"].parts[f["tokenizer.ggml.pre"].data[0]]).decode()
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":   # SmolLM's tokenizer.json: every digit alone, then GPT-2 rules
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif pre in ("gpt2", "default"):
        tok.pre_tokenizer = byte_level
    elif pre in ("qwen2", "llama-bpe"):
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
        from make_fixtures import LLAMA3_REGEX, QWEN2_REGEX
        from tokenizers import Regex
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_REGEX if pre == "qwen2" else LLAMA3_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        sys.exit(f"check_tokenizer: no reference set-up for pre-tokenizer '{pre}'")
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tok


def main():
    probe, model = sys.argv[1], sys.argv[2]
    texts = corpus(1200)
    ref = reference(model)
    want = [ref.encode(t.decode("utf-8", errors="replace"), add_special_tokens=False).ids for t in texts]
    p = subprocess.run([probe, "tokenize", model], input="\n".join(t.hex() for t in texts) + "\n",
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"FAIL: mcc-probe: {p.stderr.strip()}")
    got = [[int(x) for x in line.split()] for line in p.stdout.split("\n")[:len(texts)]]
    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    for i in bad[:5]:
        print(f"MISMATCH {texts[i]!r}\n  mcc {got[i]}\n  ref {want[i]}")
    if bad:
        sys.exit(f"FAIL: {len(bad)} of {len(texts)} strings tokenize differently")
    name = "llama.cpp" if isinstance(ref, LlamaCpp) else "tokenizers"
    print(f"OK {len(texts)} strings, {sum(map(len, want))} tokens identical to {name}")


if __name__ == "__main__":
    main()
