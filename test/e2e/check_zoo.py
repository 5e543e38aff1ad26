#!/usr/bin/env python3
"""Writes the named layouts of the checkpoint zoo (test/fixtures/make_zoo.py)
and checks each: dequantization against the independent reader, teacher-
forced logits against its fp64 reference (as a prompt and one token at a
time, with the default fast precision), greedy agreement with fp64, and the
answer to one question. Prints one line per check; exits non-zero on the
first failure.

usage: check_zoo.py --tools BIN --model DEFAULT.gguf --work DIR LAYOUT...
"""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.dirname(HERE)


def run(cmd, prefix):
    p = subprocess.run(cmd, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        print(f"{prefix} {line}", flush=True)
    if p.returncode:
        print(f"{prefix} FAIL: {' '.join(cmd[:3])}: {p.stderr.strip()[-1500:]}", flush=True)
        sys.exit(1)
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("layouts", nargs="+")
    a = ap.parse_args()
    py = sys.executable
    zoo = os.path.join(a.work, "zoo")
    run([py, os.path.join(TEST, "fixtures", "make_zoo.py"), a.model, zoo, *a.layouts], "size")
    for n in a.layouts:
        d, w, exe = os.path.join(zoo, n), os.path.join(a.work, "w"), os.path.join(a.work, n)
        dq = os.path.join(a.work, "dq")
        run([os.path.join(a.tools, "mcc-dequant"), d, dq], n)
        out = run([py, os.path.join(TEST, "import", "check_dequant.py"), d, dq], f"{n} dequant")
        shutil.rmtree(dq)
        run([os.path.join(a.tools, "mcc"), "compile", "-q", d, "-o", exe], n)
        logits = [py, os.path.join(TEST, "runtime", "check_logits.py"), exe, d, w, "--tools", a.tools,
                  "--precision", "fast"]
        # The prompt (one int8 pass, KL ~2e-3): top-1 over 160 tokens moved by
        # up to 4 tokens (2.5 %) with changes of rounding alone (the softmax's
        # exp, a reciprocal for a division), e.g. awq-g64 0.931-0.969, so
        # 320 tokens (one copy of the text) and a bar 1.5 % under the values
        # measured (0.953-0.972): a bug moves these by far more. KL is the
        # speed work's bar (llama.cpp measures 2-3e-3 on this model).
        run(logits + ["--tokens", "320", "--max-kl", "3e-3", "--min-top1", "0.94"], f"{n} prompt")
        run(logits + ["--tokens", "160", "--max-kl", "1.5e-3", "--min-top1", "0.97", "--exe-arg=--one-at-a-time"],
            f"{n} decode")
        run([py, os.path.join(TEST, "runtime", "check_greedy.py"), exe, d, w, "--tools", a.tools, "--n", "16",
             "--precision", "fast", "--tie", "0.15"], f"{n} greedy")
        run([exe, "-p", "What is the capital of France?", "-n", "24", "--temp", "0", "-t", "2"], f"{n} answer:")
        shutil.rmtree(w)
        os.remove(exe)
        shutil.rmtree(d)
    print("OK")


if __name__ == "__main__":
    main()
