#!/usr/bin/env bash
# The fleet against its floor: N generated repositories (default 200) served over git's
# smart HTTP on loopback (`git http-backend` behind examples' git-http-server), scanned by
# `keywarden daemon` with a `source = { urls = [...] }` target, against what git alone
# needs to move the same data, measured in the same run:
#
#   first pass:        keywarden (list, clone --mirror, scan every history) vs
#                      `git clone --mirror` of every repository
#   incremental pass:  after a commit pushed to K repositories (default N/10), keywarden
#                      (fetch every mirror, scan the changed ones) vs `git fetch` of every
#                      floor mirror
#
# Both sides run C repositories at once (default 4: the source's `concurrency`; the floor
# through xargs -P C). A keywarden pass is timed from the daemon's start to its
# "run ok" log line (its start-up run), then it is stopped. Goal: each ratio <= 1.5.
#
#   benches/fleet.sh [N] [C] [RUNS]
#
# Needs a build: cargo build --profile dist && cargo build --profile dist --example
# git-http-server (KEYWARDEN=path and SERVER=path pick other binaries, e.g. target/release/).
#
# TODO(two daemons): "one daemon vs two" needs the shared PostgreSQL state and its leases
# (issue 18, store backend; not on this branch). When it lands: start two daemons with the
# same config and `[state] url`, time until both have logged "run ok" for the pass, check
# every repository was scanned exactly once (sum of "scanned" = N), and print the ratio
# two/one next to the others.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kw="${KEYWARDEN:-$here/../target/dist/keywarden}"
server="${SERVER:-$here/../target/dist/examples/git-http-server}"
[ -x "$kw" ] || { echo "build first: cargo build --profile dist (or KEYWARDEN=…)" >&2; exit 2; }
[ -x "$server" ] || { echo "build first: cargo build --profile dist --example git-http-server (or SERVER=…)" >&2; exit 2; }
n="${1:-200}"; c="${2:-4}"; runs="${3:-1}"; k="${K:-$((n / 10))}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

now() { date +%s.%N; }
elapsed() { python3 -c "print($2 - $1)"; }
ratio() { python3 -c "print($1 / $2)"; }

python3 "$here/gen_fleet.py" create "$work/host" "$n"
"$server" "$work/host" > "$work/server.url" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/server.url" ] && break; sleep 0.05; done
base="$(head -1 "$work/server.url")"
echo "fleet: $n repositories at $base, $(du -sh "$work/host" | cut -f1) of bare repositories; $c at once; keywarden $("$kw" --version)"
urls=$(for i in $(seq 0 $((n - 1))); do printf '"%s/acme/repo-%03d.git", ' "$base" "$i"; done)

# One keywarden pass with state under $1: seconds from start to "run ok".
kw_pass() {
  local dir="$1" log="$1/daemon-$(date +%s%N).log"
  mkdir -p "$dir"
  cat > "$dir/keywarden.toml" <<TOML
[state]
path = "state/state.db"

[[daemon.scan]]
name = "fleet"
schedule = "0 0 0 1 1 *"
history = true
source = { urls = [ ${urls} ], concurrency = $c }
TOML
  local t0; t0=$(now)
  "$kw" daemon --config "$dir/keywarden.toml" 2> "$log" &
  local pid=$!
  until grep -q -e 'run ok' -e 'run failed' "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.02
  done
  local t1; t1=$(now)
  kill -TERM "$pid"; wait "$pid" || true
  grep -q 'run ok' "$log" || { grep -E 'run failed|WARN' "$log" >&2; exit 1; }
  grep -o 'run ok: .*' "$log" | sed 's/^/  /' >&2
  elapsed "$t0" "$t1"
}

floor_clone() {
  local dir="$1"; mkdir -p "$dir"
  local t0; t0=$(now)
  for i in $(seq 0 $((n - 1))); do printf '%03d\n' "$i"; done |
    xargs -P "$c" -I{} git clone --mirror --quiet "$base/acme/repo-{}.git" "$dir/repo-{}.git"
  elapsed "$t0" "$(now)"
}

floor_fetch() {
  local dir="$1"
  local t0; t0=$(now)
  ls "$dir" | xargs -P "$c" -I{} git -C "$dir/{}" fetch --prune --quiet
  elapsed "$t0" "$(now)"
}

for run in $(seq "$runs"); do
  rm -rf "$work/floor" "$work/kw"
  f1=$(floor_clone "$work/floor")
  k1=$(kw_pass "$work/kw")
  python3 "$here/gen_fleet.py" push "$work/host" "$n" "$k"
  f2=$(floor_fetch "$work/floor")
  k2=$(kw_pass "$work/kw")
  printf 'run %d: first pass: floor %.2f s, keywarden %.2f s, ratio %.2f | incremental (%d pushed): floor %.2f s, keywarden %.2f s, ratio %.2f\n' \
    "$run" "$f1" "$k1" "$(ratio "$k1" "$f1")" "$k" "$f2" "$k2" "$(ratio "$k2" "$f2")"
done
