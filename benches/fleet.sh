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
# through xargs -P C). A keywarden pass is timed from the daemons' start to their "run ok"
# log line (their start-up run), then they are stopped. Goal: each ratio <= 1.5.
#
# Three keywarden modes per pass, each with its own state (and mirrors):
#
#   sqlite  one daemon, `[state] path` (the default)
#   pg1     one daemon, `[state] url` on a PostgreSQL server started for the bench
#   pg2     two daemons with the same config and `[state] url`: they split the pass
#           (a lease per repository); timed until both logged "run ok". Both run on this
#           machine and share its mirrors directory (as two units on one host would).
#
# Every pass checks that each repository was taken exactly once (the daemons' "scanned" +
# "unchanged" sum to N, and with two daemons the other's "run by another daemon" too), and
# prints pg2/pg1 (two daemons against one) next to the floor ratios. The start-up run
# stands for the schedule's last tick (daemons on one database agree on it, and do not run
# a tick again): each pass gets a schedule whose last tick is the second it starts.
#
# PostgreSQL: initdb/pg_ctl from KEYWARDEN_PG_BIN, else the newest
# /usr/lib/postgresql/*/bin; as the `postgres` user (or KEYWARDEN_PG_USER) when run as
# root; trust authentication on 127.0.0.1 only, fsync off (as the tests' server), in a
# temp dir removed at exit. MODES="sqlite pg1" (etc.) runs a subset; without PostgreSQL
# only sqlite runs.
#
#   benches/fleet.sh [N] [C] [RUNS]
#
# Needs a build: cargo build --profile dist && cargo build --profile dist --example
# git-http-server (KEYWARDEN=path and SERVER=path pick other binaries, e.g. target/release/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kw="${KEYWARDEN:-$here/../target/dist/keywarden}"
server="${SERVER:-$here/../target/dist/examples/git-http-server}"
[ -x "$kw" ] || { echo "build first: cargo build --profile dist (or KEYWARDEN=…)" >&2; exit 2; }
[ -x "$server" ] || { echo "build first: cargo build --profile dist --example git-http-server (or SERVER=…)" >&2; exit 2; }
n="${1:-200}"; c="${2:-4}"; runs="${3:-1}"; k="${K:-$((n / 10))}"
work="$(mktemp -d)"
pids=()
pg_stop=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ${#pg_stop[@]} -eq 0 ] || "${pg_stop[@]}" >/dev/null 2>&1 || true
  rm -rf "$work" "${pgdir:-}"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

now() { date +%s.%N; }
elapsed() { python3 -c "print($2 - $1)"; }
ratio() { python3 -c "print($1 / $2)"; }

# A PostgreSQL server for the shared-state modes: sets pg_url_base (…/ without a database).
pg_bin="${KEYWARDEN_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
modes="${MODES:-sqlite pg1 pg2}"
if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
  pgdir="$(mktemp -d)"
  as=()
  if [ "$(id -u)" = 0 ]; then
    pg_user="${KEYWARDEN_PG_USER:-postgres}"
    id -u "$pg_user" >/dev/null 2>&1 || pg_user=nobody
    chown "$pg_user" "$pgdir"
    as=(runuser -u "$pg_user" --)
  fi
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as[@]}" "$pg_bin/initdb" -D "$pgdir/data" -U kw --auth=trust -E UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1
  "${as[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o \
    "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  pg_stop=("${as[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast stop)
  pg_url_base="postgresql://kw@127.0.0.1:$pg_port"
else
  echo "no PostgreSQL (initdb) found: only the sqlite mode runs" >&2
  modes="sqlite"
fi
createdb() { "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kw "$1"; }
python3 "$here/gen_fleet.py" create "$work/host" "$n"
"$server" "$work/host" > "$work/server.url" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/server.url" ] && break; sleep 0.05; done
base="$(head -1 "$work/server.url")"
echo "fleet: $n repositories at $base, $(du -sh "$work/host" | cut -f1) of bare repositories; $c at once; keywarden $("$kw" --version)"
urls=$(for i in $(seq 0 $((n - 1))); do printf '"%s/acme/repo-%03d.git", ' "$base" "$i"; done)

# One keywarden pass of mode $2 with state under $1 (a fresh database per mode, made on
# its first pass): prints seconds from start to the last "run ok"; checks that every
# repository was taken exactly once.
kw_pass() {
  local dir="$1" mode="$2" stamp; stamp=$(date +%s%N)
  mkdir -p "$dir"
  local state='path = "state/state.db"' daemons=1
  if [ "$mode" != sqlite ]; then
    local db; db="kw_$(basename "$dir" | tr -- - _)"
    [ -e "$dir/.db" ] || { createdb "$db"; touch "$dir/.db"; }
    state='url = { env = "KW_BENCH_STATE_URL" }'
    export KW_BENCH_STATE_URL="$pg_url_base/$db"
    [ "$mode" = pg2 ] && daemons=2
  fi
  # The start-up run stands for the schedule's last tick: this second (UTC), once a year.
  local schedule; schedule=$(date -u +'%-S %-M %-H %-d %-m *')
  cat > "$dir/keywarden.toml" <<TOML
[state]
$state

[[daemon.scan]]
name = "fleet"
schedule = "$schedule"
history = true
source = { urls = [ ${urls} ], concurrency = $c }
TOML
  local t0; t0=$(now)
  local dpids=() logs=()
  for d in $(seq "$daemons"); do
    local log="$dir/daemon-$stamp-$d.log"
    logs+=("$log"); : > "$log"
    "$kw" daemon --config "$dir/keywarden.toml" 2> "$log" &
    dpids+=($!)
  done
  for i in "${!dpids[@]}"; do
    until grep -q -e 'run ok' -e 'run failed' "${logs[$i]}"; do
      kill -0 "${dpids[$i]}" 2>/dev/null || { cat "${logs[$i]}" >&2; exit 1; }
      sleep 0.02
    done
  done
  local t1; t1=$(now)
  for p in "${dpids[@]}"; do kill -TERM "$p"; done
  for p in "${dpids[@]}"; do wait "$p" || true; done
  local taken=0 elsewhere=0
  for log in "${logs[@]}"; do
    grep -q 'run ok' "$log" || { grep -E 'run failed|WARN' "$log" >&2; exit 1; }
    local line; line=$(grep -o 'run ok: .*' "$log" | head -1)
    echo "  $mode: $line" >&2
    local s u e
    s=$(sed -E 's/.* ([0-9]+) scanned.*/\1/' <<<"$line")
    u=$(sed -E 's/.* ([0-9]+) unchanged.*/\1/' <<<"$line")
    e=$(grep -oE '[0-9]+ run by another daemon' <<<"$line" | cut -d' ' -f1 || true)
    taken=$((taken + s + u)); elsewhere=$((elsewhere + ${e:-0}))
  done
  if [ "$taken" -ne "$n" ] || [ "$elsewhere" -ne $(( (daemons - 1) * n )) ]; then
    echo "$mode: $taken repositories taken (want $n), $elsewhere left to another daemon (want $(( (daemons - 1) * n )))" >&2
    exit 1
  fi
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
  rm -rf "$work/floor" "$work"/kw-*
  declare -A first=() incr=()
  f1=$(floor_clone "$work/floor")
  for m in $modes; do first[$m]=$(kw_pass "$work/kw-$m-$run" "$m"); done
  python3 "$here/gen_fleet.py" push "$work/host" "$n" "$k"
  f2=$(floor_fetch "$work/floor")
  for m in $modes; do incr[$m]=$(kw_pass "$work/kw-$m-$run" "$m"); done
  printf 'run %d: first pass: floor %.2f s' "$run" "$f1"
  for m in $modes; do printf ', %s %.2f s (%.2f)' "$m" "${first[$m]}" "$(ratio "${first[$m]}" "$f1")"; done
  [ -n "${first[pg2]:-}" ] && [ -n "${first[pg1]:-}" ] && printf ', two/one %.2f' "$(ratio "${first[pg2]}" "${first[pg1]}")"
  printf '\nrun %d: incremental (%d pushed): floor %.2f s' "$run" "$k" "$f2"
  for m in $modes; do printf ', %s %.2f s (%.2f)' "$m" "${incr[$m]}" "$(ratio "${incr[$m]}" "$f2")"; done
  [ -n "${incr[pg2]:-}" ] && [ -n "${incr[pg1]:-}" ] && printf ', two/one %.2f' "$(ratio "${incr[pg2]}" "${incr[pg1]}")"
  printf '\n'
done
