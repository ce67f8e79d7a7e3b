#!/usr/bin/env python3
"""Fuzzes a live Linli server against its own OpenAPI document (GET /api/v1/openapi.json) with
schemathesis: any 5xx, crash or hang fails the run. The server runs on a throwaway demo street on
a free loopback port; requests carry a community worker's token (the widest everyday role).

Bounded: a fixed number of examples per operation and a time limit, so the whole run stays a few
minutes on two cores."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LINLI_BIN") or os.path.join(ROOT, ".build", "debug", "linli")
# The demo street comes from linli-bench, beside linli (the binary a city runs has no demo).
BENCH_BIN = os.environ.get("LINLI_BENCH_BIN") or os.path.join(os.path.dirname(BIN), "linli-bench")
PASSWORD = "schemathesis-pw-1"
EXAMPLES = os.environ.get("LINLI_FUZZ_EXAMPLES", "12")
# The stateful phase follows the document's links (create → read, change, remove that object).
PHASES = os.environ.get("LINLI_FUZZ_PHASES", "examples,coverage,fuzzing,stateful")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    data = tempfile.mkdtemp(prefix="linli-fuzz-")
    env = dict(os.environ, LINLI_BCRYPT_COST="4", LINLI_DATA_DIR=data)
    env.pop("LINLI_DATABASE_URL", None)
    subprocess.run([BENCH_BIN, "demo", "--seed", "11", "--password", PASSWORD], env=env, check=True, stdout=subprocess.DEVNULL)
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
        total, failed = 0, False
        # Three roles walk different paths: a community worker, a resident, the city administrator.
        for user in ("community", "resident", "admin"):
            req = urllib.request.Request(base + "/api/v1/tokens", data=json.dumps({"username": user, "password": PASSWORD}).encode(), method="POST")
            req.add_header("Content-Type", "application/json")
            with urllib.request.urlopen(req, timeout=10) as r:
                token = json.loads(r.read())["token"]
            cmd = ["schemathesis", "run", base + "/api/v1/openapi.json",
                   # No 5xx, and every answer has the status and media type the document gives it.
                   "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                   "--phases", PHASES,
                   "--max-examples", EXAMPLES,
                   "--generation-deterministic",
                   "--request-timeout", "10",
                   "--header", f"Authorization: Bearer {token}",
                   # Revoking the token in hand would turn every later request into a 401.
                   "--exclude-path", "/api/v1/tokens/revoke",
                   "--suppress-health-check", "all",
                   "--no-color"]
            started = time.time()
            run = subprocess.run(cmd, timeout=1200, capture_output=True, text=True)
            out = run.stdout + run.stderr
            m = re.search(r"(\d+) generated", out)
            cases = int(m.group(1)) if m else 0
            total += cases
            alive = proc.poll() is None
            print(f"schemathesis as {user}: {cases} cases, exit {run.returncode} in {time.time() - started:.0f} s; server {'still running' if alive else 'DIED'}")
            if not alive or run.returncode != 0:
                # The failures themselves (each with its curl to reproduce), then the summary.
                at = out.find("= FAILURES =")
                print("\n".join(out[at:].splitlines()[:300]) if at >= 0 else "\n".join(out.splitlines()[-150:]))
                with open(log_path, "rb") as f:
                    text = f.read().decode(errors="replace")
                # A crash report is long: show where it starts (the failing frame), then the end.
                crash = max(text.find("Program crashed"), text.find("Fatal error"))
                if crash >= 0:
                    print(text[max(0, crash - 1500):crash + 6000])
                print(text[-4000:])
                failed = True
                break
        print(f"schemathesis: {total} cases against {base}/api/v1/openapi.json, {'FAILED' if failed else 'no server error'}")
        if failed:
            sys.exit(1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
