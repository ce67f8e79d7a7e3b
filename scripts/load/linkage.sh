#!/usr/bin/env bash
# Five-society linkage: load test of giving to a crowdfunding campaign (amount check, campaign
# check, double-entry posting with its balances, matching check, audit, one transaction) against
# a route doing one bare INSERT through the same store, in the same run; then filling a month of
# daily shifts for 50 tasks from 2,000 volunteers, and a 1,000,000-transaction ledger's balances.
# Usage: scripts/load/linkage.sh            (SQLite)
#        LINLI_DATABASE_URL=postgres://… scripts/load/linkage.sh   (PostgreSQL)
#        TRANSACTIONS=100000 scripts/load/linkage.sh   (a smaller ledger)
#        GIVER=community scripts/load/linkage.sh   (cash gifts entered by staff: booked at once,
#                                                    each matched from the street's pool; a
#                                                    resident's online gift is a pledge until paid)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
DURATION="${DURATION:-15s}"
TRANSACTIONS="${TRANSACTIONS:-1000000}"
export LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
build_release
serve_demo 18083 >/dev/null
GIVER="${GIVER:-resident}"
TOKEN=$(token "$GIVER")
PROJECT=$(curl -s "http://127.0.0.1:$PORT/api/v1/projects" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print(next(p["id"] for p in json.load(sys.stdin) if "坡道" in p["title"]))')
LUA="$DATA/gift.lua"
if [ "$GIVER" = resident ]; then
  post_lua "$LUA" "$TOKEN" '{"amount":"1.00"}'
else
  post_lua "$LUA" "$TOKEN" '{"amount":"1.00","name":"王阿姨"}'
fi
echo "giver: $GIVER"
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
echo "endpoint req/s p99 non2xx"
BASE=$(run bare_insert /bench/insert -s "$LUA")
echo "$BASE"
LINE=$(run give /api/v1/projects/$PROJECT/donations -s "$LUA")
echo "$LINE $(ratio "$LINE" "$BASE")"
kill $SERVER; wait $SERVER 2>/dev/null || true
"$BIN" ledger-check | tail -1
"$BENCH" bench-linkage --transactions "$TRANSACTIONS"
