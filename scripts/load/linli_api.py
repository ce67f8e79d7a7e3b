"""What the load scripts' Python steps share: calling the API with a token, and reading the
database (psql for PostgreSQL, sqlite3 otherwise) to find ids."""
import json, subprocess, urllib.request


def caller(base, token):
    def call(method, path, body=None):
        req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")
    return call


def reader(pg, sqlite):
    def rows(sql):
        cmd = ["psql", pg, "-At", "-c", sql] if pg else ["sqlite3", sqlite, sql]
        return [l for l in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines() if l]
    return rows
