#!/usr/bin/env bash
# Times `keywarden scan` against ripgrep on the same trees, in one run, and checks that
# keywarden found every planted key. Quote the ratios, not the seconds: machines are noisy.
#
# usage: benches/compare-ripgrep.sh [CORPUS_DIR]
#   CORPUS_DIR  built with ../shared/bench/make-corpus.sh if it has no small/ yet
#               (default /tmp/keywarden-corpus: 100,000 small files, 16 x 64 MiB big files,
#               200 MB of real crate sources with planted keys)
# env: KW (a built keywarden), RUNS (default 11), REAL_TREE (default ~/.cargo/registry/src), SHARED (../shared)
# needs: rg, GNU time (/usr/bin/time), python3
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${1:-/tmp/keywarden-corpus}
SHARED=${SHARED:-$ROOT/../shared}
RUNS=${RUNS:-11}
REAL=${REAL_TREE:-$HOME/.cargo/registry/src}
RE='mk_(live|test)_[A-Za-z0-9]{12,}'
# What keywarden looks for, as one regex: the plain keys and their base64 forms (the
# stable part of base64(prefix) at each of the three alignments, then more base64).
# ripgrep reads UTF-16 with a byte order mark by itself; BOM-less UTF-16 has no regex.
B64='[A-Za-z0-9+/_-]{16,}'
ALL="$RE|bWtf(bGl2ZV|dGVzdF)$B64|1rX(2xpdmVf|3Rlc3Rf)$B64|ta19(saXZlX|0ZXN0X)$B64"

for tool in rg /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install ripgrep time)" >&2; exit 2; }
done
if [ ! -d "$CORPUS/small" ]; then
  "$SHARED/bench/make-corpus.sh" --real-mb 200 --small-files 100000 --big-files 16 --big-mb 64 "$CORPUS"
fi
# Quoted numbers come from the fat-LTO `dist` build that releases ship (KW=path: that
# binary instead, not rebuilt).
if [ -z "${KW:-}" ]; then
  cargo build --profile dist --quiet --manifest-path "$ROOT/Cargo.toml"
  KW=$ROOT/target/dist/keywarden
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "## recall (keywarden --no-ignore vs the corpus manifests)"
for v in small big mixed; do
  (cd "$CORPUS/$v" && "$KW" scan --no-ignore --quiet --format json . > "$TMP/$v.json" || true)
  decoys=-; [ -f "$CORPUS/manifests/$v.decoys.tsv" ] && decoys="$CORPUS/manifests/$v.decoys.tsv"
  (cd "$CORPUS/$v" && python3 "$ROOT/benches/recall.py" "$CORPUS/manifests/$v.tsv" "$decoys" "$TMP/$v.json") | sed "s/^/$v: /"
done

echo
echo "## wall time, median of $RUNS interleaved rounds (warm cache)"
echo
echo "| corpus | size | threads | ripgrep | ripgrep -n | ripgrep, all forms | keywarden | kw / rg | kw / rg -n | kw / rg all forms | kw / rg, CPU time | keywarden peak RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for name in small big mixed real; do
  case $name in
    real) dir=$REAL ;;
    *) dir=$CORPUS/$name ;;
  esac
  [ -d "$dir" ] || continue
  size=$(du -sh "$dir" | cut -f1); files=$(find "$dir" -type f | wc -l)
  for j in 1 2; do
    # `rg -n` counts lines as keywarden must (its findings carry line numbers).
    python3 "$ROOT/benches/interleave.py" "$RUNS" 1 -- \
      rg -uuu -j$j -o "$RE" "$dir" --- \
      rg -uuu -j$j -n -o "$RE" "$dir" --- \
      rg -uuu -j$j -o "$ALL" "$dir" --- \
      "$KW" scan --no-ignore --quiet -j$j --format json "$dir" > "$TMP/h.json"
    rss=$( { /usr/bin/time -f "%M" "$KW" scan --no-ignore --quiet -j"$j" --format json "$dir" >/dev/null || true; } 2>&1 | tail -1)
    python3 - "$TMP/h.json" "$name" "$size, $files files" "$j" "$rss" <<'PY'
import json, sys
import statistics
r = json.load(open(sys.argv[1]))["results"]
rg, rgn, rga, kw = (x["median"] for x in r)
# Ratios are medians over rounds of keywarden's time over ripgrep's in the same round.
ratio = lambda i: statistics.median(k / o for k, o in zip(r[3]["walls"], r[i]["walls"]))
# User + system time (medians) of keywarden over ripgrep's: steadier than wall time when
# other work shares the machine.
cpu = lambda x: x["user"] + x["system"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {rg:.3f} s | {rgn:.3f} s | {rga:.3f} s | {kw:.3f} s | {ratio(0):.2f} | {ratio(1):.2f} | {ratio(2):.2f} | {cpu(r[3]) / cpu(r[0]):.2f} | {int(sys.argv[5])/1024:.0f} MB |")
PY
  done
done
