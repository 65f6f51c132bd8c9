#!/usr/bin/env bash
# History scan: `keywarden scan --history` vs `git log -p --all --full-history | rg`, on a
# generated repository of 10,000+ commits (or on REPO, a real one), checking that both find
# the same set of leaked keys. Needs hyperfine and ripgrep (apt-get install -y hyperfine
# ripgrep) and a release build. Usage: benches/history.sh [REPO]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kw="${KEYWARDEN:-$here/../target/dist/keywarden}"
[ -x "$kw" ] || { echo "build first: cargo build --profile dist" >&2; exit 2; }
for t in hyperfine rg; do
  command -v "$t" >/dev/null || { echo "install $t: apt-get install -y hyperfine ripgrep" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
if [ $# -ge 1 ]; then
  repo="$(cd "$1" && pwd)"
else
  repo="$work/repo"
  git init -q -b main "$repo"
  python3 "$here/gen_repo.py" history "${COMMITS:-10000}" | git -C "$repo" fast-import --quiet
  git -C "$repo" reset -q --hard main
fi
cd "$repo"
# The rules' regex: prefix, then a body of 12 to 256 letters and digits, not after a word
# character. (keywarden also decodes base64 and UTF-16 keys, which rg does not.)
re='\bmk_(live|test)_[A-Za-z0-9]{12,256}'
echo "repo: $(git rev-list --all --count) commits, $(git count-objects -v | awk '/size-pack/{print $2}') KiB packed"

# Same keys? keywarden's fingerprints vs the SHA-256 of every key rg sees in the patches.
"$kw" scan --history --format json -o "$work/kw.json" || true
python3 - "$work/kw.json" > "$work/kw.fps" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print("\n".join(sorted({f["fingerprint"] for f in doc["findings"] if f["rule"] != "mask.cross-environment"})))
s = doc["summary"]
print(f"keywarden: {s['git']} findings={s['findings']}", file=sys.stderr)
PY
git log -p --all --full-history | rg -o --no-line-number "$re" | sort -u > "$work/rg.keys" || true
while read -r k; do printf %s "$k" | sha256sum | cut -d' ' -f1; done < "$work/rg.keys" | sort -u > "$work/rg.fps"
echo "keys: keywarden $(wc -l < "$work/kw.fps"), git log -p | rg $(wc -l < "$work/rg.fps") (placeholders excluded by keywarden only)"
if diff -q "$work/kw.fps" "$work/rg.fps" >/dev/null; then
  echo "same set of leaked keys: yes"
else
  echo "same set of leaked keys: NO"; diff "$work/kw.fps" "$work/rg.fps" | head -5 || true
fi

hyperfine --warmup 1 --min-runs 5 --export-json "$work/history.json" -i \
  "git log -p --all --full-history | rg -c '$re'" \
  "$kw scan --history --quiet --format json -o /dev/null"
python3 - "$work/history.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
git = next(x for x in r if x["command"].startswith("git"))
kw = next(x for x in r if "keywarden" in x["command"])
print(f"git log -p | rg:            {git['mean']:.2f} s ± {git['stddev']:.2f}")
print(f"keywarden scan --history:   {kw['mean']:.2f} s ± {kw['stddev']:.2f}")
print(f"speed-up: {git['mean']/kw['mean']:.1f}x (target: at least 5x)")
PY
