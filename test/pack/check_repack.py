#!/usr/bin/env python3
"""Compares two mcc-dequant dumps of one checkpoint, as imported and as
repacked: every weight must dequantize to the same float32 bits. Prints each
format change once (e.g. "GPTQ -> PK4") and OK, or the first difference.

usage: check_repack.py PLAIN_DIR PACKED_DIR
"""
import json
import os
import sys


def main():
    plain, packed = sys.argv[1], sys.argv[2]
    a = json.load(open(os.path.join(plain, "index.json")))
    b = json.load(open(os.path.join(packed, "index.json")))
    changes = set()
    for name, e in a.items():
        f = b[name]
        if open(os.path.join(plain, e["file"]), "rb").read() != open(os.path.join(packed, f["file"]), "rb").read():
            sys.exit(f"FAIL {name}: {e['format']} repacked as {f['format']} dequantizes differently")
        if e["format"] != f["format"]:
            changes.add(f"{e['format']} -> {f['format']}")
    for c in sorted(changes):
        print(f"repacked {c}")
    print(f"OK {len(a)} weights bit-identical")


if __name__ == "__main__":
    main()
