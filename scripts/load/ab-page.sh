#!/usr/bin/env bash
# A/B of one GET page between two release binaries, for judging a change on a noisy machine: both
# serve the same demo database at once (reads only), and wrk loads one, then the other, ROUNDS
# times in alternation. Prints each round (req/s, CPU µs per request, p99) and the medians of
# req/s and of the server's CPU per request (user + system, from /proc). The two pages' bodies
# are compared first.
# Usage: scripts/load/ab-page.sh OLD_BINARY NEW_BINARY [PATH]
#        PATH defaults to the HTML household page of household 5001; SCALE (default 40, ≈1,000,000
#        residents) sizes the demo, DATA_DIR reuses a demo made before (it is not deleted then).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
OLD="$1" NEW="$2" PAGE="${3:-/households/5001}"
# The demo comes from linli-bench beside the new binary (older builds had it in linli itself).
BENCH="${BENCH:-$(dirname "$NEW")/linli-bench}"
ROUNDS="${ROUNDS:-6}" DURATION="${DURATION:-4s}"
export LINLI_SWEEP_SECONDS=0
if [ -n "${DATA_DIR:-}" ]; then
  export LINLI_DATA_DIR="$DATA_DIR"; CLEAN=""
else
  export LINLI_DATA_DIR="$(mktemp -d /tmp/linli-abpage-XXXX)"; CLEAN="$LINLI_DATA_DIR"
  "$BENCH" demo --password "$PASSWORD" --seed 1 --scale "${SCALE:-40}" >/dev/null
fi
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; [ -z "$CLEAN" ] || rm -rf "$CLEAN"' EXIT
"$OLD" serve --port 18120 >/dev/null 2>&1 & PIDS+=($!)
"$NEW" serve --port 18121 >/dev/null 2>&1 & PIDS+=($!)
sleep 3
PORT=18120 TOKEN=$(token admin)
AUTH="Authorization: Bearer $TOKEN"
cmp -s <(curl -s -H "$AUTH" "http://127.0.0.1:18120$PAGE") <(curl -s -H "$AUTH" "http://127.0.0.1:18121$PAGE") \
  && echo "the two binaries answer $PAGE with the same body" || echo "NOTE: the two binaries answer $PAGE differently"
for P in 18120 18121; do wrk -t2 -c64 -d2s -H "$AUTH" "http://127.0.0.1:$P$PAGE" >/dev/null; done  # warm up
LOG="$(mktemp /tmp/linli-abpage-rounds-XXXX)"
for round in $(seq "$ROUNDS"); do
  for i in 0 1; do
    P=$((18120 + i)) PID=${PIDS[$i]} NAME=$([ $i = 0 ] && echo old || echo new)
    t0=$(awk '{print $14 + $15}' /proc/$PID/stat)
    out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "$AUTH" "http://127.0.0.1:$P$PAGE")
    t1=$(awk '{print $14 + $15}' /proc/$PID/stat)
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$NAME $(echo "$out" | awk '/Requests\/sec/ {print $2}') $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }') $(echo "$out" | awk '$1=="99%" {print $2}')" | tee -a "$LOG"
  done
done
ab_medians "$LOG" request
rm -f "$LOG"
