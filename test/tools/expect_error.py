#!/usr/bin/env python3
"""Runs a command that must reject its input cleanly: a non-zero exit (not a
signal, not a sanitizer report), exactly one line on stderr, nothing on
stdout. Prints that line so FileCheck can check what it says.

usage: expect_error.py COMMAND ARGS...
"""
import subprocess
import sys

p = subprocess.run(sys.argv[1:], capture_output=True, text=True, errors="replace")
err = p.stderr.splitlines()
if p.returncode <= 0:
    sys.exit(f"expect_error: exit status {p.returncode} (want a clean non-zero exit)\n{p.stderr}")
if len(err) != 1 or p.stdout:
    sys.exit(f"expect_error: want one line on stderr and no stdout, got {len(err)} lines:\n{p.stderr}{p.stdout}")
print(err[0])
