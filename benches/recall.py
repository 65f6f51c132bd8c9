#!/usr/bin/env python3
"""Recall/precision of a keywarden JSON report against a make-corpus manifest.

usage: recall.py MANIFEST.tsv DECOYS.tsv REPORT.json [--respect-ignore]

A planted key is expected as a finding (by SHA-256 fingerprint and path; line too, except
for base64 blobs whose manifest line is approximate), except the docs' literal example
(a placeholder by design) and, with --respect-ignore, keys in gitignored files. Decoys must
not be findings. Exits 1 on any miss or false positive.
"""
import csv, hashlib, json, sys

man, decoys, rep = sys.argv[1:4]
respect_ignore = "--respect-ignore" in sys.argv
report = json.load(open(rep))
found = {}
for f in report["findings"]:
    if f["rule"] not in ("mask.live-key", "mask.test-key"):
        continue
    found.setdefault((f["fingerprint"], f["path"]), []).append(f["line"])

missed, expected = [], 0
for row in csv.DictReader(open(man), delimiter="\t"):
    if row["key"] == "mk_live_abc123def456":
        continue
    if respect_ignore and row.get("gitignored") == "1":
        continue
    expected += 1
    fp = hashlib.sha256(row["key"].encode()).hexdigest()
    lines = found.get((fp, row["path"]))
    if not lines:
        missed.append(f'{row["path"]}:{row["line"]} ({row["kind"]}, {row["encoding"]})')
    elif row["encoding"] != "base64" and int(row["line"]) not in lines:
        missed.append(f'{row["path"]}:{row["line"]} reported at line(s) {lines}')

false_pos = []
decoy_fps = {hashlib.sha256(r["string"].encode()).hexdigest() for r in csv.DictReader(open(decoys), delimiter="\t")} if decoys != "-" else set()
planted = {hashlib.sha256(r["key"].encode()).hexdigest() for r in csv.DictReader(open(man), delimiter="\t")}
for (fp, path) in found:
    if fp in decoy_fps or fp not in planted:
        false_pos.append(path)

print(f"planted keys expected: {expected}, found: {expected - len(missed)}, missed: {len(missed)}, "
      f"false positives: {len(false_pos)}")
for m in missed[:20]:
    print("  missed:", m)
for p in false_pos[:20]:
    print("  false positive in:", p)
sys.exit(1 if missed or false_pos else 0)
