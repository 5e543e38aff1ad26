#!/usr/bin/env python3
"""Greedy generation of a compiled mcc executable against llama.cpp
(llama-cpp-python, an engine no one here wrote) on the same GGUF.

Both get the same prompt ids (tokenized by llama.cpp) and generate N tokens
greedily. They must agree token for token. A divergence is accepted, and
printed, only where
  - llama.cpp's top-2 logit margin at that step is below --tie (a tie to
    float rounding), or
  - the fp64 NumPy forward pass (reference.py) over the same dequantized
    weights, fed the same prefix, picks mcc's token: llama.cpp quantizes
    activations to int8 per block, which moves its logits by about 2e-3 in KL
    from the exact product (check_logits.py prints that figure) and flips
    near-ties; or the fp64 pass's own top-2 margin there is below --tie (the
    reference cannot tell the two apart either: both engines' int8 paths
    flip such steps either way, and which way moves with any change of
    rounding).
Anything else fails. Then, for every prompt, all N of mcc's tokens are fed
through the fp64 forward pass at once: each must be its greedy choice too
(or a tie below --tie), which checks the decode path past any divergence.

A Hugging Face checkpoint (which llama.cpp does not read) is judged by the
fp64 reference alone: each of mcc's tokens must be its greedy choice or a
tie below --tie.

usage: check_greedy.py EXE MODEL WORKDIR --tools BIN [--n 64] [--tie 1e-3]
"""
import argparse
import os
import subprocess
import sys

import numpy as np

from reference import forward, load, run

PROMPTS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain in two sentences how a refrigerator works.",
    "List three prime numbers greater than 50.",
    "Translate 'good morning' into Spanish and German.",
    "def fibonacci(n):",
]


def chatml(text):
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def generate(a, prompt):
    p = subprocess.run([a.exe, "--precision", a.precision, "-t", "2", "--temp", "0", "-n", str(a.n),
                        "--tokens", " ".join(map(str, prompt))], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"FAIL: {a.exe}: {p.stderr.strip()}")
    return [int(t) for t in p.stdout.split()]


def fp64_agrees(hp, W, prompt, ours, tie, text, exact=None):
    """All of mcc's tokens fed through the fp64 forward pass at once: each
    must be its greedy choice, or a tie below `tie`."""
    if exact is None:
        exact = forward(hp, W, np.array(prompt + ours[:-1]))[len(prompt) - 1:]
    best = exact.argmax(-1)
    top2 = np.sort(exact, axis=-1)[:, -2:]
    for i, tok in enumerate(ours):
        if tok != best[i] and top2[i, 1] - top2[i, 0] >= tie:
            print(f"FAIL {text!r}: token {i} is {tok}, the fp64 reference's greedy choice is {best[i]} "
                  f"(margin {top2[i, 1] - top2[i, 0]:.3f})")
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe"), ap.add_argument("model"), ap.add_argument("work")
    ap.add_argument("--tools", required=True)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--tie", type=float, default=1e-3)
    ap.add_argument("--precision", choices=["exact", "fast"], default="exact")
    a = ap.parse_args()

    gguf = os.path.isfile(a.model)
    if gguf:
        from llama_cpp import Llama
        llm = Llama(model_path=a.model, n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    os.makedirs(a.work, exist_ok=True)
    hp, W = load(a.model, a.tools, a.work)
    failed = 0
    for text in PROMPTS:
        if not gguf:
            prompt = [int(t) for t in run([os.path.join(a.tools, "mcc-probe"), "tokenize", a.model],
                                          input=chatml(text).encode().hex() + "\n").split()]
            ours = generate(a, prompt)
            ok = len(ours) == a.n and fp64_agrees(hp, W, prompt, ours, a.tie, text)
            failed += not ok
            if ok:
                print(f"fp64 agrees on {len(ours)} tokens: {text!r}")
            continue
        prompt = llm.tokenize(chatml(text).encode(), add_bos=False, special=True)
        # llama.cpp, one token at a time, keeping the top-2 margin of each step.
        llm.reset()
        llm.eval(prompt)
        ref, margins = [], []
        for _ in range(a.n):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            if not logits.std() > 0:
                sys.exit("FAIL: llama.cpp returned no logits")
            top2 = np.sort(logits)[-2:]
            tok = int(np.argmax(logits))
            ref.append(tok)
            margins.append(float(top2[1] - top2[0]))
            llm.eval([tok])
        ours = generate(a, prompt)
        diverge = next((i for i, (x, y) in enumerate(zip(ours, ref)) if x != y), None)
        if len(ours) != a.n:
            print(f"FAIL {text!r}: generated {len(ours)} tokens, expected {a.n}")
            failed += 1
            continue
        exact = forward(hp, W, np.array(prompt + ours[:-1]))[len(prompt) - 1:]
        best = exact.argmax(-1)
        top2 = np.sort(exact, axis=-1)[:, -2:]
        failed += not fp64_agrees(hp, W, prompt, ours, a.tie, text, exact)
        if diverge is None:
            print(f"same {a.n} tokens: {text!r}")
        elif margins[diverge] < a.tie:
            print(f"tie at token {diverge} (llama.cpp top-2 margin {margins[diverge]:.1e}): {text!r}")
        else:
            picks = int(best[diverge])
            note = (f"token {diverge}: mcc {ours[diverge]}, llama.cpp {ref[diverge]} (its margin {margins[diverge]:.3f}), "
                    f"fp64 reference {picks} (its margin {top2[diverge, 1] - top2[diverge, 0]:.3f})")
            if picks == ours[diverge]:
                print(f"same {diverge} tokens, then llama.cpp's rounding: {note}: {text!r}")
                continue
            if top2[diverge, 1] - top2[diverge, 0] < a.tie:
                print(f"same {diverge} tokens, then a tie for the fp64 reference too: {note}: {text!r}")
                continue
            print(f"FAIL {text!r}: token {diverge} differs ({ours[diverge]} vs llama.cpp {ref[diverge]}, "
                  f"margin {margins[diverge]:.3f})")
            failed += 1
    print("FAIL" if failed else "OK")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
