#!/usr/bin/env python3
"""The cluster drill: three Linli nodes behind nginx over PostgreSQL through pgbouncer, with a
synchronous streaming replica (scripts/cluster). Under a concurrent write load through nginx it
kills one node without warning, restarts the primary without warning, and promotes the replica;
clients retry with their idempotency keys. Afterwards every acknowledged write is there exactly
once. Between the blows it checks what several nodes must agree on: a photo written by one node
is served by another, a revoked grant, a signed-out token and a changed setting take effect on
the other nodes within about a second.

Run by scripts/test; alone: python3 Tests/cluster/drill.py (builds nothing; needs the debug
binary and scripts/install-deps)."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LINLI_BIN") or os.path.join(ROOT, ".build", "debug", "linli")
# The demo street comes from linli-bench, beside linli (the binary a city runs has no demo).
BENCH_BIN = os.environ.get("LINLI_BENCH_BIN") or os.path.join(os.path.dirname(BIN), "linli-bench")
DIR = os.environ.get("LINLI_CLUSTER_DIR", "/tmp/linli-cluster-drill")
BASE = int(os.environ.get("LINLI_CLUSTER_PORT", "27100"))
NGINX = f"http://127.0.0.1:{BASE}"
PASSWORD = "Drill-pass-2026"
ENV = dict(os.environ, LINLI_CLUSTER_DIR=DIR, LINLI_CLUSTER_PORT=str(BASE), LINLI_BIN=BIN, LINLI_BCRYPT_COST="4")


def node(i):
    return f"http://127.0.0.1:{BASE + 10 + i}"


def cluster(*args, check=True):
    r = subprocess.run([os.path.join(ROOT, "scripts", "cluster"), *args], env=ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"scripts/cluster {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout.strip()


def sql(query):
    return cluster("psql", "-tAc", query)


def call(base, path, token=None, body=None, method=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method or ("POST" if body is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, raw
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def api(base, path, token=None, body=None, method=None):
    status, raw = call(base, path, token, body, method)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw


def token(base, user, password=PASSWORD):
    status, out = api(base, "/api/v1/tokens", body={"username": user, "password": password})
    assert status in (200, 201), (user, status, out)
    return out["token"]


def within(seconds, check, what):
    """How long until `check()` holds (it must within `seconds`)."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


class Writers:
    """Residents' requests through nginx, each key retried until acknowledged, as a phone app
    with its outbox would: a refused connection, a 502/503/504 or a 500 during a database
    restart is tried again with the same key."""

    def __init__(self, tok, household, threads=4):
        self.tok, self.household = tok, household
        self.acknowledged = {}  # key -> request id
        self.retries = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failures = []
        self.last_ack = time.monotonic()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(threads)]

    def run(self, n):
        i = 0
        while not self.stop.is_set():
            i += 1
            key = f"drill-{n}-{i}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    status, out = api(NGINX, "/api/v1/requests", self.tok,
                                      {"category": "noise", "description": f"集群演练 {key}", "household_id": self.household, "idempotency_key": key})
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    status, out = 0, None
                if status in (200, 201):
                    with self.lock:
                        self.acknowledged[key] = out["request"]["id"]
                        self.last_ack = time.monotonic()
                    break
                if status and status < 500 and status != 429:
                    with self.lock:
                        self.failures.append(f"{key}: {status} {out}")
                    return
                if time.monotonic() > deadline:
                    with self.lock:
                        self.failures.append(f"{key}: not acknowledged within 90 s (last {status})")
                    return
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)

    def count(self):
        with self.lock:
            return len(self.acknowledged)


