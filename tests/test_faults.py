"""Faults: the store is found exactly as before or exactly as after a write, never in between.

- ``locator import`` of a 20,000-row CSV killed with SIGKILL once it is writing (GeoPackage: its temporary file
  has appeared; PostGIS: its COPY is running), then the store opened again;
- a private, throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, never the machine's shared server)
  stopped with ``pg_ctl stop -m immediate`` in the middle of an edit request: the write is a 503, reads go on
  from the last loaded data (``stale``), and after a restart the data is as it was and edits work again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import IN_CI, frame, station_rows

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_URL = os.environ.get("LOCATOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = 20_000


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def big_csv(path: Path) -> Path:
    """ROWS stations on a 100 m grid in Beijing (WGS-84): no two within 30 m, every name distinct."""
    lines = ["名称,地址,经度,纬度,区"]
    for i in range(ROWS):
        lon, lat = 116.30 + (i % 200) * 0.00118, 39.85 + (i // 200) * 0.0009
        lines.append(f"测试站{i},测试路{i}号,{lon:.6f},{lat:.6f},朝阳区")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_import(store: str, csv: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "locator.cli", "--store", store, "import", "stations", str(csv),
                             "--crs", "wgs84"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def poll(condition, *, timeout_s: float, what: str, interval_s: float = 0.005):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)  # the polling interval of a condition with a deadline
    return value


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_killed_mid_write_leaves_the_geopackage_as_before(tmp_path):
    from locator.store import GeoPackageStore

    store_path = tmp_path / "fault.gpkg"
    store = GeoPackageStore(store_path)
    store.write({"stations": frame(station_rows())})
    before_bytes, before_version = sha256(store_path), store.data_version()
    csv = big_csv(tmp_path / "big.csv")
    process = start_import(str(store_path), csv)
    try:
        # The temporary copy appears once reading, validation and duplicate checks are done: it is writing.
        poll(lambda: list(tmp_path.glob(f".{store_path.name}.*.tmp")) or process.poll() is not None,
             timeout_s=120, what="the import to start writing")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import finished before it could be killed mid-write"
    reopened = GeoPackageStore(store_path)  # "restart": a new process would open it just so
    assert sha256(store_path) == before_bytes
    assert reopened.data_version() == before_version and len(reopened.read("stations")) == 5
    # the leftover temporary file is harmless: the next import goes through
    done = subprocess.run([sys.executable, "-m", "locator.cli", "--store", str(store_path), "import", "stations",
                           str(csv), "--crs", "wgs84"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert len(GeoPackageStore(store_path).read("stations")) == 5 + ROWS
    assert GeoPackageStore(store_path).data_version() == before_version + 1


# ---------------------------------------------------------------------------------------------------------------
# PostGIS


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def throwaway_database():
    """A database with PostGIS on the local server, dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed")
    name = f"locator_fault_{secrets.token_hex(4)}"
    try:
        _sql(ADMIN_URL, f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        _unavailable(f"PostgreSQL at {ADMIN_URL}: {str(error).strip().splitlines()[0]}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        _sql(url, "CREATE EXTENSION postgis")
        yield url
    finally:
        _sql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _state(url: str) -> tuple[int, int]:
    rows = _sql(url, "SELECT (SELECT count(*) FROM stations), (SELECT version FROM data_version)")
    return int(rows[0][0]), int(rows[0][1])


@pytest.mark.postgis
def test_import_killed_mid_copy_leaves_postgis_as_before(throwaway_database, tmp_path):
    from locator.store.postgis import PostGISStore

    PostGISStore(throwaway_database).write({"stations": frame(station_rows())})
    before = _state(throwaway_database)
    csv = big_csv(tmp_path / "big.csv")
    process = start_import(throwaway_database, csv)
    copying = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND application_name = 'locator' AND query ILIKE 'COPY%%'")
    try:
        poll(lambda: _sql(throwaway_database, copying)[0][0] or process.poll() is not None, timeout_s=120,
             what="the import's COPY")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import finished before it could be killed mid-write"
    # The server rolls the dead client's transaction back; poll until its backend is gone.
    poll(lambda: not _sql(throwaway_database, copying)[0][0], timeout_s=30, what="the killed session to end")
    assert _state(throwaway_database) == before
    done = subprocess.run([sys.executable, "-m", "locator.cli", "--store", throwaway_database, "import", "stations",
                           str(csv), "--crs", "wgs84"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert _state(throwaway_database) == (before[0] + ROWS, before[1] + 1)


# ---------------------------------------------------------------------------------------------------------------
# A private PostgreSQL cluster, stopped mid-request


class Cluster:
    """A throwaway PostgreSQL 15 cluster in a temporary directory, on a free port, run as user postgres."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            _unavailable(f"{PG_BIN / 'initdb'} is absent (postgresql-15)")
        self.root = Path(tempfile.mkdtemp(prefix="locator-pg-"))
        self.data = self.root / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def run(self, tool: str, *args: str) -> None:
        command = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{tool}: {done.stdout}\n{done.stderr}"

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster():
    made = Cluster()
    try:
        yield made
    finally:
        made.remove()


@pytest.mark.postgis
def test_postgres_stopped_mid_request(cluster, monkeypatch):
    from conftest import assert_problem
    from locator.store import postgis
    from locator.store.postgis import PostGISStore
    from locator.web import auth, create_app

    _sql(cluster.url(), "CREATE DATABASE locator")
    url = cluster.url("locator")
    _sql(url, "CREATE EXTENSION postgis")
    PostGISStore(url).write({"stations": frame(station_rows())})
    app = create_app({"STORE": url, "TESTING": True, "TILES": "none", "RATE_LIMIT": "0", "RELOAD_SECONDS": 0.0})
    with app.app_context():
        auth.records().add_user("root", "x", role="admin")
        token = auth.records().create_token("root")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/stations/s1")
    assert first.status_code == 200 and not first.get_json()["stale"]
    before = _state(url)

    real = postgis._write_layer

    def stop_then_write(*args, **kwargs):
        cluster.stop("immediate")  # the server dies inside the write's transaction
        return real(*args, **kwargs)

    monkeypatch.setattr(postgis, "_write_layer", stop_then_write)
    response = client.patch("/api/v1/stations/s1", json={"name": "写不进去"},
                            headers={**headers, "If-Match": first.headers["ETag"]})
    body = assert_problem(response, 503)
    assert body["type"] == "/problems/store-unavailable"
    monkeypatch.undo()

    # reads go on from the last loaded data, and say so; writes are a clear 503
    nearest = client.get("/api/v1/nearest?lon=116.45&lat=39.93&crs=wgs84")
    assert nearest.status_code == 200 and nearest.get_json()["stale"] is True
    station = client.get("/api/v1/stations/s1").get_json()
    assert station["item"]["name"] == "甲站" and station["stale"] is True
    assert_problem(client.patch("/api/v1/stations/s1", json={"name": "x"},
                                headers={**headers, "If-Match": first.headers["ETag"]}), 503)
    assert client.get("/readyz").status_code == 503

    cluster.start()
    assert _state(url) == before  # the interrupted transaction left nothing behind
    fresh = client.get("/api/v1/stations/s1")
    assert fresh.get_json()["stale"] is False and fresh.get_json()["item"]["name"] == "甲站"
    assert client.get("/readyz").status_code == 200
    history = client.get("/api/v1/stations/s1/history", headers=headers).get_json()
    assert history["changes"] == []  # the failed edit is not in the log as done (settled as failed)
    again = client.patch("/api/v1/stations/s1", json={"name": "写进去了"},
                         headers={**headers, "If-Match": fresh.headers["ETag"]})
    assert again.status_code == 200, again.get_data(as_text=True)
    assert _state(url) == (before[0], before[1] + 1)
