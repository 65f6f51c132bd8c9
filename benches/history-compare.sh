#!/usr/bin/env bash
# One run, one repository: `keywarden scan --history` against `git log -p --all
# --full-history | rg` and `git cat-file --batch-all-objects --batch --unordered`, runs
# interleaved (so a busy machine slows all three alike), with wall time, CPU time and
# peak RSS of each (/usr/bin/time), and whether keywarden and rg see the same keys (from
# the timed runs' own output). Prints the load average before and after: ratios of wall
# time mean little on a loaded machine.
#
#   benches/history-compare.sh REPO [RUNS]     (RUNS: default 3)
#   PROMISOR=1 benches/history-compare.sh REPO also times a copy of REPO (hard links)
#                                              with an empty .promisor file beside
#                                              each pack, as mirrors and partial clones
#                                              have
#
# Needs a release build, ripgrep and GNU time (apt-get install -y ripgrep time).
# KEYWARDEN=path picks another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kw="${KEYWARDEN:-$here/../target/dist/keywarden}"
[ -x "$kw" ] || { echo "build first: cargo build --profile dist" >&2; exit 2; }
command -v rg >/dev/null || { echo "install ripgrep: apt-get install -y ripgrep" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "install GNU time: apt-get install -y time" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: $0 REPO [RUNS]" >&2; exit 2; }
repo="$(cd "$1" && pwd)"
runs="${2:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
# The rules' regex: prefix, then a body of 12 to 256 letters and digits.
re='\bmk_(live|test)_[A-Za-z0-9]{12,256}'
gitdir="$(git -C "$repo" rev-parse --absolute-git-dir)"

variants=("plain:$repo")
if [ "${PROMISOR:-0}" = 1 ]; then
  # A copy that shares the packs (hard links, else copies) and adds a .promisor file.
  copy="$work/promisor.git"
  mkdir -p "$copy/objects/pack" "$copy/refs"
  cp "$gitdir/HEAD" "$copy/"
  [ -f "$gitdir/packed-refs" ] && cp "$gitdir/packed-refs" "$copy/"
  cp -r "$gitdir/refs/." "$copy/refs/"
  printf '[core]\n\trepositoryformatversion = 0\n\tbare = true\n' > "$copy/config"
  for f in "$gitdir"/objects/pack/*.{idx,pack,rev}; do
    [ -e "$f" ] && { ln "$f" "$copy/objects/pack/" 2>/dev/null || cp "$f" "$copy/objects/pack/"; }
  done
  for f in "$copy"/objects/pack/*.pack; do : > "${f%.pack}.promisor"; done
  variants+=("promisor:$copy")
fi

echo "repo: $repo: $(git -C "$repo" rev-list --all --count) commits, $(git -C "$repo" count-objects -v | awk '/^in-pack/{print $2}') packed objects, $(git -C "$repo" count-objects -vH | awk -F': ' '/size-pack/{print $2}') of packs"
echo "keywarden: $kw ($("$kw" --version)); load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# One timed command: appends "label wall user sys maxrss_kb" to $work/times.
timed() {
  local label="$1" dir="$2"; shift 2
  ( cd "$dir" && /usr/bin/time -o "$work/t" -f "%e %U %S %M" "$@" >/dev/null 2>"$work/err" ) || {
    # keywarden exits 1 on findings and 2 on errors (missing blobs): time it all the same.
    [ "$label" != "${label#keywarden}" ] || { cat "$work/err" >&2; exit 1; }
  }
  echo "$label $(tail -1 "$work/t")" >> "$work/times"
}
# Warm the page cache, then interleave.
git -C "$repo" cat-file --batch-all-objects --batch --unordered > /dev/null
for ((i = 1; i <= runs; i++)); do
  for v in "${variants[@]}"; do
    timed "keywarden/${v%%:*}" "${v#*:}" "$kw" scan --history --quiet --format json -o "$work/kw-${v%%:*}.json"
  done
  timed "git-log-p-rg" "$repo" sh -c "git log -p --all --full-history | rg -o --no-line-number '$re' | sort -u > '$work/rg.keys'"
  timed "git-cat-file" "$repo" git cat-file --batch-all-objects --batch --unordered
done
# Same keys? keywarden's fingerprints (each variant) vs the SHA-256 of every key rg saw in
# the patches (from the timed runs' output).
while read -r k; do printf %s "$k" | sha256sum | cut -d' ' -f1; done < "$work/rg.keys" | sort -u | sed '/^$/d' > "$work/rg.fps"
for v in "${variants[@]}"; do
  name="${v%%:*}"
  python3 - "$work/kw-$name.json" > "$work/kw.fps" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print("\n".join(sorted({f["fingerprint"] for f in doc["findings"] if f["rule"] != "mask.cross-environment"})))
s = doc["summary"]
print(f"keywarden summary: {s['git']}, findings={s['findings']}, errors={s['errors']}", file=sys.stderr)
PY
  sed -i '/^$/d' "$work/kw.fps"
  echo "keys ($name): keywarden $(wc -l < "$work/kw.fps"), git log -p | rg $(wc -l < "$work/rg.fps")"
  if diff -q "$work/kw.fps" "$work/rg.fps" >/dev/null; then
    echo "same set of leaked keys ($name): yes"
  else
    echo "same set of leaked keys ($name): NO"; diff "$work/kw.fps" "$work/rg.fps" | head -5 || true
  fi
done
python3 - "$work/times" <<'PY'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    label, wall, user, sys_, rss = line.split()
    if label not in rows:
        order.append(label)
    rows.setdefault(label, []).append((float(wall), float(user) + float(sys_), int(rss)))
med = lambda xs: statistics.median(xs)
print(f"{'command':<22} {'wall s (median)':>16} {'CPU s':>8} {'peak RSS MB':>12}  runs")
for label in order:
    r = rows[label]
    print(f"{label:<22} {med([x[0] for x in r]):>16.2f} {med([x[1] for x in r]):>8.2f} "
          f"{max(x[2] for x in r)/1024:>12.0f}  {len(r)}")
git = rows["git-log-p-rg"]
for label in order:
    if label.startswith("keywarden"):
        ratios = [g[0] / k[0] for g, k in zip(git, rows[label])]
        print(f"git log -p | rg vs {label}: {med(ratios):.1f}x faster "
              f"(per run: {', '.join(f'{x:.1f}' for x in ratios)})")
        # On a shared machine wall time measures the load too: CPU time as well.
        cpu = [g[1] / k[1] for g, k in zip(git, rows[label])]
        print(f"  in CPU time: {med(cpu):.1f}x (per run: {', '.join(f'{x:.1f}' for x in cpu)})")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
