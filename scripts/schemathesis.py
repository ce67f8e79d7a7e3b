#!/usr/bin/env python3
"""Fuzzes a live Linli server against its own OpenAPI document (GET /api/v1/openapi.json) with
schemathesis: any 5xx, crash or hang fails the run. The server runs on a throwaway demo street on
a free loopback port; requests carry a community worker's token (the widest everyday role).

Bounded: a fixed number of examples per operation and a time limit, so the whole run stays a few
minutes on two cores."""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LINLI_BIN") or os.path.join(ROOT, ".build", "debug", "linli")
PASSWORD = "schemathesis-pw-1"
EXAMPLES = os.environ.get("LINLI_FUZZ_EXAMPLES", "12")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    data = tempfile.mkdtemp(prefix="linli-fuzz-")
    env = dict(os.environ, LINLI_BCRYPT_COST="4", LINLI_DATA_DIR=data)
    env.pop("LINLI_DATABASE_URL", None)
    subprocess.run([BIN, "demo", "--seed", "11", "--password", PASSWORD], env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "ab")
    proc = subprocess.Popen([BIN, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        req = urllib.request.Request(base + "/api/v1/tokens", data=json.dumps({"username": "community", "password": PASSWORD}).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            token = json.loads(r.read())["token"]
        cmd = ["schemathesis", "run", base + "/api/v1/openapi.json",
               "--checks", "not_a_server_error",
               "--phases", "examples,coverage,fuzzing",
               "--max-examples", EXAMPLES,
               "--generation-deterministic",
               "--request-timeout", "10",
               "--header", f"Authorization: Bearer {token}",
               "--suppress-health-check", "all",
               "--no-color"]
        started = time.time()
        run = subprocess.run(cmd, timeout=1500, capture_output=True, text=True)
        out = run.stdout + run.stderr
        tail = "\n".join(out.splitlines()[-40:])
        print(tail)
        alive = proc.poll() is None
        print(f"schemathesis: exit {run.returncode} in {time.time() - started:.0f} s; server {'still running' if alive else 'DIED'}")
        if not alive or run.returncode != 0:
            with open(log_path, "rb") as f:
                print(f.read()[-4000:].decode(errors="replace"))
            sys.exit(1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
