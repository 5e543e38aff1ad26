#!/usr/bin/env python3
"""mcc beside llama.cpp's own llama-bench (built natively, scripts/llama-bench.sh)
on the same GGUF files in one run: prompt tokens/s (pp) and generation
tokens/s (tg), and for generation the fraction of the memory-bandwidth limit
each reaches (weight bytes per token x tokens/s over the read bandwidth that
mcc's bench measures on the same threads).

usage: bench.py --llama-bench PATH CASE... [--json]
       bench.py --jit CASE...   (mcc's JIT tiles against its intrinsics' tiles,
                                 MCC_JIT=0, on the same executables)
  CASE = label:exe:gguf:threads:pp:tg[:peer]  (gguf may be "-" when llama.cpp
  cannot read the checkpoint, e.g. a GPTQ safetensors; with a peer GGUF,
  llama.cpp runs on that file in turns with mcc and the two read rates are
  compared: weight bytes read per token x tokens/s)
Each figure is the mean of --reps runs of each (default 3), the two engines
taking turns; both measure generation from an empty cache (llama-bench's tgN).
"""
import argparse
import json
import os
import statistics
import subprocess


def mcc_once(exe, threads, pp, tg, env=None):
    out = subprocess.run([exe, "bench", "-t", str(threads), "-p", str(pp), "-n", str(tg), "--json"],
                         capture_output=True, text=True, check=True,
                         env=None if env is None else {**os.environ, **env}).stdout
    return json.loads(out)


def mcc_summary(runs):
    mean = lambda k: statistics.mean(r[k] for r in runs)  # noqa: E731
    return {"pp": mean("pp_tok_s"), "tg": mean("tg_tok_s"), "bytes_per_token": runs[0]["weight_mib_per_token"] * 2**20,
            "bandwidth": mean("bandwidth_gb_s"), "ttft": mean("ttft_s"), "rss_mib": max(r["peak_rss_mib"] for r in runs),
            "isa": runs[0]["isa"], "jit_kernels": runs[0].get("jit_kernels", 0),
            "jit_ms": statistics.mean(r.get("jit_ms", 0) for r in runs)}


def llama_once(bench, gguf, threads, pp, tg):
    out = subprocess.run([bench, "-m", gguf, "-t", str(threads), "-p", str(pp), "-n", str(tg), "-r", "1",
                          "-o", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1][:120]}
    res = {}
    for r in json.loads(out.stdout):
        if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0:
            res["pp"] = r["avg_ts"]
        elif r.get("n_gen", 0) > 0:
            res["tg"] = r["avg_ts"]
    return res


def llama_summary(runs):
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"error": errors[0]}
    return {k: statistics.mean(r[k] for r in runs) for k in ("pp", "tg") if all(k in r for r in runs)}


