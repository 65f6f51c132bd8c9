#!/usr/bin/env python3
"""Generates a fleet of bare repositories for benches/fleet.sh (deterministic: seeded).

  gen_fleet.py create ROOT N   N bare repositories ROOT/acme/repo-NNN.git, each with 30
                               commits over ~60 files (about 100 KB of text); every 10th
                               holds a random live key (never real) in config/prod.env.
  gen_fleet.py push ROOT N K   one new commit (3 new files) on K of the N repositories,
                               spread evenly.

Written with `git fast-import` (no work trees), so 200 repositories take seconds.
"""
import random
import subprocess
import sys
from pathlib import Path

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
WORDS = ["alpha", "beta", "gamma", "delta", "value", "config", "service", "user",
         "retry", "timeout", "cache", "token", "handler", "queue", "worker"]
ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def text(rng: random.Random, lines: int) -> bytes:
    return "".join(f"{rng.choice(WORDS)}_{i} = \"{rng.choice(WORDS)}-{rng.randrange(10**6)}\"\n"
                   for i in range(lines)).encode()


def blob(out: list, path: str, content: bytes) -> None:
    out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content))


def commit(out: list, when: int, msg: str, parent: str | None, changes: list) -> None:
    sig = b"Bench Author <bench@example.invalid> %d +0000\n" % when
    out.append(b"commit refs/heads/main\nauthor " + sig + b"committer " + sig)
    out.append(b"data %d\n%s\n" % (len(msg), msg.encode()))
    if parent:
        out.append(b"from %s\n" % parent.encode())
    out.extend(changes)
    out.append(b"\n")


def fast_import(repo: Path, stream: list) -> None:
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream),
                   env=ENV, check=True)


def create(root: Path, n: int) -> None:
    for i in range(n):
        rng = random.Random(i)
        repo = root / "acme" / f"repo-{i:03d}.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], env=ENV, check=True)
        out: list = []
        files = [f"src/mod{j}/file{k}.rs" for j in range(6) for k in range(10)]
        for c in range(30):
            changes: list = []
            touched = files if c == 0 else rng.sample(files, 3)
            for f in touched:
                changes.append(b"")
                blob(changes, f, text(rng, 30))
            if c == 29 and i % 10 == 0:
                key = "mk_live_" + "".join(rng.choice(ALNUM) for _ in range(32))
                blob(changes, "config/prod.env", f"MASK_API_KEY={key}\n".encode())
            commit(out, 1_700_000_000 + c * 60, f"commit {c}", None, [x for x in changes if x])
        fast_import(repo, out)


def push(root: Path, n: int, k: int) -> None:
    step = max(1, n // max(1, k))
    for i in range(0, n, step)[:k]:
        repo = root / "acme" / f"repo-{i:03d}.git"
        rng = random.Random(f"push-{i}-{random.random()}")
        out: list = []
        changes: list = []
        for f in range(3):
            blob(changes, f"docs/new-{rng.randrange(10**9)}.md", text(rng, 20))
        commit(out, 1_800_000_000, "push", "refs/heads/main^0", changes)
        fast_import(repo, out)


if __name__ == "__main__":
    cmd, root = sys.argv[1], Path(sys.argv[2])
    if cmd == "create":
        create(root, int(sys.argv[3]))
    elif cmd == "push":
        push(root, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
