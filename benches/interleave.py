#!/usr/bin/env python3
"""Times commands in interleaved rounds (a, b, c, a, b, c, ...) so that a machine whose
speed drifts (other tenants, frequency) slows every command alike, and prints JSON: per
command the median wall, user and system seconds, each round's wall time, and the
median over rounds of its wall time divided by the first command's in the same round.

usage: interleave.py ROUNDS WARMUP -- CMD [ARG...] --- CMD [ARG...] ...
"""
import json
import resource
import statistics
import subprocess
import sys
import time


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    rounds, warmup = int(sys.argv[1]), int(sys.argv[2])
    assert sys.argv[3] == "--", __doc__
    cmds, cur = [], []
    for a in sys.argv[4:]:
        if a == "---":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    for _ in range(warmup):
        for c in cmds:
            run(c)
    times = [[run(c) for c in cmds] for _ in range(rounds)]
    out = []
    for i, c in enumerate(cmds):
        mine = [r[i] for r in times]
        out.append({
            "command": " ".join(c),
            "median": statistics.median(t[0] for t in mine),
            "user": statistics.median(t[1] for t in mine),
            "system": statistics.median(t[2] for t in mine),
            "ratio_to_first": statistics.median(r[i][0] / r[0][0] for r in times),
            "walls": [t[0] for t in mine],
        })
    json.dump({"results": out}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
