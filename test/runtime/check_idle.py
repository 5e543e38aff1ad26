#!/usr/bin/env python3
"""An executable waiting for input in --chat must not burn CPU: its worker
threads sleep after a short spin. Starts EXE --chat with THREADS threads,
answers one line, waits for the next prompt, then measures the CPU time the
process uses over SECONDS of idleness (utime + stime from /proc/PID/stat).

usage: check_idle.py EXE [--threads 2] [--seconds 3] [--max-percent 2]
"""
import argparse
import os
import select
import subprocess
import sys
import time


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_prompt(p, timeout=120):
    seen = b""
    end = time.time() + timeout
    while not seen.endswith(b"> "):
        if time.time() > end or p.poll() is not None:
            sys.exit(f"no prompt from the executable (got {seen[-200:]!r})")
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if r:
            seen += os.read(p.stdout.fileno(), 4096)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--max-percent", type=float, default=2.0)
    a = ap.parse_args()
    p = subprocess.Popen([a.exe, "--chat", "-t", str(a.threads), "--temp", "0", "-n", "8"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        wait_for_prompt(p)
        p.stdin.write(b"Hello!\n")
        p.stdin.flush()
        wait_for_prompt(p)  # the reply is done; now nothing to do
        time.sleep(0.2)
        c0, t0 = cpu_seconds(p.pid), time.time()
        time.sleep(a.seconds)
        used = (cpu_seconds(p.pid) - c0) / (time.time() - t0) * 100
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    ok = used < a.max_percent
    print(f"idle in --chat with {a.threads} threads: {used:.2f} % CPU over {a.seconds:g} s "
          f"(limit {a.max_percent:g} %) {'OK' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
