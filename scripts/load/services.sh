#!/usr/bin/env bash
# The service centre under load: booking a counter slot (scope, slot capacity by a conditional
# UPDATE, the application, its history row and audit, one transaction) and signing a household up
# for an activity (the same, with the waiting list), each against a route doing one bare INSERT
# through the same store, in the same run. 64 clients; every request is a different household, so
# none is refused as a second booking.
# Usage: scripts/load/services.sh            (SQLite)
#        LINLI_DATABASE_URL=postgres://… scripts/load/services.sh   (PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/load/lib.sh
DURATION="${DURATION:-10s}"
export LINLI_BENCH=1 LINLI_SWEEP_SECONDS=0
build_release
serve_demo 18084 >/dev/null
TOKEN=$(token admin)
LUA_BOOK="$DATA/book.lua" LUA_JOIN="$DATA/join.lua" BASE_LUA="$DATA/base.lua"
# Ten counter services at the first street, each with 60 days of 5-minute slots for 100 people;
# ten activities for the whole city with 2,000 places each (later households wait). The lua
# scripts walk households × services so that no household books one service twice.
python3 - "$PORT" "$TOKEN" "$LUA_BOOK" "$LUA_JOIN" "${LINLI_DATABASE_URL:-}" "$DATA/linli.sqlite" <<'PY'
import sys, datetime
sys.path.insert(0, "scripts/load")
from linli_api import caller, reader
port, token, lua_book, lua_join, pg, sqlite = sys.argv[1:7]
call, rows = caller(f"http://127.0.0.1:{port}", token), reader(pg, sqlite)
street, city = rows("SELECT id FROM places WHERE kind = 'street' ORDER BY id LIMIT 1")[0], rows("SELECT id FROM places WHERE kind = 'city' ORDER BY id LIMIT 1")[0]
street_path = rows(f"SELECT path FROM places WHERE id = {street}")[0]
near = rows(f"SELECT id FROM households WHERE path LIKE '{street_path}%' ORDER BY id")
every = rows("SELECT id FROM households ORDER BY id")
today = datetime.date.today()
affairs, slots = [], []
for n in range(10):
    a = call("POST", "/api/v1/affairs", {"place_id": int(street), "name": f"窗口事项 {n}", "mode": "counter"})
    call("POST", f"/api/v1/affairs/{a['id']}/slots", {"from": str(today + datetime.timedelta(days=1)), "to": str(today + datetime.timedelta(days=60)),
         "weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "09:00", "end": "17:00", "every": 5, "capacity": 100})
    affairs.append(a["id"])
    slots.append(rows(f"SELECT id FROM affair_slots WHERE affair_id = {a['id']} ORDER BY starts_at"))
acts = []
start = today + datetime.timedelta(days=7)
for n in range(10):
    acts.append(call("POST", "/api/v1/activities", {"place_id": int(city), "title": f"讲座 {n}", "venue": "活动室", "capacity": 2000,
                     "starts_at": f"{start}T09:30", "ends_at": f"{start}T11:00"})["id"])
lua_head = f'''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local counter = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
'''
with open(lua_book, "w") as f:
    f.write(lua_head)
    f.write("local households = {" + ",".join(near) + "}\n")
    f.write("local affairs = {" + ",".join(map(str, affairs)) + "}\n")
    f.write("local slots = {" + ",".join("{" + ",".join(s) + "}" for s in slots) + "}\n")
    f.write('''
request = function()
  local i = counter * 2 + tid
  counter = counter + 1
  local a = math.floor(i / #households) % #affairs + 1
  local h = households[i % #households + 1]
  local s = slots[a][i % #slots[a] + 1]
  return wrk.format(nil, "/api/v1/affairs/" .. affairs[a] .. "/applications", nil, '{"household_id":' .. h .. ',"slot_id":' .. s .. '}')
end
''')
with open(lua_join, "w") as f:
    f.write(lua_head)
    f.write("local households = {" + ",".join(every) + "}\n")
    f.write("local acts = {" + ",".join(map(str, acts)) + "}\n")
    f.write('''
request = function()
  local i = counter * 2 + tid
  counter = counter + 1
  local a = math.floor(i / #households) % #acts + 1
  return wrk.format(nil, "/api/v1/activities/" .. acts[a] .. "/sign-ups", nil, '{"household_id":' .. households[i % #households + 1] .. '}')
end
''')
print(f"{len(near)} households on the street, {len(every)} in the city; {sum(map(len, slots))} slots; 10 activities", file=sys.stderr)
PY
post_lua "$BASE_LUA" "$TOKEN" '{}'
echo "backend: $([ -n "${LINLI_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
echo "endpoint req/s p99 non2xx"
BASE=$(run bare_insert /bench/insert -s "$BASE_LUA")
echo "$BASE"
LINE=$(run book_slot / -s "$LUA_BOOK")  # the script names each request's path
echo "$LINE $(ratio "$LINE" "$BASE")"
BASE=$(run bare_insert /bench/insert -s "$BASE_LUA")
echo "$BASE"
LINE=$(run sign_up / -s "$LUA_JOIN")
echo "$LINE $(ratio "$LINE" "$BASE")"
# A canteen's day: 1,000 orders (a third delivered) for one lunch, then its kitchen counts and
# delivery round read 20 times; the median time is reported.
python3 - "$PORT" "$TOKEN" "${LINLI_DATABASE_URL:-}" "$DATA/linli.sqlite" <<'PY'
import sys, time, datetime, statistics
sys.path.insert(0, "scripts/load")
from linli_api import caller, reader
port, token, pg, sqlite = sys.argv[1:5]
call, rows = caller(f"http://127.0.0.1:{port}", token), reader(pg, sqlite)
community = rows("SELECT id FROM places WHERE kind = 'community' ORDER BY id LIMIT 1")[0]
path = rows(f"SELECT path FROM places WHERE id = {community}")[0]
residents = rows(f"SELECT r.id FROM residents r JOIN households h ON h.id = r.household_id WHERE h.path LIKE '{path}%' ORDER BY r.id LIMIT 1000")
canteen = call("POST", "/api/v1/canteens", {"place_id": int(community), "name": "负载测试食堂", "cutoff": "23:59", "delivery_fee": "2"})["id"]
day = str(datetime.date.today() + datetime.timedelta(days=1))
menu = call("POST", f"/api/v1/canteens/{canteen}/menus", {"day": day, "meal": "lunch", "dishes": "两荤一素", "price": "12", "portions": 2000})["id"]
started = time.time()
for n, r in enumerate(residents):
    call("POST", f"/api/v1/canteen-menus/{menu}/orders", {"resident_id": int(r), "delivery": n % 3 == 0})
ordered = time.time() - started
times = []
for _ in range(20):
    t0 = time.time(); k = call("GET", f"/api/v1/canteens/{canteen}/kitchen?day={day}"); times.append((time.time() - t0) * 1000)
meal = k["meals"][0]
print(f"canteen day: {len(residents)} orders placed one by one in {ordered:.1f} s; kitchen counts {meal['dine_in']} eat-in + {meal['delivery']} delivered, "
      f"{len(k['deliveries'])} on the round; closing the day (GET kitchen) median {statistics.median(times):.0f} ms, max {max(times):.0f} ms over 20")
PY
kill $SERVER; wait $SERVER 2>/dev/null || true
if [ -z "${LINLI_DATABASE_URL:-}" ]; then
  sqlite3 "$DATA/linli.sqlite" "SELECT 'slots over capacity: ' || COUNT(*) FROM affair_slots WHERE booked > capacity;
    SELECT 'bookings: ' || COUNT(*) FROM affair_applications; SELECT 'sign-ups: ' || status || ' ' || COUNT(*) FROM activity_signups GROUP BY status;
    SELECT 'activities over capacity: ' || COUNT(*) FROM activities WHERE taken > capacity;"
fi
