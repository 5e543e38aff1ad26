#!/usr/bin/env python3
"""Teacher-forced comparison of a compiled mcc executable with
  - an fp64 NumPy forward pass written here, over exactly the weights mcc
    dequantizes (dumped by mcc-dequant): top-1 agreement and mean KL;
  - optionally llama-cpp-python on the same GGUF: perplexity.

usage: check_logits.py EXE MODEL WORKDIR --tools BIN [--tokens N] [--min-top1 F] [--max-kl F] [--llama-cpp]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

TEXT = """Machine learning is a field of study in artificial intelligence concerned with the development of
statistical algorithms that can learn from data and generalize to unseen data, and thus perform tasks without
explicit instructions. Within a subdiscipline in machine learning, advances in the field of deep learning have
allowed neural networks to surpass many previous approaches in performance. The mathematical foundations of
machine learning are provided by mathematical optimization methods. Data mining is a related field of study,
focusing on exploratory data analysis via unsupervised learning. A computer is a machine that can be
programmed to automatically carry out sequences of arithmetic or logical operations. Modern digital electronic
computers can perform generic sets of operations known as programs, which enable computers to perform a wide
range of tasks. The term computer system may refer to a nominally complete computer that includes the hardware,
operating system, software, and peripheral equipment needed and used for full operation. The history of bread
goes back at least 30,000 years: people ground the grains of wild plants into flour, mixed it with water and
baked the paste on hot stones. Rivers carry water from mountains to the sea; along the way they shape valleys,
feed farmland and give cities their drinking water. In 1969 two astronauts walked on the Moon while a third
orbited above them, and millions of people watched on television. Music is the arrangement of sound to create
some combination of form, harmony, melody, rhythm, or otherwise expressive content. Photosynthesis is the
process by which plants use sunlight, water and carbon dioxide to create oxygen and energy in the form of sugar.
The printing press, invented around 1440, made books cheaper and helped spread ideas across Europe. Chess is a
board game for two players; each begins with sixteen pieces and tries to checkmate the opponent's king.
""" * 3


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.exit(f"FAIL: {' '.join(cmd[:2])}: {p.stderr.strip()}")
    return p.stdout


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_tables(hp, n, W):
    r = hp["rope"]
    dim, theta = r["dim"], r["theta"]
    inv = theta ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    if "rope_freqs" in W:
        inv = inv / W["rope_freqs"].astype(np.float64)
    if r["scaling"] == "linear":
        inv = inv / r["factor"]
    elif r["scaling"] == "llama3":
        s = hp["_rope_scaling"]
        orig, lo, hi, f = s["original_max_position_embeddings"], s["low_freq_factor"], s["high_freq_factor"], s["factor"]
        wave = 2 * np.pi / inv
        smooth = (orig / wave - lo) / (hi - lo)
        inv = np.where(wave > orig / lo, inv / f, np.where(wave < orig / hi, inv, (1 - smooth) * inv / f + smooth * inv))
    ang = np.arange(n)[:, None] * inv[None, :]
    return np.cos(ang), np.sin(ang)


def rope(x, cos, sin, style):
    # x: [n, heads, head_dim]; rotate the first 2*len(inv) dims.
    half = cos.shape[1]
    c, s = cos[:, None, :], sin[:, None, :]
    y = x.copy()
    if style == "neox":
        a, b = x[..., :half], x[..., half:2 * half]
        y[..., :half], y[..., half:2 * half] = a * c - b * s, a * s + b * c
    else:
        a, b = x[..., 0:2 * half:2], x[..., 1:2 * half:2]
        y[..., 0:2 * half:2], y[..., 1:2 * half:2] = a * c - b * s, a * s + b * c
    return y


def forward(hp, W, tokens):
    n, H, KV, hd = len(tokens), hp["heads"], hp["kv_heads"], hp["head_dim"]
    eps = hp["rms_norm_eps"]
    x = W["token_embd"][tokens]
    cos, sin = rope_tables(hp, n, W)
    mask = np.triu(np.full((n, n), -np.inf), 1)
    if hp["sliding_window"]:
        mask += np.tril(np.full((n, n), -np.inf), -hp["sliding_window"])
    for l in range(hp["layers"]):
        g = lambda k: W[f"blk.{l}.{k}"]
        h = rmsnorm(x, g("attn_norm"), eps)
        q, k, v = h @ g("attn_q").T, h @ g("attn_k").T, h @ g("attn_v").T
        if hp["qkv_bias"]:
            q, k, v = q + g("attn_q.bias"), k + g("attn_k.bias"), v + g("attn_v.bias")
        q, k, v = q.reshape(n, H, hd), k.reshape(n, KV, hd), v.reshape(n, KV, hd)
        if hp["qk_norm"]:
            q, k = rmsnorm(q, g("attn_q_norm"), eps), rmsnorm(k, g("attn_k_norm"), eps)
        q, k = rope(q, cos, sin, hp["rope"]["style"]), rope(k, cos, sin, hp["rope"]["style"])
        k, v = np.repeat(k, H // KV, axis=1), np.repeat(v, H // KV, axis=1)
        att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", att, v).reshape(n, H * hd)
        x = x + o @ g("attn_output").T
        h = rmsnorm(x, g("ffn_norm"), eps)
        a, b = h @ g("ffn_gate").T, h @ g("ffn_up").T
        x = x + (a / (1 + np.exp(-a)) * b) @ g("ffn_down").T
    x = rmsnorm(x, W["output_norm"], eps)
    return x @ (W["token_embd"] if hp["tied_embeddings"] else W["output"]).T


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def llama_cpp_logits(model, tokens):
    from llama_cpp import Llama
    llm = Llama(model_path=model, n_ctx=max(512, len(tokens) + 8), logits_all=True, verbose=False,
                n_threads=2, n_batch=512)
    llm.eval(tokens)
    return np.array(llm.scores[:len(tokens)], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe"), ap.add_argument("model"), ap.add_argument("work")
    ap.add_argument("--tools", required=True)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--min-top1", type=float, default=0.99)
    ap.add_argument("--max-kl", type=float, default=1e-3)
    ap.add_argument("--llama-cpp", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    hp = json.loads(run([os.path.join(a.tools, "mcc"), "inspect", "--json", a.model]))
    if os.path.isdir(a.model):
        hp["_rope_scaling"] = json.load(open(os.path.join(a.model, "config.json"))).get("rope_scaling")
    ids = run([os.path.join(a.tools, "mcc-probe"), "tokenize", a.model], input=TEXT.encode().hex() + "\n")
    tokens = [int(t) for t in ids.split()][:a.tokens]

    dump = os.path.join(a.work, "weights")
    run([os.path.join(a.tools, "mcc-dequant"), a.model, dump])
    index = json.load(open(os.path.join(dump, "index.json")))
    W = {k: np.fromfile(os.path.join(dump, e["file"]), np.float32).reshape(e["shape"]).astype(np.float64)
         for k, e in index.items()}
    ref = forward(hp, W, np.array(tokens))

    out = os.path.join(a.work, "logits.f32")
    run([a.exe] + os.environ.get("MCC_EXE_ARGS", "").split() + ["-t", "2", "-c", str(len(tokens) + 1), "--tokens", " ".join(map(str, tokens)), "--dump-logits", out])
    ours = np.fromfile(out, np.float32).reshape(len(tokens), -1).astype(np.float64)

    lr, lo = log_softmax(ref), log_softmax(ours)
    kl = float(np.mean(np.sum(np.exp(lr) * (lr - lo), axis=-1)))
    top1 = float(np.mean(ref.argmax(-1) == ours.argmax(-1)))
    nxt = np.array(tokens[1:])
    ppl = lambda l: float(np.exp(-np.mean(l[np.arange(len(nxt)), nxt])))
    print(f"tokens {len(tokens)}  top1-agreement {top1:.4f}  mean-KL {kl:.2e}  "
          f"ppl mcc {ppl(lo[:-1]):.4f}  ppl numpy {ppl(lr[:-1]):.4f}")
    ok = top1 >= a.min_top1 and kl <= a.max_kl
    if a.llama_cpp:
        ll = log_softmax(llama_cpp_logits(a.model, tokens))
        p_ours, p_ll = ppl(lo[:-1]), ppl(ll[:-1])
        rel = abs(p_ours - p_ll) / p_ll
        print(f"ppl llama.cpp {p_ll:.4f}  relative difference {rel:.2%}")
        ok = ok and rel <= 0.01
    print("OK" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
