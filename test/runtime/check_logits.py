#!/usr/bin/env python3
"""Teacher-forced comparison of a compiled mcc executable with
  - an fp64 NumPy forward pass written here, over exactly the weights mcc
    dequantizes (dumped by mcc-dequant): top-1 agreement and mean KL;
  - optionally llama-cpp-python on the same GGUF: perplexity.

usage: check_logits.py EXE MODEL WORKDIR --tools BIN [--tokens N] [--min-top1 F] [--max-kl F] [--llama-cpp]
                       [--precision exact|fast]
"""
import argparse
import os
import sys

import numpy as np

from reference import forward, llama_cpp_logits, load, log_softmax, run

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe"), ap.add_argument("model"), ap.add_argument("work")
    ap.add_argument("--tools", required=True)
    ap.add_argument("--tokens", type=int, default=1000)
    ap.add_argument("--min-top1", type=float, default=0.99)
    ap.add_argument("--max-kl", type=float, default=1e-3)
    ap.add_argument("--llama-cpp", action="store_true")
    ap.add_argument("--exe-arg", action="append", default=[], help="extra argument for EXE (e.g. --interpret)")
    # Exact (f32 activations) by default: these bars are the exact path's.
    # The default fast precision is judged against llama.cpp by check_accuracy.py.
    ap.add_argument("--precision", choices=["exact", "fast"], default="exact")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    hp, W = load(a.model, a.tools, a.work)
    ids = run([os.path.join(a.tools, "mcc-probe"), "tokenize", a.model], input=TEXT.encode().hex() + "\n")
    tokens = [int(t) for t in ids.split()][:a.tokens]

    ref = forward(hp, W, np.array(tokens))

    out = os.path.join(a.work, "logits.f32")
    run([a.exe] + a.exe_arg + ["--precision", a.precision, "-t", "2", "-c", str(len(tokens) + 1), "--tokens", " ".join(map(str, tokens)), "--dump-logits", out])
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
        # For the record: the reference engine's own distance from the fp64
        # forward pass (it quantizes activations to int8 per block).
        kl_ll = float(np.mean(np.sum(np.exp(lr) * (lr - ll), axis=-1)))
        top1_ll = float(np.mean(ref.argmax(-1) == ll.argmax(-1)))
        print(f"ppl llama.cpp {p_ll:.4f}  relative difference {rel:.2%}  "
              f"(llama.cpp vs numpy: top1-agreement {top1_ll:.4f}  mean-KL {kl_ll:.2e})")
        ok = ok and rel <= 0.01
    print("OK" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