def drop_from_page_cache(*paths):
    """Each case starts with its files out of the page cache, so each engine's
    own loader lays them out as it reads them in. What earlier writes and
    reads left there decides how much of a file can be mapped in 2 MiB pages:
    the same 0.5B-shaped GGUF had 10 % of its pages in 2 MiB folios from
    earlier use and 75 % read in anew, and such layouts moved decode speed by
    20-30 % on this machine. (Pages some process still maps stay.)"""
    for p in paths:
        if p and p != "-" and os.path.exists(p):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def gguf_bytes_per_token(path):
    """What a decoder reads of a GGUF per token: every tensor but the token
    embedding table (one row of it), which is read whole only when it is the
    output projection too (no output.weight). mcc counts its own payload the
    same way (bench's weight_mib_per_token)."""
    import gguf
    tensors = {t.name: int(t.n_bytes) for t in gguf.GGUFReader(path).tensors}
    tied = "output.weight" not in tensors
    return sum(b for n, b in tensors.items() if n != "token_embd.weight" or tied)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-bench")
    ap.add_argument("--jit", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    if a.jit:
        return jit_table(a)
    if not a.llama_bench:
        ap.error("--llama-bench is required (or --jit)")
    rows = []
    for case in a.cases:
        label, exe, gguf, threads, pp, tg, *peer = case.split(":")
        threads, pp, tg = int(threads), int(pp), int(tg)
        peer = peer[0] if peer else None
        # The two engines take turns, one repetition each: this machine's
        # bandwidth drifts by tens of percent within minutes, and turns put
        # both through the same drift.
        mruns, lruns = [], []
        drop_from_page_cache(exe, gguf, peer)
        for _ in range(a.reps):
            mruns.append(mcc_once(exe, threads, pp, tg))
            if gguf != "-" or peer:
                lruns.append(llama_once(a.llama_bench, peer or gguf, threads, pp, tg))
        m, l = mcc_summary(mruns), (llama_summary(lruns) if lruns else {})
        row = {"model": label, "threads": threads, "pp_n": pp, "tg_n": tg, "mcc": m, "llama": l}
        if peer:
            row["peer"] = {"file": os.path.basename(peer), "bytes_per_token": gguf_bytes_per_token(peer)}
        rows.append(row)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print("| model | threads | test | mcc pp / tg tok/s | llama.cpp pp / tg tok/s | mcc ÷ llama.cpp | "
          "tg share of the bandwidth limit, mcc / llama.cpp |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        m, l = r["mcc"], r["llama"]
        limit = m["bandwidth"] * 1e9 / m["bytes_per_token"]
        lpp, ltg = l.get("pp"), l.get("tg")
        ratio = (f"{m['pp'] / lpp:.2f}× / {m['tg'] / ltg:.2f}×" if lpp and ltg and "peer" not in r else "–")
        lfig = f"{lpp:.1f} / {ltg:.1f}" if lpp and ltg else l.get("error", "–")
        if "peer" in r and lpp and ltg:
            lfig += f" (on {r['peer']['file']})"
        share = f"{100 * m['tg'] / limit:.0f} % / " + (f"{100 * ltg / limit:.0f} %" if ltg and "peer" not in r else "–")
        print(f"| {r['model']} | {r['threads']} | pp{r['pp_n']} / tg{r['tg_n']} | {m['pp']:.1f} / {m['tg']:.2f} | "
              f"{lfig} | {ratio} | {share} |")
    print(f"\nbandwidth (mcc bench probe): " + ", ".join(
        f"{r['model']} t{r['threads']}: {r['mcc']['bandwidth']:.1f} GB/s" for r in rows))
    for r in rows:
        if "peer" in r and r["llama"].get("tg"):
            m, p, ltg = r["mcc"], r["peer"], r["llama"]["tg"]
            mine, theirs = m["bytes_per_token"] * m["tg"], p["bytes_per_token"] * ltg
            print(f"\nread rate, {r['threads']} threads, in turns: {r['model']} {m['bytes_per_token'] / 2**20:.0f} MiB "
                  f"per token x {m['tg']:.2f} tok/s = {mine / 2**30:.1f} GiB/s; llama.cpp on {p['file']} "
                  f"{p['bytes_per_token'] / 2**20:.0f} MiB per token x {ltg:.2f} tok/s = {theirs / 2**30:.1f} GiB/s: "
                  f"{mine / theirs:.2f}x")


def jit_table(a):
    print("| model | threads | test | JIT pp / tg tok/s | intrinsics pp / tg tok/s | JIT ÷ intrinsics | "
          "JIT start-up |")
    print("|---|---|---|---|---|---|---|")
    for case in a.cases:
        label, exe, _, threads, pp, tg = case.split(":")
        threads, pp, tg = int(threads), int(pp), int(tg)
        jruns, iruns = [], []
        for _ in range(a.reps):  # in turns, as above
            jruns.append(mcc_once(exe, threads, pp, tg))
            iruns.append(mcc_once(exe, threads, pp, tg, {"MCC_JIT": "0"}))
        j, i = mcc_summary(jruns), mcc_summary(iruns)
        print(f"| {label} | {threads} | pp{pp} / tg{tg} | {j['pp']:.1f} / {j['tg']:.2f} | {i['pp']:.1f} / {i['tg']:.2f} | "
              f"{j['pp'] / i['pp']:.2f}× / {j['tg'] / i['tg']:.2f}× | {j['jit_kernels']} kernels, {j['jit_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
