#!/usr/bin/env bash
# Load test of request submission (routing, deadlines, event, audit, notification, one transaction)
# against a route doing one bare INSERT through the same store, in the same run.
# Usage: scripts/load/requests.sh            (SQLite)
#        LINLI_DATABASE_URL=postgres://… scripts/load/requests.sh   (PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-15s}"
swift build -c release --product linli >/dev/null
BIN="$(swift build -c release --show-bin-path)/linli"
DATA="$(mktemp -d /tmp/linli-load-XXXX)"
export LINLI_DATA_DIR="$DATA" LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
"$BIN" demo --password load-test-password --seed 1 >/dev/null
PORT=18081
"$BIN" serve --port $PORT >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
sleep 2
TOKEN=$(curl -s -X POST http://127.0.0.1:$PORT/api/v1/tokens -H 'content-type: application/json' \
  -d '{"username":"resident","password":"load-test-password"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
HOUSEHOLD=$(curl -s http://127.0.0.1:$PORT/api/v1/me -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print([g for g in json.load(sys.stdin)["grants"] if g["household_id"]][0]["household_id"])')
LUA="$DATA/post.lua"
cat > "$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"category":"noise","description":"楼下棋牌室凌晨还很吵","household_id":$HOUSEHOLD}'
LUA
run() {
  local name=$1 path=$2
  local out rps p99 errors
  out=$(wrk -t2 -c64 -d"$DURATION" --latency -s "$LUA" "http://127.0.0.1:$PORT$path")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$name $rps $p99 ${errors:-0}"
}
echo "backend: ${LINLI_DATABASE_URL:+postgres}${LINLI_DATABASE_URL:-sqlite}"
echo "endpoint req/s p99 non2xx"
BASE=$(run bare_insert /bench/insert)
echo "$BASE"
LINE=$(run submit_request /api/v1/requests)
echo "$LINE $(awk -v a="$(echo "$LINE" | awk '{print $2}')" -v b="$(echo "$BASE" | awk '{print $2}')" 'BEGIN { printf "ratio=%.3f", a / b }')"
echo "requests stored: $(curl -s "http://127.0.0.1:$PORT/api/v1/requests?scope=mine&limit=1" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')"
