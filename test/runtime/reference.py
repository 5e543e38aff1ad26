"""The fp64 NumPy forward pass the runtime is checked against, over exactly
the weights mcc dequantizes (dumped by mcc-dequant), and what loads them.
Written from the model families' definitions, independent of the runtime."""
import json
import os
import subprocess
import sys

import numpy as np


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.exit(f"FAIL: {' '.join(cmd[:2])}: {p.stderr.strip()}")
    return p.stdout


def load(model, tools, work):
    """Hyper-parameters (mcc inspect --json) and fp64 weights by canonical name."""
    hp = json.loads(run([os.path.join(tools, "mcc"), "inspect", "--json", model]))
    if os.path.isdir(model):
        hp["_rope_scaling"] = json.load(open(os.path.join(model, "config.json"))).get("rope_scaling")
    dump = os.path.join(work, "weights")
    run([os.path.join(tools, "mcc-dequant"), model, dump])
    index = json.load(open(os.path.join(dump, "index.json")))
    W = {k: np.fromfile(os.path.join(dump, e["file"]), np.float32).reshape(e["shape"]).astype(np.float64)
         for k, e in index.items()}
    return hp, W


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
        # Any linear may carry a bias (Qwen2's Q/K/V; old AutoGPTQ files: all).
        lin = lambda h, k: h @ g(k).T + W.get(f"blk.{l}.{k}.bias", 0.0)
        h = rmsnorm(x, g("attn_norm"), eps)
        q, k, v = lin(h, "attn_q"), lin(h, "attn_k"), lin(h, "attn_v")
        q, k, v = q.reshape(n, H, hd), k.reshape(n, KV, hd), v.reshape(n, KV, hd)
        if hp["qk_norm"]:
            q, k = rmsnorm(q, g("attn_q_norm"), eps), rmsnorm(k, g("attn_k_norm"), eps)
        q, k = rope(q, cos, sin, hp["rope"]["style"]), rope(k, cos, sin, hp["rope"]["style"])
        k, v = np.repeat(k, H // KV, axis=1), np.repeat(v, H // KV, axis=1)
        att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", att, v).reshape(n, H * hd)
        x = x + lin(o, "attn_output")
        h = rmsnorm(x, g("ffn_norm"), eps)
        a, b = lin(h, "ffn_gate"), lin(h, "ffn_up")
        x = x + lin(a / (1 + np.exp(-a)) * b, "ffn_down")
    x = rmsnorm(x, W["output_norm"], eps)
    return x @ (W["token_embd"] if hp["tied_embeddings"] else W["output"]).T


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def llama_cpp_logits(model, tokens, batch=512):
    """llama.cpp's (llama-cpp-python) teacher-forced logits of every position:
    the prompt in batches of `batch` tokens, or with batch=1 one token per
    step (its decode path)."""
    from llama_cpp import Llama
    llm = Llama(model_path=model, n_ctx=max(512, len(tokens) + 8), logits_all=True, verbose=False,
                n_threads=2, n_batch=batch, n_ubatch=batch)
    if batch == 1:
        for t in tokens:
            llm.eval([t])
    else:
        llm.eval(tokens)
    return np.array(llm.scores[:len(tokens)], dtype=np.float64)