def main():
    t0 = time.monotonic()
    cluster("destroy", check=False)
    print(cluster("start", "3"))
    try:
        key = open(os.path.join(DIR, "data.key")).read().strip()
        demo_env = dict(ENV, LINLI_DATABASE_URL=f"postgres://linli@127.0.0.1:{BASE + 1}/linli", LINLI_DATA_DIR=os.path.join(DIR, "demo"),
                        LINLI_FILES_DIR=os.path.join(DIR, "files"), LINLI_DATA_KEY=key)
        d0 = time.monotonic()
        subprocess.run([BENCH_BIN, "demo", "--seed", "7", "--password", PASSWORD, "--no-history"], env=demo_env, check=True, stdout=subprocess.DEVNULL)
        print(f"     demo street loaded through pgbouncer in {time.monotonic() - d0:.0f} s")

        resident = token(NGINX, "resident")
        _, me = api(NGINX, "/api/v1/me", resident)
        household = me["grants"][0]["household_id"]
        admin = token(NGINX, "admin")

        # A photo written by node 1 is served by nodes 2 and 3 (one shared files directory).
        jpeg = open(os.path.join(ROOT, "Tests", "cluster", "photo.jpg"), "rb").read()
        status, out = api(node(1), "/api/v1/requests", resident,
                          {"category": "noise", "description": "楼道噪音（照片）", "household_id": household,
                           "photos_base64": [base64.b64encode(jpeg).decode()]})
        assert status == 201, (status, out)
        _, detail = api(node(2), f"/api/v1/requests/{out['request']['id']}", resident)
        photo_ids = detail["photos"]
        assert len(photo_ids) == 1, out["request"]
        bodies = []
        for i in (2, 3):
            req = urllib.request.Request(f"{node(i)}/request-photos/{photo_ids[0]}", headers={"Authorization": "Bearer " + resident})
            with urllib.request.urlopen(req, timeout=10) as r:
                bodies.append(r.read())
        assert bodies[0] == bodies[1] and bodies[0][:3] == b"\xff\xd8\xff", "nodes 2 and 3 serve node 1's photo"
        print("ok   a photo written by node 1 is served by nodes 2 and 3")

        # A grant revoked on node 1 ends access on node 3 within about a second.
        community = sql("SELECT place_id FROM role_grants g JOIN users u ON u.id = g.user_id WHERE u.username = 'community' LIMIT 1")
        status, made = api(node(1), "/api/v1/users", admin, {"username": "drill-staff", "display_name": "演练社工", "password": PASSWORD})
        assert status == 201, (status, made)
        status, out = api(node(1), f"/api/v1/users/{made['id']}/grants", admin, {"role": "community_staff", "place_id": int(community)})
        assert status == 201, (status, out)
        staff = token(node(2), "drill-staff")
        assert api(node(3), "/api/v1/requests?scope=area", staff)[0] == 200
        grant = sql(f"SELECT id FROM role_grants WHERE user_id = {made['id']}")
        assert api(node(1), f"/api/v1/users/{made['id']}/grants/{grant}", admin, method="DELETE")[0] == 204
        took = within(3, lambda: api(node(3), "/api/v1/requests?scope=area", staff)[0] in (403, 404), "revoked grant on node 3")
        print(f"ok   a grant revoked on node 1 ends access on node 3 after {took:.2f} s")

        # A token signed out on node 1 stops working on node 2.
        leaving = token(node(1), "resident")
        assert api(node(2), "/api/v1/me", leaving)[0] == 200
        assert call(node(1), "/api/v1/tokens/revoke", leaving, body={})[0] in (200, 204)
        took = within(3, lambda: api(node(2), "/api/v1/me", leaving)[0] == 401, "signed-out token on node 2")
        print(f"ok   a token signed out on node 1 is refused by node 2 after {took:.2f} s")

        # A setting changed on node 1 is used by node 3.
        _, cats = api(node(3), "/api/v1/request-categories", admin)
        noise = next(c for c in cats if c["code"] == "noise")
        changed = dict(accept_hours=noise["accept_hours"], contact_hours=noise["contact_hours"], resolve_hours=noise["resolve_hours"] + 1,
                       working_hours=noise["working_hours"], default_party=noise["default_party"], active=True)
        status, out = api(node(1), "/api/v1/request-categories/noise", admin, changed, method="PUT")
        assert status in (200, 204), (status, out)

        def seen():
            _, now = api(node(3), "/api/v1/request-categories", admin)
            return next(c for c in now if c["code"] == "noise")["resolve_hours"] == changed["resolve_hours"]
        took = within(3, seen, "changed category on node 3")
        print(f"ok   a category changed on node 1 is used by node 3 after {took:.2f} s")

        # Figures are read from the replica, and show a write made a moment before on another node.
        def replica_reads():
            out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(BASE + 3), "-U", "linli", "-d", "linli", "-tAc",
                                  "SELECT xact_commit FROM pg_stat_database WHERE datname = 'linli'"], capture_output=True, text=True, check=True)
            return int(out.stdout.strip())
        figures = f"/api/v1/figures?place_id={community}"
        _, before = api(node(2), figures, admin)
        reads = replica_reads()
        for n in range(5):
            assert api(node(1), "/api/v1/requests", resident, {"category": "noise", "description": f"看得见自己 {n}", "household_id": household})[0] == 201
            _, after = api(node(2 + n % 2), figures, admin)
            assert after["total"]["received"] == before["total"]["received"] + n + 1, (n, before["total"], after["total"])
        # PostgreSQL's statistics reach pg_stat_database from idle backends within about ten seconds.
        within(20, lambda: replica_reads() >= reads + 5, "figures read on the replica")
        print("ok   figures are read from the replica and show the write made just before on another node")

        # So is the situation map (a street's layers are the heaviest pages staff open), and it
        # shows a request filed a moment before on another node.
        layer = f"/api/v1/places/{community}/situation/requests"
        status, before = api(node(2), layer, admin)
        assert status == 200, (status, before)
        reads = replica_reads()
        assert api(node(1), "/api/v1/requests", resident, {"category": "noise", "description": "地图上看得见", "household_id": household})[0] == 201
        _, after = api(node(3), layer, admin)
        assert after["total"] == before["total"] + 1, (before["total"], after["total"])
        within(20, lambda: replica_reads() >= reads + 1, "the situation map read on the replica")
        print("ok   the situation map is read from the replica and shows a request filed a moment before on another node")

        # Under load: kill -9 a node, restart the primary, promote the replica.
        w = Writers(resident, household)
        w.start()
        within(20, lambda: w.count() >= 20, "first writes")
        before = w.count()
        cluster("kill-node", "2")
        time.sleep(2)
        cluster("start-node", "2")
        print(f"ok   node 2 killed with -9 and started again; {w.count() - before} writes acknowledged meanwhile")

        at = time.monotonic()
        cluster("restart-primary", "2")
        took = within(60, lambda: w.last_ack > at + 2, "writes after the primary restarted")
        print(f"ok   primary killed and restarted (2 s down): writes resumed {took:.1f} s after the kill, no node restarted")

        time.sleep(1)
        at = time.monotonic()
        cluster("promote")
        promoted = time.monotonic()
        within(60, lambda: w.last_ack > promoted, "writes after promotion")
        print(f"ok   primary lost and replica promoted: writes resumed {w.last_ack - at:.1f} s after the primary was stopped")
        time.sleep(2)
        w.finish()
        assert not w.failures, w.failures[:5]

        # Every acknowledged write is on the new primary, once, with the id the client was told.
        rows = {}
        for line in sql("SELECT idempotency_key, id FROM requests WHERE idempotency_key LIKE 'drill-%'").splitlines():
            k, i = line.split("|")
            assert k not in rows, f"duplicate {k}"
            rows[k] = int(i)
        lost = [k for k, i in w.acknowledged.items() if rows.get(k) != i]
        assert not lost, f"lost or changed: {lost[:10]}"
        seen_by_api = [i for i in list(w.acknowledged.values())[:50] if api(NGINX, f"/api/v1/requests/{i}", resident)[0] == 200]
        assert len(seen_by_api) == min(50, len(w.acknowledged))
        print(f"ok   {len(w.acknowledged)} writes acknowledged ({w.retries} retries), all on the promoted primary once, 0 lost")

        # Carry on: the next start makes a new replica of the promoted primary.
        cluster("start")
        status = cluster("status")
        assert "pg-b       port %d: primary" % (BASE + 3) in status and "pg-a       port %d: replica" % (BASE + 2) in status, status
        time.sleep(1)
        assert api(NGINX, "/api/v1/requests", resident, {"category": "noise", "description": "新副本之后", "household_id": household,
                                                        "idempotency_key": "drill-after"})[0] == 201
        print("ok   a new replica follows the promoted primary; writes go on")
        print(f"     cluster drill took {time.monotonic() - t0:.0f} s")
    except Exception:
        for f in ["node1.log", "node2.log", "node3.log", "pgbouncer/pgbouncer.log", "nginx/error.log", "logs/pg-a.log", "logs/pg-b.log"]:
            p = os.path.join(DIR, f)
            if os.path.exists(p):
                print(f"----- {f} (last lines)")
                print("".join(open(p, errors="replace").readlines()[-15:]))
        raise
    finally:
        cluster("stop", check=False)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL cluster drill: {e}")
        sys.exit(1)
