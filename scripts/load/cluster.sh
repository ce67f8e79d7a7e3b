#!/usr/bin/env bash
# Request submission on PostgreSQL, the ways a city can run it, each against the bare one-INSERT
# route measured just before it through the same path (its ratio is to that run):
#   direct    one node straight to the primary (no pgbouncer)
#   bouncer   one node through pgbouncer (transaction pooling)
#   nginx     three nodes behind nginx, through pgbouncer
# all three with the replica synchronous (remote_apply: a commit waits until the replica applied
# it), then
#   async     the three nodes with the replica asynchronous (LINLI_CLUSTER_SYNC=0)
# Usage: scripts/load/cluster.sh   (DURATION=10s ROUNDS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
build_release
export LINLI_BIN="$BIN" LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0 LINLI_BCRYPT_COST=4
export LINLI_CLUSTER_DIR=/tmp/linli-cluster-load LINLI_CLUSTER_PORT=27200
C=$LINLI_CLUSTER_PORT
DATA="$(mktemp -d /tmp/linli-load-XXXX)"
LOG="$DATA/rounds.txt"
trap '[ -z "${DIRECT:-}" ] || kill $DIRECT 2>/dev/null; scripts/cluster destroy >/dev/null 2>&1; rm -rf "$DATA"' EXIT

measure() {  # LABEL: ROUNDS of bare insert then submission, against $PORT
  local round base line
  for round in $(seq "$ROUNDS"); do
    base=$(run "$1:bare_insert" /bench/insert -s "$LUA")
    line=$(run "$1:submit_request" /api/v1/requests -s "$LUA")
    echo "$base"
    echo "$line $(ratio "$line" "$base")" | tee -a "$LOG"
  done
}

start_cluster() {  # SYNC
  scripts/cluster destroy >/dev/null 2>&1 || true
  LINLI_CLUSTER_SYNC=$1 scripts/cluster start 3 >/dev/null
  LINLI_DATABASE_URL="postgres://linli@127.0.0.1:$((C + 1))/linli" LINLI_DATA_DIR="$DATA/demo" LINLI_DATA_KEY="$(cat $LINLI_CLUSTER_DIR/data.key)" \
    /usr/bin/time -f "demo through pgbouncer: %e s wall" "$BENCH" demo --password "$PASSWORD" --seed 1 --no-history | tail -1
  PORT=$C
  TOKEN=$(token resident)
  HOUSEHOLD=$(curl -s http://127.0.0.1:$PORT/api/v1/me -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys;print([g for g in json.load(sys.stdin)["grants"] if g["household_id"]][0]["household_id"])')
  LUA="$DATA/post.lua"
  post_lua "$LUA" "$TOKEN" "{\"category\":\"noise\",\"description\":\"楼下棋牌室凌晨还很吵\",\"household_id\":$HOUSEHOLD}"
}

echo "endpoint req/s p99 non2xx"
start_cluster 1
# One node straight to the primary, beside the cluster (same database, same data).
LINLI_DATABASE_URL="postgres://linli@127.0.0.1:$((C + 2))/linli" LINLI_DATA_DIR="$DATA/direct" LINLI_DATA_KEY="$(cat $LINLI_CLUSTER_DIR/data.key)" \
  "$BIN" serve --port $((C + 50)) >/dev/null 2>&1 &
DIRECT=$!
sleep 3
PORT=$((C + 50)); measure direct
kill $DIRECT; DIRECT=
PORT=$((C + 11)); measure bouncer
PORT=$C; measure nginx
start_cluster 0
PORT=$C; measure async
summarise "$LOG"
