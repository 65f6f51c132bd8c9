#!/usr/bin/env python3
"""Daemon numbers: time to READY=1, resident memory when idle, and the delay from a file
gaining a live key in a watched directory to the daemon logging the new finding.

    python3 benches/daemon.py [BINARY] [FILES] [ROUNDS]

BINARY defaults to target/release/keywarden; FILES (default 2000) small files fill the
watched tree; ROUNDS (default 5) files with a key are written one after another. Nothing
leaves the machine (no channels are configured). debounce_secs is 1: changes are batched
per window, so the delay includes part of that window by design.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/keywarden"
files = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
# A test key (random body, never real), split so this file is not a finding itself.
KEY = "mk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"

with tempfile.TemporaryDirectory() as d:
    watched = os.path.join(d, "watched")
    for i in range(files):
        sub = os.path.join(watched, f"dir{i % 50}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}.yaml"), "w") as f:
            f.write(f"name: service-{i}\nreplicas: 3\nimage: app:{i}\n" * 20)
    config = os.path.join(d, "keywarden.toml")
    with open(config, "w") as f:
        f.write(
            '[state]\npath = "state.db"\n\n[daemon]\ndebounce_secs = 1\n\n'
            '[[daemon.scan]]\nname = "bench"\npaths = ["watched"]\nwatch = true\n'
        )
    sock_path = os.path.join(d, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(60)
    log_path = os.path.join(d, "daemon.log")
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, RUST_LOG="keywarden=info")
    start = time.monotonic()
    proc = subprocess.Popen(
        [binary, "daemon", "--config", config],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w"),
    )
    while b"READY=1" not in sock.recv(4096):
        pass
    ready_ms = (time.monotonic() - start) * 1000

    def log():
        with open(log_path) as f:
            return f.read()

    # Wait for the start scan of the tree.
    while "trigger=\"start\"" not in log():
        time.sleep(0.01)
    start_scan = re.search(r"run ok: (\d+) files", log()).group(1)
    time.sleep(1)
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1))

    delays = []
    for r in range(rounds):
        before = log().count("new finding")
        t0 = time.monotonic()
        with open(os.path.join(watched, f"dir{r}", f".env.production.{r}"), "w") as f:
            f.write(f"MASK_KEY={KEY}\n")
        while log().count("new finding") <= before:
            time.sleep(0.005)
        delays.append((time.monotonic() - t0) * 1000)
        time.sleep(1.5)
    proc.terminate()
    code = proc.wait(timeout=60)
    text = log()
    assert KEY[8:] not in text, "the log holds a full key"
    print(f"binary: {binary}")
    print(f"watched tree: {start_scan} files")
    print(f"time to READY=1: {ready_ms:.0f} ms")
    print(f"RSS when idle: {rss_kb / 1024:.1f} MiB")
    print(
        f"file write -> new finding logged (debounce window 1 s): median {statistics.median(delays):.0f} ms, "
        f"max {max(delays):.0f} ms over {rounds} rounds"
    )
    print(f"exit code after SIGTERM: {code}")
