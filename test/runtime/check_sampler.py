"""The runtime's sampler against a NumPy reference of the same pipeline on
fixed logits: repetition penalty -> temperature -> top-k -> top-p -> min-p.
For each configuration the distribution the sampler draws from must match the
reference (same tokens, probabilities within 1e-5), and 20,000 draws must land
only on those tokens, each within a few standard deviations of its share.
A sampler that ignored any one option fails at least one configuration.

usage: check_sampler.py MCC_SAMPLE
"""
import subprocess
import sys

import numpy as np


def reference(logits, temp, top_k, top_p, min_p, penalty, history):
    l = logits.astype(np.float64).copy()
    if penalty != 1.0:
        for t in set(history[-64:]):
            l[t] = l[t] / penalty if l[t] > 0 else l[t] * penalty
    l = l / temp
    order = np.argsort(-l, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    p = np.exp(l[order] - l[order[0]])
    p /= p.sum()
    cum = np.cumsum(p)
    keep = int(np.searchsorted(cum, top_p - 1e-7) + 1) if top_p < 1.0 else len(p)
    keep = min(keep, len(p))
    floor = min_p * p[0]
    while keep > 1 and p[keep - 1] < floor:
        keep -= 1
    p = p[:keep] / p[:keep].sum()
    return dict(zip(order[:keep].tolist(), p.tolist()))


def run(tool, logits, temp, top_k, top_p, min_p, penalty, history, draws=20000, seed=7):
    out = subprocess.run([tool, str(temp), str(top_k), str(top_p), str(min_p), str(penalty),
                          " ".join(map(str, history)), str(draws), str(seed)],
                         input=" ".join(f"{x:.9g}" for x in logits), capture_output=True, text=True, check=True)
    dist, counts = {}, {}
    for line in out.stdout.split("\n"):
        f = line.split()
        if f and f[0] == "p":
            dist[int(f[1])] = float(f[2])
        elif f and f[0] == "n":
            counts[int(f[1])] = int(f[2])
    return dist, counts


def main():
    tool = sys.argv[1]
    rng = np.random.default_rng(3)
    logits = rng.normal(0.0, 2.0, 64).astype(np.float32)
    logits[5] = 6.0
    logits[9] = 5.5
    logits[17] = -4.0
    history = [5, 9, 9, 30]
    configs = [
        # temp, top_k, top_p, min_p, repeat penalty: each option on its own, then together
        (1.0, 0, 1.0, 0.0, 1.0),
        (0.5, 0, 1.0, 0.0, 1.0),
        (1.0, 5, 1.0, 0.0, 1.0),
        (1.0, 0, 0.6, 0.0, 1.0),
        (1.0, 0, 1.0, 0.2, 1.0),
        (1.0, 0, 1.0, 0.0, 1.8),
        (0.8, 40, 0.95, 0.05, 1.1),
        (1.5, 10, 0.8, 0.1, 1.3),
    ]
    failures = 0
    for cfg in configs:
        ref = reference(logits, *cfg, history)
        got, counts = run(tool, logits, *cfg, history)
        draws = sum(counts.values())
        ok = set(got) == set(ref) and all(abs(got[t] - ref[t]) < 1e-5 for t in ref)
        stray = set(counts) - set(ref)
        worst = max(abs(counts.get(t, 0) / draws - p) / max(np.sqrt(p * (1 - p) / draws), 1e-9) for t, p in ref.items())
        ok = ok and not stray and worst < 5.0
        print(f"temp {cfg[0]} top-k {cfg[1]} top-p {cfg[2]} min-p {cfg[3]} penalty {cfg[4]}: "
              f"{len(got)} tokens kept (reference {len(ref)}), draws off by at most {worst:.1f} sd "
              f"{'ok' if ok else 'FAIL'}")
        failures += not ok
    print("FAILED" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
