#!/usr/bin/env bash
# Issue 3's large-history figures: a demo of SCALE streets, COUNT generated requests over MONTHS
# months, then each party's queue, a street's monthly figures and the escalation sweep, timed in
# the process (`linli bench-requests`) and the queue and figures pages timed over HTTP.
# Usage: scripts/load/requests-history.sh                         (SQLite, 10,000,000 requests)
#        KEEP=1 keeps the data directory; COUNT=1000000 LINLI_DATABASE_URL=postgres://… scripts/load/requests-history.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
COUNT="${COUNT:-10000000}" MONTHS="${MONTHS:-120}" SCALE="${SCALE:-4}"
export LINLI_SWEEP_SECONDS=0
build_release
DATA="$(mktemp -d /tmp/linli-history-XXXX)"
export LINLI_DATA_DIR="$DATA"
trap 'kill ${SERVER:-} 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$DATA"' EXIT
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
/usr/bin/time -f "demo: %e s" "$BENCH" demo --password "$PASSWORD" --seed 1 --scale "$SCALE" | tail -1
/usr/bin/time -f "generate: %e s wall, %M KiB max RSS" "$BENCH" generate-requests --count "$COUNT" --months "$MONTHS" --overdue 1000
[ -z "${LINLI_DATABASE_URL:-}" ] && du -h "$DATA"/*.sqlite*
"$BENCH" bench-requests --runs 20
# The same over HTTP: the queue page of the property company and the street's figures page.
PORT=18083
"$BIN" serve --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
sleep 3
page_ms() {  # USER PATH: the median of 10 loads of a page, in ms, as USER
  local auth="Authorization: Bearer $(token "$1")"
  for i in $(seq 10); do curl -s -H "$auth" -o /dev/null -w "%{http_code} %{time_total}\n" "http://127.0.0.1:$PORT$2"; done |
    sort -k2 -n | awk -v p="$2" -v u="$1" 'NR==5 {printf "page %s as %s: median %.1f ms (HTTP %s)\n", p, u, $2 * 1000, $1}'
}
LAST_MONTH_FROM=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m-%d)
LAST_MONTH_TO=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m-%d)
page_ms property "/requests?scope=queue"
page_ms community "/requests?scope=queue"
page_ms street "/figures?from=$LAST_MONTH_FROM&to=$LAST_MONTH_TO"
