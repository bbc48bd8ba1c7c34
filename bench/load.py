"""Load under edits: ``GET /api/v1/nearest`` on the production server and the PostGIS store while an editor writes.

    .venv/bin/python bench/load.py [--seconds 30] [--connections 16] [--workers 2] [--admin-url URL] [--python]

Bounded and loopback only (127.0.0.1). It makes a throwaway database on the local PostgreSQL (``--admin-url``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end), copies ``data/locator.gpkg`` into
it, makes an editor account and API token, and starts ``locator serve`` (gunicorn, ``--workers``) on a free port.
Then, twice at the same concurrency:

1. baseline: ``--baseline-seconds`` of reads alone;
2. under edits: ``--seconds`` of reads while an editor PATCHes a station once a second through the API with the
   token (GET for the ETag, then PATCH with If-Match, once more with the 412's ETag when the GET was answered
   by a worker that had not reloaded yet; every edit is a committed write that moves the data version,
   so each worker reloads its snapshot while serving).

It reports requests per second, p50/p99 latency and errors of each, the ratio of the two, and the editor's
writes (count, failures, p50 write time). The load generator is ``wrk`` (Debian package ``wrk``:
``apt-get install wrk``) where installed, else (or with ``--python``) a thread-per-connection Python generator,
which needs CPU of its own and so understates the server. Rate limits stay on, set high enough never to refuse,
so their cost (counting per request, synced to Redis in the background) is measured. Goal: zero errors, p99
under 50 ms at 16 connections on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEAREST = "/api/v1/nearest?lon=116.5877&lat=40.0799&crs=wgs84&k=5"  # 空港街道, where the public stations are


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_database(admin_url: str) -> str:
    import psycopg

    name = f"locator_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    return url


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOCATOR_STORE": url, "LOCATOR_RATE_LIMIT": "1000000000/60", "LOCATOR_TILES": "none",
           "LOCATOR_SECRET_KEY": secrets.token_hex(16)}
    handle = open(log, "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen([sys.executable, "-m", "locator.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)  # polling interval while the server starts
    raise SystemExit(f"{base} did not become ready in {timeout_s} s")


class Editor(threading.Thread):
    """PATCHes one station once a second with If-Match, as a script with a token would."""

    def __init__(self, port: int, token: str, station_id: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.station_id = port, token, station_id
        self.stop_event = threading.Event()
        self.write_ms: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stop_event.wait(1.0):
            n += 1
            started = time.perf_counter()
            try:
                conn.request("GET", f"/api/v1/stations/{self.station_id}")
                response = conn.getresponse()
                response.read()
                tag = response.getheader("ETag") or ""
                body = json.dumps({"phone": f"010-{n:08d}"})
                conn.request("PATCH", f"/api/v1/stations/{self.station_id}", body=body, headers={
                    "Authorization": f"Bearer {self.token}", "If-Match": tag, "Content-Type": "application/json"})
                answer = conn.getresponse()
                text = answer.read()
                if answer.status == 412:  # the GET hit a worker a reload behind: retry with the current ETag
                    conn.request("PATCH", f"/api/v1/stations/{self.station_id}", body=body, headers={
                        "Authorization": f"Bearer {self.token}", "If-Match": answer.getheader("ETag") or "",
                        "Content-Type": "application/json"})
                    answer = conn.getresponse()
                    text = answer.read()
                if answer.status != 200:
                    self.failures.append(f"{answer.status} {text[:200]!r}")
                else:
                    self.write_ms.append((time.perf_counter() - started) * 1000)
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)


def run_wrk(port: int, seconds: int, connections: int) -> dict[str, float]:
    threads = max(1, min(connections, os.cpu_count() or 1))
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}{NEAREST}"], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": ms("50"), "p99_ms": ms("99"), "errors": errors, "requests": total}


def run_python(port: int, seconds: int, connections: int) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", NEAREST)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[i] += 1
                latencies[i].append((time.perf_counter() - started) * 1000)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    every = sorted(v for part in latencies for v in part)
    q = statistics.quantiles(every, n=100) if len(every) > 100 else [float("nan")] * 99
    return {"rps": len(every) / elapsed, "p50_ms": q[49], "p99_ms": q[98], "errors": sum(errors),
            "requests": len(every)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--admin-url", default=os.environ.get("LOCATOR_TEST_POSTGRES",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--python", action="store_true", help="use the Python load generator even if wrk exists")
    args = parser.parse_args()
    if not 1 <= args.connections <= 256 or not 1 <= args.seconds <= 600:
        raise SystemExit("bounded load only: 1-256 connections, 1-600 seconds")

    sys.path.insert(0, str(ROOT))
    from locator.store.copy import copy_layers
    from locator.store.records import open_records
    from locator.web.auth import hash_password

    use_wrk = shutil.which("wrk") is not None and not args.python
    load = run_wrk if use_wrk else run_python
    url = make_database(args.admin_url)
    workdir = Path(tempfile.mkdtemp(prefix="locator-load-"))
    server = None
    try:
        copy_layers(str(ROOT / "data" / "locator.gpkg"), url)
        records = open_records(url)
        records.add_user("bench", hash_password(secrets.token_hex(8)), role="admin")
        token = records.create_token("bench", name="bench/load.py")
        port = free_port()
        server = start_server(url, port, args.workers, workdir / "server.log")
        wait_ready(f"http://127.0.0.1:{port}")
        from locator.store.postgis import PostGISStore

        station_id = str(PostGISStore(url).read("stations")["id"].iloc[0])
        load(port, 2, args.connections)  # warm every worker's snapshot and connections
        baseline = load(port, args.baseline_seconds, args.connections)
        editor = Editor(port, token, station_id)
        editor.start()
        edited = load(port, args.seconds, args.connections)
        editor.stop_event.set()
        editor.join(15)
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(30)
        drop_database(args.admin_url, url)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"GET {NEAREST} | locator serve (gunicorn, {args.workers} workers), PostGIS store, "
          f"{args.connections} connections, {os.cpu_count()} cores, load generator: "
          f"{'wrk' if use_wrk else 'python threads'}")
    print(f"{'phase':<22}{'seconds':>8}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, secs, row in (("reads only (baseline)", args.baseline_seconds, baseline),
                            ("reads + 1 edit/s", args.seconds, edited)):
        print(f"{name:<22}{secs:>8}{row['requests']:>10.0f}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}"
              f"{row['p99_ms']:>9.2f}{row['errors']:>8.0f}")
    print(f"ratio under edits / baseline: req/s {edited['rps'] / baseline['rps']:.2f}, "
          f"p99 {edited['p99_ms'] / baseline['p99_ms']:.2f}")
    writes = editor.write_ms
    print(f"editor: {len(writes)} writes committed, {len(editor.failures)} failed"
          + (f", GET+PATCH p50 {statistics.median(writes):.1f} ms" if writes else "")
          + (f"; first failure: {editor.failures[0]}" if editor.failures else ""))
    goal = edited["errors"] == 0 and not editor.failures and edited["p99_ms"] < 50
    print(f"goal (0 errors, p99 < 50 ms at 16 connections on 2 cores): {'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
