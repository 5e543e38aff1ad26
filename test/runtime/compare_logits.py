#!/usr/bin/env python3
"""Checks float32 logit dumps (--dump-logits) against the first: each
close to it (the mean of |difference| under 5 % of the mean of |logit|)
and not equal to it. Prints 'close and not equal', or what failed.

usage: compare_logits.py REFERENCE OTHER...
"""
import sys

import numpy as np


def main():
    ref = np.fromfile(sys.argv[1], np.float32).astype(np.float64)
    ok = ref.size > 0
    for path in sys.argv[2:]:
        other = np.fromfile(path, np.float32).astype(np.float64)
        if other.shape != ref.shape:
            print(f"{path}: {other.size} logits, {sys.argv[1]} has {ref.size}")
            ok = False
            continue
        diff, scale = np.abs(other - ref).mean(), np.abs(ref).mean()
        if not diff < 0.05 * scale:
            print(f"{path}: mean |difference| {diff:.3g} against mean |logit| {scale:.3g}: not close")
            ok = False
        if diff == 0:
            print(f"{path}: equal to {sys.argv[1]}")
            ok = False
    print("close and not equal" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
