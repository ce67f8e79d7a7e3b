#!/usr/bin/env bash
# The pickers under load (issue 19): staff typing an address, a name or a phone's last four
# digits, against the bare /health route in the same run (the ratio is what to judge on a noisy
# machine). Usage: scripts/load/picker.sh [SCALE]   (default 40, ≈1,000,000 residents)
# BIN=path/to/linli uses that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
build_release
serve_demo 18130 --scale "${1:-40}"
ADMIN=$(token admin) COMMUNITY=$(token community)
# Real queries from the demo: a household's address without spaces, a resident's name, a phone's last four.
read -r ADDRESS NAME LAST4 < <(curl -s -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/api/v1/households/${HOUSEHOLD:-5001}" | python3 -c '
import json, sys
h = json.load(sys.stdin); r = h["residents"][0]
print(h["address"].replace(" ", ""), r["name"], next((x["phone"][-4:] for x in h["residents"] if x.get("phone")), "0000"))')
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
run_pick() { # NAME TOKEN PATH
  out=$(wrk -t2 -c16 -d"${DURATION:-5s}" --latency -H "Authorization: Bearer $2" "http://127.0.0.1:$PORT$3")
  printf '%-28s %10s req/s  p50 %8s  p99 %8s\n' "$1" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')"
}
echo "queries: address=$ADDRESS name=$NAME last4=$LAST4"
run_pick "bare /health" "$ADMIN" "/health"
for who in COMMUNITY ADMIN; do
  run_pick "$who address" "${!who}" "/api/v1/pick/households?q=$(enc "$ADDRESS")"
  run_pick "$who name" "${!who}" "/api/v1/pick/households?q=$(enc "$NAME")"
  run_pick "$who phone last four" "${!who}" "/api/v1/pick/households?q=$LAST4"
  run_pick "$who place" "${!who}" "/api/v1/pick/places?q=$(enc "${ADDRESS:0:2}")"
done
