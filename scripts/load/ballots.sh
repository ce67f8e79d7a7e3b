#!/usr/bin/env bash
# Load test of casting ballots (poll window check, electorate check, ballot upsert, history row,
# one transaction) against a route doing one bare INSERT through the same store, in the same run;
# then the tally of a 20,000-part building.
# Usage: scripts/load/ballots.sh            (SQLite)
#        LINLI_DATABASE_URL=postgres://… scripts/load/ballots.sh   (PostgreSQL)
#        SPREAD=1 scripts/load/ballots.sh   (community staff entering the paper ballots of every
#                                            part of the building in turn, instead of one owner
#                                            changing one ballot: many rows, as at a count)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
DURATION="${DURATION:-15s}"
export LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
build_release
serve_demo 18082 >/dev/null
TOKEN=$(token owner)
POLL=$(curl -s "http://127.0.0.1:$PORT/api/v1/matters" -H "Authorization: Bearer $TOKEN" | python3 -c '
import json,sys,urllib.request
m=[m for m in json.load(sys.stdin) if m["process_code"]=="lift"][0]
print(m["id"])')
POLL=$(curl -s "http://127.0.0.1:$PORT/api/v1/matters/$POLL" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print(json.load(sys.stdin)["polls"][0]["id"])')
LUA="$DATA/ballot.lua"
if [ -n "${SPREAD:-}" ]; then
  STAFF=$(token community)
  PARTS=$(curl -s "http://127.0.0.1:$PORT/api/v1/polls/$POLL" -H "Authorization: Bearer $STAFF" | python3 -c 'import json,sys;print(",".join(str(p["part_id"]) for p in json.load(sys.stdin)["record_parts"]))')
  echo "paper ballots for $(echo "$PARTS" | tr ',' '\n' | wc -l) parts in turn"
  # Each request enters one part's paper ballot, the parts in turn, the choice alternating per
  # round, so every request writes a ballot and its history row, spread over the building.
  cat > "$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $STAFF"
local parts = {$PARTS}
local n = 0
request = function()
  n = n + 1
  local part = parts[(n % #parts) + 1]
  local choice = (math.floor(n / #parts) % 2 == 0) and "yes" or "no"
  return wrk.format(nil, nil, nil, '{"part_ids":[' .. part .. '],"method":"paper","choice":"' .. choice .. '"}')
end
LUA
else
# The owner changes their vote back and forth (the rule allows changes until the poll closes), so
# every request writes the ballot and its history row.
cat > "$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local n = 0
request = function()
  n = n + 1
  local choice = (n % 2 == 0) and "yes" or "no"
  return wrk.format(nil, nil, nil, '{"choice":"' .. choice .. '"}')
end
LUA
fi
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
echo "endpoint req/s p99 non2xx"
BASE=$(run bare_insert /bench/insert -s "$LUA")
echo "$BASE"
LINE=$(run cast_ballot /api/v1/polls/$POLL/ballots -s "$LUA")
echo "$LINE $(ratio "$LINE" "$BASE")"
[ -n "${SPREAD:-}" ] || echo "ballot history rows: $(curl -s "http://127.0.0.1:$PORT/api/v1/polls/$POLL" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print(max(p["revision"] for p in json.load(sys.stdin)["my_parts"]))') revisions of the owner's ballot"
kill $SERVER; wait $SERVER 2>/dev/null || true
"$BENCH" bench-tally --units 20000 --runs 30
