#!/usr/bin/env python3
"""Runs a command that must reject its input cleanly: a non-zero exit (not a
signal, not a sanitizer report), exactly one line on stderr, nothing on
stdout. Prints that line so FileCheck can check what it says.

usage: expect_error.py [--status N] COMMAND ARGS...
"""
import subprocess
import sys

args, want = sys.argv[1:], None
if args[:1] == ["--status"]:
    want, args = int(args[1]), args[2:]
p = subprocess.run(args, capture_output=True, text=True, errors="replace")
err = p.stderr.splitlines()
if p.returncode <= 0 or (want is not None and p.returncode != want):
    sys.exit(f"expect_error: exit status {p.returncode} (want {want or 'a clean non-zero exit'})\n{p.stderr}")
if len(err) != 1 or p.stdout:
    sys.exit(f"expect_error: want one line on stderr and no stdout, got {len(err)} lines:\n{p.stderr}{p.stdout}")
print(err[0])
