"""Two real server processes (`locator serve`, gunicorn) on one store: an edit through one is served by the other
within 5 s, without a restart. Accounts and the token come from the CLI (`locator user add`, `locator token create`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import frame, station_rows

LOCATOR = [sys.executable, "-m", "locator.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, *, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def wait_until(condition, *, timeout_s: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except (urllib.error.URLError, ConnectionError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)  # polling interval of a condition with a deadline, not a wait for a fixed time


def serve(store: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOCATOR_STORE": str(store), "LOCATOR_RELOAD_SECONDS": "1", "LOCATOR_TILES": "none",
           "LOCATOR_RATE_LIMIT": "0", "LOCATOR_SECRET_KEY": "test-secret"}
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([*LOCATOR, "serve", "--port", str(port), "--workers", "1"], env=env, stdout=handle,
                            stderr=subprocess.STDOUT, start_new_session=True)


def cli(store: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run([*LOCATOR, "--store", str(store), *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_edit_through_one_worker_is_served_by_the_other_within_5_s(tmp_path):
    from locator.store import GeoPackageStore

    store = tmp_path / "workers.gpkg"
    GeoPackageStore(store).write({"stations": frame(station_rows())})
    cli(store, "user", "add", "zhang", "--role", "editor", "--district", "朝阳区", "--password-stdin",
        stdin="a long password\n")
    token = cli(store, "token", "create", "zhang", "--name", "test")
    assert token.startswith("lct_")
    ports = [free_port(), free_port()]
    servers = [serve(store, port, tmp_path / f"server-{port}.log") for port in ports]
    try:
        one, two = (f"http://127.0.0.1:{port}" for port in ports)
        for base in (one, two):
            wait_until(lambda base=base: http("GET", f"{base}/healthz")[0] == 200, timeout_s=60, what=f"{base} up")
        status, headers, body = http("GET", f"{one}/api/v1/stations/s1")
        assert status == 200 and body["item"]["name"] == "甲站"
        assert http("GET", f"{two}/api/v1/stations/s1")[2]["item"]["name"] == "甲站"
        status, _, body = http("PATCH", f"{one}/api/v1/stations/s1", body={"name": "甲站（已改）"},
                               headers={"Authorization": f"Bearer {token}", "If-Match": headers["ETag"]})
        assert status == 200, body
        committed = time.monotonic()
        wait_until(lambda: http("GET", f"{two}/api/v1/stations/s1")[2]["item"]["name"] == "甲站（已改）",
                   timeout_s=5, what="the other server to serve the edit")
        seen_after_s = time.monotonic() - committed
        assert seen_after_s < 5
        # the edit is the same record, same ETag, on both
        tags = [http("GET", f"{base}/api/v1/stations/s1")[1]["ETag"] for base in (one, two)]
        assert tags[0] == tags[1]
    finally:
        for server in servers:
            os.killpg(server.pid, 15)
        for server in servers:
            server.wait(timeout=30)
