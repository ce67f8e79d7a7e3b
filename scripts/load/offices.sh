#!/usr/bin/env bash
# Issue 22's speed targets at the scale this machine can hold in a run: a demo of SCALE streets
# (~25,000 residents each) with COUNT generated requests over MONTHS months, then the city's,
# the district's and a street's dashboard for the whole history and for last month, a street's
# assessment table and the departments' ranking, each the median of 10 loads over HTTP beside
# the median of the bare /health route in the same run.
# Usage: scripts/load/offices.sh                       (SQLite; SCALE=4 COUNT=2000000 MONTHS=24)
#        SCALE=8 COUNT=10000000 LINLI_DATABASE_URL=postgres://… scripts/load/offices.sh
#        SCALE=50 COMMUNITIES=20 COUNT=10000000 …     (the issue's city: 1,000 communities, ~6.3 M residents)
#        KEEP=1 … then REUSE=/tmp/linli-offices-XXXX scripts/load/offices.sh   (time again, no generation)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
COUNT="${COUNT:-2000000}" MONTHS="${MONTHS:-24}" SCALE="${SCALE:-4}"
export LINLI_SWEEP_SECONDS=0
build_release
if [ -n "${REUSE:-}" ]; then
  # A data directory an earlier run kept (KEEP=1): the same pages timed again, nothing generated.
  DATA="$REUSE"; KEEP=1
else
  DATA="$(mktemp -d /tmp/linli-offices-XXXX)"
fi
export LINLI_DATA_DIR="$DATA"
trap 'kill ${SERVER:-} 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$DATA"' EXIT
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite); $([ -n "${REUSE:-}" ] && echo "kept data" || echo "scale $SCALE × ${COMMUNITIES:-4} communities; $COUNT requests over $MONTHS months"); data $DATA"
if [ -z "${REUSE:-}" ]; then
  /usr/bin/time -f "demo: %e s" "$BENCH" demo --password "$PASSWORD" --seed 1 --scale "$SCALE" ${COMMUNITIES:+--communities "$COMMUNITIES"} | tail -1
  /usr/bin/time -f "generate: %e s wall, %M KiB max RSS" "$BENCH" generate-requests --count "$COUNT" --months "$MONTHS"
fi
PORT=18085
"$BIN" serve --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
sleep 3
median_ms() {  # USER PATH [METHOD]: the median of 10 loads, in ms
  local auth="Authorization: Bearer $(token "$1")" method="${3:-GET}"
  curl -s -X "$method" -H "$auth" -o /dev/null "http://127.0.0.1:$PORT$2"   # warm
  for i in $(seq 10); do curl -s -X "$method" -H "$auth" -o /dev/null -w "%{http_code} %{time_total}\n" "http://127.0.0.1:$PORT$2"; done |
    sort -k2 -n | awk 'NR==5 {printf "%.1f %s", $2 * 1000, $1}'
}
BARE=$(median_ms admin /health | cut -d' ' -f1)
echo "bare /health: median $BARE ms"
FROM=$(date -d "$(date +%Y-%m-01) -$MONTHS month" +%Y-%m-%d); TO=$(date +%Y-%m-%d)
LAST_FROM=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m-%d); LAST_TO=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m-%d)
report() {  # NAME USER PATH [METHOD]
  local r; r=$(median_ms "$2" "$3" "${4:-GET}")
  echo "$1: median ${r% *} ms (HTTP ${r#* }), ratio to bare $(awk -v a="${r% *}" -v b="$BARE" 'BEGIN { printf "%.0f", a / b }')×"
}
report "city dashboard, whole history" admin "/dashboard/1?from=$FROM&to=$TO"
report "city dashboard, last month" admin "/dashboard/1?from=$LAST_FROM&to=$LAST_TO"
report "city dashboard, this month so far (the default)" admin "/dashboard/1"
MID_FROM=$(date -d "$(date +%Y-%m-01) -13 month +14 day" +%Y-%m-%d)
report "city dashboard, a year from mid-month (edge days)" admin "/dashboard/1?from=$MID_FROM&to=$TO"
ALMOST=$(date -d "$LAST_TO -1 day" +%Y-%m-%d)
report "city dashboard, a month to its last day but one (all edge days: this month so far, at its longest)" admin "/dashboard/1?from=$LAST_FROM&to=$ALMOST"
report "district dashboard, last month" admin "/dashboard/2?from=$LAST_FROM&to=$LAST_TO"
report "street dashboard, last month" street "/dashboard/3?from=$LAST_FROM&to=$LAST_TO"
report "city dashboard JSON, last month" admin "/api/v1/dashboard/1?from=$LAST_FROM&to=$LAST_TO"
report "street assessment table" street "/assessments/1"
report "street assessment, values taken again (POST)" street "/api/v1/assessments/1/refresh" POST
report "departments' ranking, street" street "/rankings/3"
