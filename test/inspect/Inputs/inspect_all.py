#!/usr/bin/env python3
"""Runs `mcc inspect` on every checkpoint under a directory (GGUF files and
folders holding config.json); any failure fails the test."""
import os
import subprocess
import sys

mcc, root = sys.argv[1], sys.argv[2]
found = []
for dirpath, dirs, files in os.walk(root):
    found += [os.path.join(dirpath, f) for f in files if f.endswith(".gguf")]
    if "config.json" in files and any(f.endswith(".safetensors") for f in files):
        found.append(dirpath)
for path in sorted(found):
    p = subprocess.run([mcc, "inspect", path], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"FAIL {path}: {p.stderr.strip()}")
    print(f"OK {path}")
print(f"inspected {len(found)} checkpoints")
