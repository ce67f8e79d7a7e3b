#!/usr/bin/env bash
# Load test of the registry's hot pages against a bare constant route, in the same run.
# Usage: scripts/load/registry.sh [scale]   (scale 40 ≈ 1,000,000 residents)
# Builds release, loads the demo into a fresh SQLite under /tmp, serves it, runs wrk -c64 on
# loopback against: the constant route, the household page (JSON), a resident search by phone
# and a compound listing, and prints each rate as a ratio to the constant route.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE="${1:-40}"
DURATION="${DURATION:-15s}"
swift build -c release --product linli >/dev/null
BIN="$(swift build -c release --show-bin-path)/linli"
DATA="$(mktemp -d /tmp/linli-load-XXXX)"
export LINLI_DATA_DIR="$DATA"
/usr/bin/time -f "demo: %e s wall, %M KiB max RSS" "$BIN" demo --scale "$SCALE" --password load-test-password --seed 1 | tail -3
PORT=18080
"$BIN" serve --port $PORT >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
sleep 2
TOKEN=$(curl -s -X POST http://127.0.0.1:$PORT/api/v1/tokens -H 'content-type: application/json' \
  -d '{"username":"admin","password":"load-test-password"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
# Pick real objects from the database.
read -r HOUSEHOLD COMPOUND <<<"$(sqlite3 "$DATA/linli.sqlite" "SELECT h.id, (SELECT id FROM places WHERE kind='compound' ORDER BY id LIMIT 1 OFFSET 10) FROM households h ORDER BY h.id LIMIT 1 OFFSET 5000" | tr '|' ' ')"
# A phone in clear is not in the database: take one from an unmasked view (audited).
RES=$(sqlite3 "$DATA/linli.sqlite" "SELECT id FROM residents WHERE phone_index IS NOT NULL ORDER BY id LIMIT 1 OFFSET 5000")
PHONE=$(curl -s -X POST "http://127.0.0.1:$PORT/api/v1/residents/$RES/unmask" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"reason":"load test"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["phone"])')
run() {
  local name=$1 path=$2
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path")
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local errors
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$name $rps $p99 ${errors:-0}"
}
echo "endpoint req/s p99 non2xx"
BASE=$(run constant /bench/constant)
echo "$BASE"
BASE_RPS=$(echo "$BASE" | awk '{print $2}')
for spec in "household /api/v1/households/$HOUSEHOLD" "household_html /households/$HOUSEHOLD" \
            "search_phone /api/v1/residents?q=$PHONE" "compound /api/v1/places/$COMPOUND"; do
  set -- $spec
  line=$(run "$1" "$2")
  rps=$(echo "$line" | awk '{print $2}')
  echo "$line $(awk -v a="$rps" -v b="$BASE_RPS" 'BEGIN { printf "ratio=%.3f", a / b }')"
done
