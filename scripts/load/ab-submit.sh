#!/usr/bin/env bash
# A/B of request submission between two release binaries, for judging a change on a noisy machine:
# both serve their own copy of the same fresh scale-1 demo at once, and wrk loads one, then the
# other, ROUNDS times in alternation. Prints each round and the medians of req/s and of the
# server's CPU per submission (user + system, from /proc), which moves less with the machine.
# Usage: scripts/load/ab-submit.sh OLD_BINARY NEW_BINARY     (e.g. a copy of the binary before a change)
#        NEW_ENV="NAME=value" scripts/load/ab-submit.sh BIN BIN   (one binary, a switch for the second)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
OLD="$1" NEW="$2"
# The demo comes from linli-bench beside the new binary (older builds had it in linli itself).
BENCH="${BENCH:-$(dirname "$NEW")/linli-bench}"
ROUNDS="${ROUNDS:-6}" DURATION="${DURATION:-4s}"
export LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
SEED_DATA="$(mktemp -d /tmp/linli-ab-XXXX)"
LINLI_DATA_DIR="$SEED_DATA/demo" "$BENCH" demo --password "$PASSWORD" --seed 1 >/dev/null
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; rm -rf "$SEED_DATA"' EXIT
start() { # start NAME BINARY PORT [env]
  cp -r "$SEED_DATA/demo" "$SEED_DATA/$1"
  env ${4:-LINLI_AB=1} LINLI_DATA_DIR="$SEED_DATA/$1" "$2" serve --port "$3" >"$SEED_DATA/$1.log" 2>&1 &
  PIDS+=($!)
}
start old "$OLD" 18110
start new "$NEW" 18111 "${NEW_ENV:-}"
sleep 3
for PORT in 18110 18111; do
  TOKEN=$(token resident)
  HOUSEHOLD=$(curl -s "http://127.0.0.1:$PORT/api/v1/me" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print([g for g in json.load(sys.stdin)["grants"] if g["household_id"]][0]["household_id"])')
  post_lua "$SEED_DATA/post-$PORT.lua" "$TOKEN" "{\"category\":\"noise\",\"description\":\"楼下棋牌室凌晨还很吵\",\"household_id\":$HOUSEHOLD}"
  wrk -t2 -c64 -d2s -s "$SEED_DATA/post-$PORT.lua" "http://127.0.0.1:$PORT/api/v1/requests" >/dev/null  # warm up
done
LOG="$SEED_DATA/rounds.txt"
for round in $(seq "$ROUNDS"); do
  for i in 0 1; do
    PORT=$((18110 + i)) PID=${PIDS[$i]} NAME=$([ $i = 0 ] && echo old || echo new)
    t0=$(awk '{print $14 + $15}' /proc/$PID/stat)
    out=$(wrk -t2 -c64 -d"$DURATION" -s "$SEED_DATA/post-$PORT.lua" "http://127.0.0.1:$PORT/api/v1/requests")
    t1=$(awk '{print $14 + $15}' /proc/$PID/stat)
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$NAME $(echo "$out" | awk '/Requests\/sec/ {print $2}') $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')" | tee -a "$LOG"
  done
done
ab_medians "$LOG" submission
