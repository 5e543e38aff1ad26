#!/usr/bin/env python3
"""Aggregate generation speed of an OpenAI-compatible server with 1 and with
K concurrent requests: mcc's `NAME serve` and llama.cpp's llama-server, one
after the other, same model file, same prompts, same thread count. Prints a
Markdown table. (scripts/bench-serve.sh runs it; a benchmark, not a test.)

usage: bench_serve.py --mcc EXE [--llama-server BIN --gguf FILE] [--streams 4] [--tokens 128]
                      [--threads 2] [--rounds 4]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

PROMPTS = ["Write a story about a lighthouse keeper.", "Explain how a bicycle works.",
           "Describe a walk through a forest in autumn.", "Tell me about the history of bread.",
           "Write a letter to a friend about a trip.", "Explain what a compiler does.",
           "Describe the sea at night.", "Write a poem about mountains."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url, proc, timeout=900):
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None:
            sys.exit(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if json.load(urllib.request.urlopen(url + "/health", timeout=5)).get("status") == "ok":
                return
        except Exception:
            pass
        time.sleep(0.5)
    sys.exit("server did not become healthy")


def run(url, k, tokens, extra):
    out = [0] * k

    def one(i):
        body = {"messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}], "max_tokens": tokens,
                "temperature": 0, **extra}
        req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        out[i] = json.load(urllib.request.urlopen(req, timeout=3600))["usage"]["completion_tokens"]
    t0 = time.time()
    th = [threading.Thread(target=one, args=(i,)) for i in range(k)]
    [t.start() for t in th]
    [t.join() for t in th]
    return sum(out) / (time.time() - t0)


def measure(name, cmd, port, a, extra):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_health(url, proc)
        run(url, a.streams, 8, extra)  # warm-up: weights paged in, caches touched
        # One stream and K streams in turns, each figure the mean over the
        # rounds: this machine's bandwidth drifts by tens of percent within
        # minutes, and turns put both through the same drift (one stream's
        # rounds first, then K's, had put them in different minutes).
        ones, manys = [], []
        for _ in range(a.rounds):
            ones.append(run(url, 1, a.tokens, extra))
            manys.append(run(url, a.streams, a.tokens, extra))
        one, many = sum(ones) / len(ones), sum(manys) / len(manys)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    return name, one, many, list(zip(ones, manys))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcc", required=True)
    ap.add_argument("--llama-server")
    ap.add_argument("--gguf")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    rows = []
    p = free_port()
    # Both told to ignore the end-of-text token: every request generates
    # --tokens tokens, so "K streams" are K to the end (an answer that ended
    # early left the others to finish as fewer streams).
    rows.append(measure("mcc serve", [a.mcc, "serve", "--port", str(p), "-t", str(a.threads), "--parallel",
                                      str(a.streams), "-c", str(a.ctx)], p, a, {"ignore_eos": True}))
    if a.llama_server and a.gguf:
        p = free_port()
        rows.append(measure("llama-server", [a.llama_server, "-m", a.gguf, "--port", str(p), "-t", str(a.threads),
                                             "-np", str(a.streams), "-c", str(a.ctx * a.streams), "--no-webui"],
                            p, a, {"ignore_eos": True}))
    print(f"| {a.label} | server | 1 stream tok/s | {a.streams} streams tok/s (aggregate) | ratio |")
    print("|---|---|---|---|---|")
    for name, one, many, _ in rows:
        print(f"| {a.label} | {name} | {one:.1f} | {many:.1f} | {many / one:.2f}x |")
    # Each round's pair too: the machine's speed drifts from minute to
    # minute, and the spread says how far one mean can be trusted.
    for name, _, _, rounds in rows:
        print(f"{a.label} {name} rounds (1 / {a.streams} streams tok/s): " +
              ", ".join(f"{o:.1f} / {m:.1f} ({m / o:.2f}x)" for o, m in rounds))


if __name__ == "__main__":
    main()
