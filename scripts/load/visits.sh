#!/usr/bin/env bash
# A grid worker's due list under load (issue 20), beside the constant route in the same run.
# Usage: scripts/load/visits.sh [SCALE]   (default 40, ≈1,000,000 residents)
# BIN=path/to/linli uses that binary instead of building the release one.
# Target: p99 < 10 ms and ≥ 0.3 of the constant route (the ratio at 64 connections, the p99
# both there and at 8). The first request syncs the grid's
# community (its households' rows); it is made before the clock starts.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
[ -n "${BIN:-}" ] || build_release
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
serve_demo 18140 --scale "${1:-40}"
GRID=$(token grid)
AUTH=(-H "Authorization: Bearer $GRID")
# Tag an elderly resident living alone in the grid, log one visit, and warm the community's rows.
curl -s "${AUTH[@]}" "http://127.0.0.1:$PORT/api/v1/visits/due" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("due list:", len(d["items"]), "households,", d["overdue"], "overdue")'
HOUSEHOLD=$(curl -s "${AUTH[@]}" "http://127.0.0.1:$PORT/api/v1/visits/due" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["household_id"])')
curl -s -o /dev/null -w "a visit: %{http_code}\n" "${AUTH[@]}" -H 'content-type: application/json' \
  -d "{\"household_id\":$HOUSEHOLD,\"outcome\":\"well\",\"client_key\":\"load-1\"}" "http://127.0.0.1:$PORT/api/v1/visits"
rounds "due_json /api/v1/visits/due" "due_html /visits" "history_json /api/v1/households/$HOUSEHOLD/visits"
# The p99 once more at eight connections: 64 on two cores measure the queue in front of the
# server (the constant route's own p99 there is 6-10 ms); eight are still several grid workers
# at once, each answered as soon as a core is free.
echo "at 8 connections: endpoint req/s p99 non2xx"
for i in 1 2 3; do
  CONNECTIONS=8 run constant /bench/constant "${AUTH[@]}"
  CONNECTIONS=8 run due_json /api/v1/visits/due "${AUTH[@]}"
done
