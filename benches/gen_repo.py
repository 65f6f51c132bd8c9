#!/usr/bin/env python3
"""Writes a git fast-import stream for the benchmarks (deterministic: seeded).

  gen_repo.py files N        one commit with N files in 100 directories
  gen_repo.py history N      N commits editing ~600 files; every 200th commit adds a
                             fresh key (live or test) that a commit 40 later deletes,
                             and every 1000th key stays in HEAD; a side branch and a tag
                             point into the history.

Keys are random, never real. Pipe into `git fast-import --quiet` in an empty repo.
"""
import random
import sys

rng = random.Random(42)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
out = sys.stdout.buffer


def data(b: bytes) -> None:
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


def key() -> str:
    env = "live" if rng.random() < 0.7 else "test"
    return f"mk_{env}_" + "".join(rng.choice(ALNUM) for _ in range(32))


def text(lines: int) -> list[str]:
    words = ["alpha", "beta", "gamma", "delta", "value", "config", "service", "user",
             "retry", "timeout", "cache", "token", "handler", "queue", "worker"]
    return [f"{rng.choice(words)}_{i} = \"{rng.choice(words)}-{rng.randrange(10**6)}\""
            for i in range(lines)]


def commit(ref: str, mark: int, when: int, msg: str, parent: int | None, changes: list) -> None:
    out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
    sig = b"Bench Author <bench@example.invalid> %d +0000\n" % when
    out.write(b"author " + sig + b"committer " + sig)
    data(msg.encode())
    if parent is not None:
        out.write(b"from :%d\n" % parent)
    for path, body in changes:
        if body is None:
            out.write(b"D %s\n" % path.encode())
        else:
            out.write(b"M 100644 inline %s\n" % path.encode())
            data(body.encode())


def files(n: int) -> None:
    changes = []
    for i in range(n):
        d = i % 100
        changes.append((f"src/mod{d:03}/file{i:05}.py", "\n".join(text(20)) + "\n"))
    commit("refs/heads/main", 1, 1_700_000_000, "10k files", None, changes)


def history(n: int) -> None:
    paths = [f"{d}/part{i:03}.{ext}" for d in ("app", "lib", "config", "web/static", "docs", "tests")
             for i, ext in zip(range(100), ["py", "js", "yml", "toml", "md"] * 20)]
    content = {p: text(30) for p in paths}
    pending = {}  # commit number -> (path, line index) to clean
    mark = 0
    when = 1_600_000_000
    for c in range(1, n + 1):
        mark += 1
        when += 97
        changes = []
        if c == 1:
            changes = [(p, "\n".join(v) + "\n") for p, v in content.items()]
        else:
            p = rng.choice(paths)
            lines = content[p]
            lines[rng.randrange(len(lines))] = text(1)[0]
            if c % 200 == 0:
                lines[5] = f"api_key = \"{key()}\""
                if c % 1000 != 0:
                    pending[c + 40] = (p, 5)
            if c in pending:
                q, i = pending.pop(c)
                content[q][i] = "api_key = os.environ[\"MASK_API_KEY\"]"
                changes.append((q, "\n".join(content[q]) + "\n"))
            changes.append((p, "\n".join(lines) + "\n"))
        commit("refs/heads/main", mark, when, f"change {c}", mark - 1 if c > 1 else None, changes)
        if c == n // 2:
            side_parent = mark
    # A side branch of 50 commits from the middle, and a lightweight tag.
    prev = side_parent
    for s in range(50):
        mark += 1
        when += 31
        p = rng.choice(paths)
        body = "\n".join(text(30)) + "\n"
        if s == 25:
            body += f"token = \"{key()}\"\n"
        commit("refs/heads/side", mark, when, f"side {s}", prev, [(p, body)])
        prev = mark
    out.write(b"reset refs/tags/v1\nfrom :%d\n\n" % (n // 3))


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    {"files": files, "history": history}[kind](n)
