#!/usr/bin/env bash
# Load test of request submission (routing, deadlines, event, audit, notification, one transaction)
# against a route doing one bare INSERT through the same store, measured just before it;
# ROUNDS times over (default 3), then the median.
# Usage: scripts/load/requests.sh            (SQLite)
#        LINLI_DATABASE_URL=postgres://… scripts/load/requests.sh   (PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
export LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
build_release
serve_demo 18081 >/dev/null
TOKEN=$(token resident)
HOUSEHOLD=$(curl -s http://127.0.0.1:$PORT/api/v1/me -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print([g for g in json.load(sys.stdin)["grants"] if g["household_id"]][0]["household_id"])')
LUA="$DATA/post.lua"
post_lua "$LUA" "$TOKEN" "{\"category\":\"noise\",\"description\":\"楼下棋牌室凌晨还很吵\",\"household_id\":$HOUSEHOLD}"
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
echo "endpoint req/s p99 non2xx"
LOG="$DATA/rounds.txt"
for round in $(seq "$ROUNDS"); do
  BASE=$(run bare_insert /bench/insert -s "$LUA")
  echo "$BASE"
  LINE=$(run submit_request /api/v1/requests -s "$LUA")
  echo "$LINE $(ratio "$LINE" "$BASE")" | tee -a "$LOG"
done
summarise "$LOG"
echo "requests stored: $(curl -s "http://127.0.0.1:$PORT/api/v1/requests?scope=mine&limit=1" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')"
