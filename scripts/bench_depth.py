#!/usr/bin/env python3
"""Generation deep in the context: tokens/s of tgN after D positions already
in the cache, mcc with its f16 and int8 KV caches (--kv-cache) beside
llama.cpp's llama-bench with f16 and q8_0 caches (-d D; q8_0 values need its
flash attention, so both of its runs use it), the four taking turns, each
figure the mean of --reps runs. Prints a Markdown table. (scripts/bench.sh
runs it; a benchmark, not a test.)

usage: bench_depth.py --llama-bench PATH --exe EXE --gguf FILE [--depth 2048] [--tg 32] [--threads 2]
"""
import argparse
import json
import statistics
import subprocess


def mcc_once(exe, kv, depth, tg, threads):
    out = subprocess.run([exe, "bench", "-t", str(threads), "-p", "16", "-n", str(tg), "--streams", "1",
                          "--depth", str(depth), "--kv-cache", kv, "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["tg_one_stream_tok_s"]


def llama_once(bench, gguf, kv, depth, tg, threads):
    out = subprocess.run([bench, "-m", gguf, "-t", str(threads), "-p", "0", "-n", str(tg), "-d", str(depth),
                          "-ctk", kv, "-ctv", kv, "-fa", "on", "-r", "1", "-o", "json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    runs = [r["avg_ts"] for r in json.loads(out.stdout) if r.get("n_gen", 0) > 0]
    return runs[0] if runs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--exe", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--depth", type=int, default=2048)
    ap.add_argument("--tg", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    figs = {k: [] for k in ("mcc f16", "mcc int8", "llama f16", "llama q8_0")}
    for _ in range(a.reps):
        figs["mcc f16"].append(mcc_once(a.exe, "f16", a.depth, a.tg, a.threads))
        figs["llama f16"].append(llama_once(a.llama_bench, a.gguf, "f16", a.depth, a.tg, a.threads))
        figs["mcc int8"].append(mcc_once(a.exe, "int8", a.depth, a.tg, a.threads))
        figs["llama q8_0"].append(llama_once(a.llama_bench, a.gguf, "q8_0", a.depth, a.tg, a.threads))
    mean = {k: (statistics.mean(v) if v and all(x is not None for x in v) else None) for k, v in figs.items()}
    fmt = lambda x: f"{x:.1f}" if x else "–"  # noqa: E731
    ratio = lambda x, y: f"{x / y:.2f}×" if x and y else "–"  # noqa: E731
    print(f"| {a.label} | threads | test | cache | mcc tok/s | llama.cpp tok/s | mcc ÷ llama.cpp |")
    print("|---|---|---|---|---|---|---|")
    for mine, theirs, cache in (("mcc f16", "llama f16", "f16"), ("mcc int8", "llama q8_0", "int8 / q8_0")):
        print(f"| {a.label} | {a.threads} | tg{a.tg} @ d{a.depth} | {cache} | {fmt(mean[mine])} | "
              f"{fmt(mean[theirs])} | {ratio(mean[mine], mean[theirs])} |")


if __name__ == "__main__":
    main()
