#!/usr/bin/env bash
# Issue 20's situation map (村情图) and needs analysis on a large history: a demo of SCALE
# streets, COUNT generated requests over MONTHS months (by default 4,000,000 over 12: about
# 1,000,000 a street for the year), then each layer of a street's and a community's map and the
# street's year of needs, each loaded RUNS times in a row over HTTP (median and slowest, ms),
# beside the constant route loaded the same way.
# Targets: each layer < 100 ms for a street; needs trends over a street's year < 100 ms.
# COMMUNITIES sets how many communities each street has (the demo's four by default, ≈10,000
# households; 54 make a street of ≈100,000, the issue's size).
# Usage: scripts/load/situation.sh     (SQLite);  LINLI_DATABASE_URL=postgres://… for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
COUNT="${COUNT:-4000000}" MONTHS="${MONTHS:-12}" SCALE="${SCALE:-4}" RUNS="${RUNS:-21}" COMMUNITIES="${COMMUNITIES:-}"
export LINLI_SWEEP_SECONDS=0
build_release
DATA="$(mktemp -d /tmp/linli-situation-XXXX)"
export LINLI_DATA_DIR="$DATA"
trap 'kill ${SERVER:-} 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$DATA"' EXIT
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
/usr/bin/time -f "demo: %e s" "$BENCH" demo --password "$PASSWORD" --seed 1 --scale "$SCALE" ${COMMUNITIES:+--communities "$COMMUNITIES"} | tail -1
/usr/bin/time -f "generate: %e s wall, %M KiB max RSS" "$BENCH" generate-requests --count "$COUNT" --months "$MONTHS" --overdue 1000
PORT=18150
"$BIN" serve --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
sleep 3
timed() {  # TOKEN NAME PATH: RUNS loads in a row; the median and the slowest, in ms
  for i in $(seq "$RUNS"); do curl -s -H "Authorization: Bearer $1" -o /dev/null -w "%{http_code} %{time_total}\n" "http://127.0.0.1:$PORT$3"; done |
    sort -k2 -n | awk -v n="$2" -v runs="$RUNS" '{t[NR]=$2; c=$1} END {printf "%-28s median %6.1f ms  slowest %6.1f ms  (HTTP %s)\n", n, t[int((runs+1)/2)]*1000, t[runs]*1000, c}'
}
STREET_TOKEN=$(token street)
COMMUNITY_TOKEN=$(token community)
STREET=$(curl -s -H "Authorization: Bearer $STREET_TOKEN" "http://127.0.0.1:$PORT/situation" | grep -o 'data-place="[0-9]*"' | head -1 | grep -o '[0-9]*')
COMMUNITY=$(curl -s -H "Authorization: Bearer $COMMUNITY_TOKEN" "http://127.0.0.1:$PORT/situation" | grep -o 'data-place="[0-9]*"' | head -1 | grep -o '[0-9]*')
echo "street $STREET, community $COMMUNITY"
# The first load of the coverage layer writes each community's plan rows (once, kept); the
# first needs query counts the generated requests into request_need_counts (once, kept).
for p in "/api/v1/places/$STREET/situation/grids" "/api/v1/places/$STREET/needs"; do
  curl -s -H "Authorization: Bearer $STREET_TOKEN" -o /dev/null -w "first load of $p: %{time_total} s\n" "http://127.0.0.1:$PORT$p"
done
timed "$STREET_TOKEN" constant /bench/constant
for scope in "street $STREET $STREET_TOKEN" "community $COMMUNITY $COMMUNITY_TOKEN"; do
  set -- $scope
  for layer in households grids requests "requests?open=1" facilities uncovered; do
    timed "$3" "$1 $layer" "/api/v1/places/$2/situation/$layer"
  done
  timed "$3" "$1 needs (12 months)" "/api/v1/places/$2/needs"
  timed "$3" "$1 page /situation" "/situation?place=$2"
done
timed "$STREET_TOKEN" constant /bench/constant
