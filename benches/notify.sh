#!/usr/bin/env bash
# Outbox throughput: `keywarden scan --notify` on a tree with N leaked keys enqueues
# 1 + 2N signed webhook events (report, finding.opened, leak.detected) and delivers them
# to a local HTTP receiver (Python, 127.0.0.1). Prints messages/second end to end
# (scan + render + enqueue in one transaction + one claim/send/record per message).
# Usage: benches/notify.sh [N] [path/to/keywarden]   (default 200, target/release or debug)
set -euo pipefail
n=${1:-200}
bin=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$bin" ]; then
  bin=$root/target/release/keywarden
  [ -x "$bin" ] || bin=$root/target/debug/keywarden
fi
work=$(mktemp -d)
trap 'kill $rx 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/app"
python3 - "$work/app" "$n" <<'PY'
import random, string, sys
d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(n):
    body = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(32))
    open(f"{d}/svc{i}.env.production", "w").write(f"MASK_KEY=mk_live_{body}\n")
PY
cat > "$work/rx.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$work/rx.py" > "$work/port" &
rx=$!
while [ ! -s "$work/port" ]; do sleep 0.05; done
port=$(cat "$work/port")
cat > "$work/kw.toml" <<TOML
[state]
path = "state.db"
[[notify.webhook]]
name = "bench"
url = { env = "BENCH_URL" }
secret = { env = "BENCH_SECRET" }
TOML
export BENCH_URL="http://127.0.0.1:$port/hook" BENCH_SECRET="whsec_$(printf 'bench-secret-key' | base64)"
start=$(date +%s.%N)
"$bin" -q scan "$work/app" --notify --service-config "$work/kw.toml" > /dev/null || test $? -eq 1
end=$(date +%s.%N)
msgs=$("$bin" outbox list --all --format json --config "$work/kw.toml" | python3 -c 'import json,sys; m=json.load(sys.stdin)["messages"]; print(sum(r["status"]=="delivered" for r in m), len(m))')
python3 - "$start" "$end" $msgs <<'PY'
import sys
s, e, delivered, total = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"{delivered}/{total} messages delivered in {e-s:.2f}s: {delivered/(e-s):.0f} messages/s")
PY
