#!/usr/bin/env bash
# Load test of the registry's hot pages against a bare constant route, in the same run.
# Usage: scripts/load/registry.sh [scale]   (scale 40 ≈ 1,000,000 residents)
#        LINLI_DATABASE_URL=postgres://… scripts/load/registry.sh 4   (PostgreSQL, an empty database)
# Builds release, loads the demo into a fresh SQLite under /tmp, serves it, runs wrk -c64 on
# loopback against: the constant route, the household page (JSON), a resident search by phone
# and a compound listing, and prints each rate as a ratio to the constant route measured just
# before it; ROUNDS times over (default 3), then each endpoint's median.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
SCALE="${1:-40}"
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
build_release
serve_demo 18080 --scale "$SCALE"
TOKEN=$(token admin)
# Pick real objects from the database (SQLite file, or PostgreSQL when LINLI_DATABASE_URL says so).
sql() { if [ -n "${LINLI_DATABASE_URL:-}" ]; then psql -tA -F '|' "$LINLI_DATABASE_URL" -c "$1"; else sqlite3 "$DATA/linli.sqlite" "$1"; fi; }
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
read -r HOUSEHOLD COMPOUND <<<"$(sql "SELECT h.id, (SELECT id FROM places WHERE kind='compound' ORDER BY id LIMIT 1 OFFSET 10) FROM households h ORDER BY h.id LIMIT 1 OFFSET 5000" | tr '|' ' ')"
# A phone in clear is not in the database: take one from an unmasked view (audited).
RES=$(sql "SELECT id FROM residents WHERE phone_index IS NOT NULL ORDER BY id LIMIT 1 OFFSET 5000")
PHONE=$(curl -s -X POST "http://127.0.0.1:$PORT/api/v1/residents/$RES/unmask" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"reason":"load test"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["phone"])')
AUTH=(-H "Authorization: Bearer $TOKEN")
rounds "household /api/v1/households/$HOUSEHOLD" "household_html /households/$HOUSEHOLD" \
       "search_phone /api/v1/residents?q=$PHONE" "compound /api/v1/places/$COMPOUND"
