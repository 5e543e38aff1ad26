"""Starting and stopping `NAME serve` for the server tests."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """EXE serve on a free port; waits for /health. stop() sends SIGTERM and
    returns the exit code and stderr."""

    def __init__(self, exe, *args, env=None, prefix=(), wait=120):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([*prefix, exe, "serve", "--port", str(self.port), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + wait
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"FAIL: the server exited at start: {self.proc.stderr.read().strip()}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=5).read()
                return
            except OSError:
                if time.time() > deadline:
                    self.proc.kill()
                    sys.exit(f"FAIL: the server did not answer /health within {wait} s")
                time.sleep(0.1)

    def rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, timeout=120):
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            sys.exit("FAIL: the server did not stop within its timeout after SIGTERM")
        return self.proc.returncode, err
