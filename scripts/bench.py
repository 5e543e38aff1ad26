#!/usr/bin/env python3
"""Speed of a compiled mcc executable beside llama.cpp (llama-cpp-python) on
the same GGUF and machine: prompt tokens/s (pp), generation tokens/s (tg),
time to first token and peak memory, at each thread count.

usage: bench.py EXE MODEL [--threads 1 2] [--pp 512] [--tg 128] [--json]
Both engines see the same prompt ids; llama.cpp's tg is measured through the
Python binding (one eval call per token), so its figure carries a few
microseconds of Python per token.
"""
import argparse
import json
import resource
import subprocess
import time


def mcc(exe, threads, pp, tg):
    out = subprocess.run([exe, "bench", "-t", str(threads), "-p", str(pp), "-n", str(tg), "--json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    return {"pp": j["pp_tok_s"], "tg": j["tg_tok_s"], "ttft": j["ttft_s"], "rss_mib": j["peak_rss_mib"]}


def llama_cpp(model, threads, pp, tg):
    # In a child process, so its peak RSS is its own.
    code = f"""
import json, resource, time
t0 = time.time()
from llama_cpp import Llama
llm = Llama(model_path={model!r}, n_ctx={pp + tg + 8}, n_threads={threads}, n_threads_batch={threads},
            n_batch={pp}, verbose=False)
toks = [(i * 7919 + 13) % 30000 for i in range({pp})]
t1 = time.time(); llm.eval(toks); t2 = time.time()
nxt = int(max(range(len(llm.scores[{pp} - 1])), key=lambda i: llm.scores[{pp} - 1][i]))
t3 = time.time()
for i in range({tg}):
    llm.eval([toks[i % {pp}]])
t4 = time.time()
print(json.dumps({{"pp": {pp} / (t2 - t1), "tg": {tg} / (t4 - t3), "ttft": t3 - t0,
                   "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe"), ap.add_argument("model")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for t in a.threads:
        rows.append(("mcc", t, mcc(a.exe, t, a.pp, a.tg)))
        rows.append(("llama.cpp", t, llama_cpp(a.model, t, a.pp, a.tg)))
    if a.json:
        print(json.dumps([{"engine": e, "threads": t, **r} for e, t, r in rows], indent=2))
        return
    print(f"| engine | threads | pp{a.pp} tok/s | tg{a.tg} tok/s | time to first token | peak RSS |")
    print("|---|---|---|---|---|---|")
    for e, t, r in rows:
        print(f"| {e} | {t} | {r['pp']:.1f} | {r['tg']:.1f} | {r['ttft']:.3f} s | {r['rss_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
