#!/usr/bin/env python3
"""mcc and llama.cpp side by side against the same fp64 reference (the NumPy
forward pass over the weights mcc dequantizes), teacher-forced on a text no
other test uses, both ways the executable runs:
  decode  - one token per step (the decode kernels): mean KL at most half of
            llama.cpp's (fed one token per step too) and top-1 agreement at
            least llama.cpp's;
  prompt  - the whole text as one prompt (the prefill kernels): mean KL at most
            llama.cpp's (fed as one batch) and top-1 at least llama.cpp's;
  batched - one token per step, each step four sequences fed the same token (a
            server's step of four requests: the runtime's pass, every row's
            logits as the server asks for them): generation, so the decode bar,
            against llama.cpp's decode;
  admitting - the same with three sequences, each step also feeding 16 prompt
            tokens of a fourth (a server's step that admits a request beside
            generating ones): the decode bar too.
and decode, prompt and batched again with the KV cache in int8 (--kv-cache
int8), each held to its own bar.

usage: check_accuracy.py EXE MODEL WORKDIR --tools BIN
"""
import argparse
import os
import sys

import numpy as np

from reference import forward, llama_cpp_logits, load, log_softmax, run

# Used by no other test: prose, a list, code and numbers, as a chat box sees.
TEXT = """The lighthouse keeper climbed the spiral stairs every evening at dusk, carrying a can of oil and a
rag for the great lens. Ships passing the rocky cape relied on the beam, which turned once every twelve
seconds and could be seen from thirty kilometres away on a clear night. When the electric lamp arrived in
1923, the keeper kept the old oil lamp polished in a cupboard, just in case.

Shopping list for Saturday: two loaves of rye bread, a dozen eggs, olive oil, four lemons, rice, black
pepper, and something for the neighbour's birthday, perhaps flowers or a small cake.

def mean(values):
    total = 0.0
    for v in values:
        total += v
    return total / len(values) if values else 0.0

The recipe asks for 250 grams of flour, 3 eggs, 120 millilitres of milk and a pinch of salt; whisk, rest for
twenty minutes, then fry thin pancakes in a hot pan, turning each one after about a minute.
"""


def score(lr, logits):
    lo = log_softmax(logits)
    kl = float(np.mean(np.sum(np.exp(lr) * (lr - lo), axis=-1)))
    top1 = float(np.mean(lr.argmax(-1) == lo.argmax(-1)))
    return kl, top1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe"), ap.add_argument("model"), ap.add_argument("work")
    ap.add_argument("--tools", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    hp, W = load(a.model, a.tools, a.work)
    ids = run([os.path.join(a.tools, "mcc-probe"), "tokenize", a.model], input=TEXT.encode().hex() + "\n")
    tokens = [int(t) for t in ids.split()]
    lr = log_softmax(forward(hp, W, np.array(tokens)))
    ok = True
    flags = {"decode": ["--one-at-a-time"], "prompt": [], "batched": ["--one-at-a-time", "--rows", "4"],
             "admitting": ["--one-at-a-time", "--rows", "3", "--admit", "16"]}
    int8 = ["--kv-cache", "int8"]
    flags.update({"decode-kv-int8": flags["decode"] + int8, "prompt-kv-int8": flags["prompt"] + int8,
                  "batched-kv-int8": flags["batched"] + int8})
    for mode, batch, factor in (("decode", 1, 0.5), ("prompt", 512, 1.0), ("batched", 1, 0.5), ("admitting", 1, 0.5),
                                ("decode-kv-int8", 1, 0.5), ("prompt-kv-int8", 512, 1.0),
                                ("batched-kv-int8", 1, 0.5)):
        out = os.path.join(a.work, f"logits-{mode}.f32")
        # The prompt in whole 64-row batches: the executable scores a text's
        # last len % 64 rows one at a time, through the decode kernels, which
        # would flatter the prompt's figure (232 tokens: 40 of them).
        ts = tokens[:len(tokens) // 64 * 64] if mode.startswith("prompt") else tokens
        run([a.exe, "-t", "2", "-c", str(len(tokens) + 1), "--tokens", " ".join(map(str, ts)),
             "--dump-logits", out] + flags[mode])
        ours = np.fromfile(out, np.float32).reshape(len(ts), -1).astype(np.float64)
        kl, top1 = score(lr[:len(ts)], ours)
        kl_ll, top1_ll = score(lr[:len(ts)], llama_cpp_logits(a.model, ts, batch))
        good = kl <= factor * kl_ll and top1 >= top1_ll
        print(f"{mode}: {len(ts)} tokens  mcc mean-KL {kl:.2e} top1 {top1:.4f}  "
              f"llama.cpp mean-KL {kl_ll:.2e} top1 {top1_ll:.4f}  "
              f"(bar: KL <= {factor:g} x llama.cpp's, top1 >= llama.cpp's) {'ok' if good else 'FAIL'}")
        ok = ok and good
    print("OK" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
