#!/usr/bin/env bash
# Staged-scan latency: `keywarden scan --staged` vs `git diff --cached --name-only` (the
# floor: reading the index and comparing it with HEAD) on a repository of 10,000 files
# with 5 files staged. Needs hyperfine (apt-get install -y hyperfine) and a release build
# (cargo build --profile dist). Usage: benches/staged.sh [FILES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kw="${KEYWARDEN:-$here/../target/dist/keywarden}"
files="${1:-10000}"
[ -x "$kw" ] || { echo "build first: cargo build --profile dist" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install -y hyperfine" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
cd "$work"
git init -q -b main repo && cd repo
python3 "$here/gen_repo.py" files "$files" | git fast-import --quiet
git reset -q --hard main
for i in 1 2 3 4 5; do
  f="src/mod00$i/file0000$i.py"
  printf 'extra_%s = "value"\n' "$i" >> "$f"
  git add "$f"
done
echo "repo: $(git ls-files | wc -l) files, $(git diff --cached --name-only | wc -l) staged"
"$kw" scan --staged --format json | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print("keywarden read", s["git"])'
hyperfine -N --warmup 5 --min-runs 30 --export-json "$work/staged.json" \
  'git diff --cached --name-only' \
  "$kw scan --staged --quiet"
python3 - "$work/staged.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
git = next(v for k, v in r.items() if k.startswith("git"))
kw = next(v for k, v in r.items() if "keywarden" in k)
print(f"git diff --cached --name-only: {git['mean']*1000:.1f} ms ± {git['stddev']*1000:.1f}")
print(f"keywarden scan --staged:       {kw['mean']*1000:.1f} ms ± {kw['stddev']*1000:.1f}")
print(f"ratio keywarden/git: {kw['mean']/git['mean']:.2f}x (target: at most 2x)")
PY
