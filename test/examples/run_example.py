#!/usr/bin/env python3
"""Runs an example client against `EXE serve` as the examples' README says:
starts the server (under an emulator with --qemu), runs the client command
with `--url` pointing at it, prints the client's output, stops the server
(SIGTERM, exit 0 required).

usage: run_example.py [--qemu QEMU] EXE -- CLIENT ARGS...
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from serve_util import Served  # noqa: E402


def main():
    argv = sys.argv[1:]
    prefix = []
    if argv[0] == "--qemu":
        prefix, argv = [argv[1]], argv[2:]
    sep = argv.index("--")
    exe, client = argv[0], argv[sep + 1:]
    s = Served(exe, "-t", "2", "--parallel", "1", "-c", "512", "--no-verify", prefix=prefix, wait=600)
    try:
        p = subprocess.run(client + ["--url", s.url + "/v1"], capture_output=True, text=True, timeout=1200)
    finally:
        code, err = s.stop(timeout=600)
    if p.returncode:
        sys.exit(f"FAIL: the client exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    print(p.stdout, end="")
    if code != 0:
        sys.exit(f"FAIL: the server exited {code} on SIGTERM: {err[-2000:]}")
    print("server stopped: exit 0")


if __name__ == "__main__":
    main()
