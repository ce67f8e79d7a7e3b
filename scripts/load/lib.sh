# Shared by the load scripts: build, serve a fresh demo, get a token, run wrk and report.
# Source it from a script that has `set -euo pipefail` and has cd'ed to the repository root.

PASSWORD=load-test-password

# Builds the release binary into $BIN, unless BIN already names one (a build kept elsewhere,
# e.g. in a worktree, to compare two versions).
# BENCH is linli-bench beside it (the demo, the generator, the benchmarks).
build_release() {
  if [ -z "${BIN:-}" ]; then
    swift build -c release --product linli >/dev/null
    swift build -c release --product linli-bench >/dev/null
    BIN="$(swift build -c release --show-bin-path)/linli"
  fi
  BENCH="${BENCH:-$(dirname "$BIN")/linli-bench}"
}

# serve_demo PORT [demo args…]: a fresh data directory in $DATA with the demo, served on PORT
# until the script exits.
serve_demo() {
  PORT=$1; shift
  DATA="$(mktemp -d /tmp/linli-load-XXXX)"
  export LINLI_DATA_DIR="$DATA"
  /usr/bin/time -f "demo: %e s wall, %M KiB max RSS" "$BENCH" demo --password "$PASSWORD" --seed 1 "$@" | tail -3
  "$BIN" serve --port "$PORT" >/dev/null 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
  sleep 2
}

# token USER: an API token of a demo account.
token() {
  curl -s -X POST "http://127.0.0.1:$PORT/api/v1/tokens" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])'
}

# post_lua FILE TOKEN BODY: a wrk script that POSTs the JSON BODY with the bearer TOKEN.
post_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
wrk.body = '$3'
LUA
}

# run NAME PATH [wrk args…]: prints "NAME req/s p99 non2xx" for wrk -t2 -c$CONNECTIONS (64 by
# default: the server's throughput) over $DURATION.
run() {
  local name=$1 path=$2; shift 2
  local out rps p99 errors
  out=$(wrk -t2 -c"${CONNECTIONS:-64}" -d"$DURATION" --latency "$@" "http://127.0.0.1:$PORT$path")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$name $rps $p99 ${errors:-0}"
}

# ratio LINE BASELINE_LINE: the first line's req/s over the baseline's.
ratio() {
  awk -v a="$(echo "$1" | awk '{print $2}')" -v b="$(echo "$2" | awk '{print $2}')" 'BEGIN { printf "ratio=%.3f", a / b }'
}

# rounds "NAME PATH" …: ROUNDS times over, each endpoint right after a constant-route run of
# its own (its ratio is to that run), every line kept in $DATA/rounds.txt, then the medians.
# Uses the wrk arguments in the AUTH array.
rounds() {
  local log="$DATA/rounds.txt" round spec base line specs=("$@")
  echo "endpoint req/s p99 non2xx"
  for round in $(seq "${ROUNDS:-3}"); do
    for spec in "${specs[@]}"; do
      set -- $spec
      base=$(run constant /bench/constant "${AUTH[@]}")
      line=$(run "$1" "$2" "${AUTH[@]}")
      echo "$base"
      echo "$line $(ratio "$line" "$base")" | tee -a "$log"
    done
  done
  summarise "$log"
}

# summarise FILE: from lines "NAME req/s p99 non2xx ratio=R" (one per round), each endpoint's
# median ratio and median p99 over the rounds. The same code varies by ±20 % between runs on
# these machines, so one run alone says little.
summarise() {
  python3 - "$1" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 5 and f[4].startswith("ratio="):
        p99 = float(f[2][:-2]) if f[2].endswith("ms") else float(f[2][:-2]) / 1000 if f[2].endswith("us") else float(f[2][:-1]) * 1000
        rows.setdefault(f[0], []).append((float(f[4][6:]), p99, float(f[1])))
print("median over rounds: endpoint req/s p99 ratio")
for name, r in rows.items():
    print(f"{name} {statistics.median(x[2] for x in r):.0f} {statistics.median(x[1] for x in r):.2f}ms ratio={statistics.median(x[0] for x in r):.3f} (rounds: {', '.join(f'{x[0]:.3f}' for x in r)})")
PY
}
# ab_medians FILE UNIT: from lines "old|new req/s cpu_µs …" (one per A/B round), each binary's
# median req/s and median CPU µs per UNIT.
ab_medians() {
  local name
  for name in old new; do
    echo "$name: median $(awk -v n=$name '$1 == n {print $2}' "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') req/s," \
         "$(awk -v n=$name '$1 == n {print $3}' "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') µs CPU per $2"
  done
}
