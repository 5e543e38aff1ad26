#!/usr/bin/env python3
"""Compares mcc's dequantization (dumped by mcc-dequant) with independent
references: the gguf package's dequantize for GGUF files, and a NumPy reader
for safetensors with GPTQ/AWQ unpackers written here from the formats'
documentation (nothing shared with the fixture writer or with mcc).

usage: check_dequant.py MODEL DUMPDIR      prints one line per weight class
"""
import json
import os
import struct
import sys

import numpy as np


def gguf_reference(path):
    import gguf
    r = gguf.GGUFReader(path)
    out = {}
    for t in r.tensors:
        x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        name = t.name[:-len(".weight")] if t.name.endswith(".weight") else t.name
        out[name] = x.reshape([int(d) for d in reversed(t.shape)]) if x.ndim == 1 else x
    return out


def read_safetensors_dir(d):
    files = [f for f in os.listdir(d) if f.endswith(".safetensors")]
    tensors = {}
    for f in files:
        with open(os.path.join(d, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
            data = fh.read()
        for name, e in header.items():
            if name == "__metadata__":
                continue
            a, b = e["data_offsets"]
            raw = np.frombuffer(data[a:b], dtype={"F32": np.float32, "F16": np.float16, "BF16": np.uint16,
                                                  "I32": np.int32}[e["dtype"]])
            if e["dtype"] == "BF16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            tensors[name] = raw.reshape(e["shape"])
    return tensors


def unpack_rows(words, bits):
    """[R, C] int32 holding 32/bits values each along dim 0 -> [R*32/bits, C]."""
    w = words.view(np.uint32)
    per = 32 // bits
    parts = [(w >> np.uint32(bits * i)) & np.uint32((1 << bits) - 1) for i in range(per)]
    return np.stack(parts, axis=1).reshape(w.shape[0] * per, w.shape[1]).astype(np.int64)


def unpack_cols(words, bits, order=None):
    """[R, C] int32 holding 32/bits values each along dim 1 -> [R, C*32/bits].
    order[i] = which column of the group of 32/bits nibble i holds (AWQ)."""
    w = words.view(np.uint32)
    per = 32 // bits
    out = np.zeros((w.shape[0], w.shape[1] * per), np.int64)
    for i in range(per):
        col = order[i] if order else i
        out[:, col::per] = (w >> np.uint32(bits * i)) & np.uint32((1 << bits) - 1)
    return out


def hf_reference(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    q = cfg.get("quantization_config")
    for side in ("quantize_config.json", "quant_config.json"):
        if q is None and os.path.exists(os.path.join(d, side)):
            q = json.load(open(os.path.join(d, side)))
    t = read_safetensors_dir(d)
    # Who wrote a v1 file decides how its zero points read back: AutoGPTQ
    # names its weights file in its config (or by its default file name).
    autogptq = "model_file_base_name" in (q or {}) or any(f.startswith("gptq_model-") for f in os.listdir(d))
    out = {}
    for name in t:
        if name.endswith(".qweight"):
            mod = name[:-len(".qweight")]
            scales = t[mod + ".scales"].astype(np.float32)
            if q.get("quant_method", "awq" if "w_bit" in q else "gptq") == "awq":
                group = q.get("group_size", q.get("q_group_size"))
                qv = unpack_cols(t[name], 4, [0, 2, 4, 6, 1, 3, 5, 7])          # [K, N]
                group = group if group > 0 else qv.shape[0]
                z = unpack_cols(t[mod + ".qzeros"], 4, [0, 2, 4, 6, 1, 3, 5, 7])  # [G, N]
                g = np.arange(qv.shape[0]) // group
            else:
                bits = q["bits"]
                qv = unpack_rows(t[name], bits)                                   # [K, N]
                zw = t[mod + ".qzeros"].view(np.uint32)
                if q.get("checkpoint_format", "gptq") != "gptq":
                    z = unpack_cols(zw, bits)                                     # [G, N]
                elif autogptq:
                    # AutoGPTQ's QuantLinear: each field plus one, masked.
                    z = (unpack_cols(zw, bits) + 1) & ((1 << bits) - 1)
                else:
                    # GPTQModel's convert_gptq_v1_to_v2_format: 0x11..11 added
                    # to the whole int32 word, carrying between fields.
                    z = unpack_cols(zw + np.uint32(0x11111111 if bits == 4 else 0x01010101), bits)
                gs = q["group_size"] if q["group_size"] > 0 else qv.shape[0]
                g = t[mod + ".g_idx"] if mod + ".g_idx" in t else np.arange(qv.shape[0]) // gs
            w = scales[g] * (qv - z[g]).astype(np.float32)                        # [K, N]
            out[mod] = w.T
        elif name.endswith((".weight", ".bias")) and not name.endswith(("qzeros", "scales", "g_idx")):
            if name.endswith(".bias") and not np.any(t[name]) and not (
                    cfg.get("model_type") == "qwen2" and name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias"))):
                continue   # an all-zero bias beside a linear adds nothing (Qwen2's Q/K/V biases are its own)
            out[name] = t[name].astype(np.float32)
    return out


HF_TO_CANON = {
    "model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output",
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def canon(hf):
    suffix = ""
    if hf.endswith(".weight"):
        hf = hf[:-7]
    elif hf.endswith(".bias"):
        hf, suffix = hf[:-5], ".bias"
    if hf.startswith("model.layers."):
        _, _, l, rest = hf.split(".", 3)
        return f"blk.{l}.{HF_TO_CANON[rest]}{suffix}"
    return HF_TO_CANON[hf] + suffix


def main():
    model, dump = sys.argv[1], sys.argv[2]
    index = json.load(open(os.path.join(dump, "index.json")))
    if os.path.isdir(model):
        ref = {canon(k): v for k, v in hf_reference(model).items()}
        if json.load(open(os.path.join(model, "config.json"))).get("tie_word_embeddings"):
            ref.pop("output", None)
    else:
        ref = gguf_reference(model)
    missing = set(ref) ^ set(index)
    if missing:
        sys.exit(f"FAIL: weights differ between mcc and the reference: {sorted(missing)[:5]}")
    worst = {}
    for name, e in index.items():
        got = np.fromfile(os.path.join(dump, e["file"]), dtype=np.float32).reshape(e["shape"])
        want = ref[name].reshape(e["shape"])
        if not np.all(np.isfinite(got)):
            sys.exit(f"FAIL: {name}: non-finite values")
        # Same formula, same float32 rounding: allow only rounding-order noise.
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        if err > 1e-6:
            i = np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
            sys.exit(f"FAIL: {name} ({e['format']}): element {i}: mcc {got[i]} reference {want[i]} "
                     f"(relative error {err:.3g})")
        worst[e["format"]] = max(worst.get(e["format"], 0.0), err)
    for fmt in sorted(worst):
        print(f"OK {fmt} max-rel-err {worst[fmt]:.1e}")
    print(f"OK {len(index)} weights match")


if __name__ == "__main__":
    main()
