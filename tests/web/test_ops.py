"""Operations: request ids in and out, JSON log lines, body size limit, rate limits (Redis and fallback), readiness."""

from __future__ import annotations

import json
import logging
import secrets

import pytest

from conftest import assert_problem, frame, station_rows


@pytest.fixture
def ops_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    path = tmp_path / "ops.gpkg"
    GeoPackageStore(path).write({"stations": frame(station_rows())})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "3/60"})


def test_request_id_is_kept_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 200})
    assert len(made.headers["X-Request-ID"]) == 32 and "<" not in made.headers["X-Request-ID"]
    assert client.get("/api/v1/nosuch").headers["X-Request-ID"]


def test_log_lines_are_json_with_the_request_id(client, caplog):
    from locator.web.ops import JsonFormatter

    with caplog.at_level(logging.INFO, logger="locator.access"):
        client.get("/api/v1/stations?limit=1", headers={"X-Request-ID": "req-42"})
    record = next(r for r in caplog.records if r.name == "locator.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42" and line["status"] == 200 and line["path"] == "/api/v1/stations"
    assert line["level"] == "INFO" and line["duration_ms"] >= 0 and line["msg"] == "request"


def test_public_endpoints_are_rate_limited_with_retry_after(ops_app):
    client = ops_app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/stations").status_code == 200
    refused = client.get("/api/v1/nearest?lon=116.4&lat=39.9")
    body = assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1 and "try again" in body["detail"]
    assert client.get("/healthz").status_code == 200  # health checks are never limited
    other = client.get("/api/v1/stations", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_redis_counts_are_shared_and_unreachable_redis_falls_back():
    from locator.web.ops import RateLimiter

    namespace = f"test-{secrets.token_hex(4)}"
    one, two = (RateLimiter("redis://127.0.0.1:6379/0", namespace=namespace) for _ in range(2))
    if one._redis_hit("probe", 0, 60) is None:
        pytest.skip("no Redis at 127.0.0.1:6379")
    assert one.hit("c", limit=2, window_s=60) == 0
    assert two.hit("c", limit=2, window_s=60) == 0  # the second worker sees the first one's count
    assert one.hit("c", limit=2, window_s=60) > 0
    down = RateLimiter("redis://127.0.0.1:1/0", namespace=namespace)  # nothing listens on port 1
    assert down.hit("c", limit=1, window_s=60) == 0 and down.hit("c", limit=1, window_s=60) > 0


def test_api_wide_counts_reach_redis_in_the_background():
    import time

    import redis

    from locator.web.ops import RateLimiter

    namespace = f"test-{secrets.token_hex(4)}"
    url = "redis://127.0.0.1:6379/0"
    one, two = (RateLimiter(url, namespace=namespace, sync_s=3600) for _ in range(2))  # synced by hand below
    if one._redis_hit("probe", 0, 60) is None:
        pytest.skip("no Redis at 127.0.0.1:6379")
    for _ in range(3):
        assert one.hit("c", limit=4, window_s=60, exact=False) == 0
    assert two.hit("c", limit=4, window_s=60, exact=False) == 0  # not synced yet: two knows only its own
    one.sync()
    two.sync()  # adds its 1 and reads the total: 4
    assert two.hit("c", limit=4, window_s=60, exact=False) > 0  # 4 + 1
    assert one.hit("c", limit=4, window_s=60, exact=False) == 0  # 3 read + 1 here: one sync behind
    one.sync()
    assert one.hit("c", limit=4, window_s=60, exact=False) > 0

    background = RateLimiter(url, namespace=namespace, sync_s=0.01)
    for _ in range(5):
        background.hit("d", limit=100, window_s=60, exact=False)
    name = background._name("d", int(time.time() // 60))
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while client.get(name) != b"5" and time.monotonic() < deadline:
        time.sleep(0.01)  # polling interval of a condition with a deadline: the background sync runs every 0.01 s
    assert client.get(name) == b"5"  # the background thread added them, once
    assert client.ttl(name) > 0

    down = RateLimiter("redis://127.0.0.1:1/0", namespace=namespace, sync_s=0.01)
    assert down.hit("c", limit=1, window_s=60, exact=False) == 0
    down.sync()  # fails: keeps its counts
    assert down.hit("c", limit=1, window_s=60, exact=False) > 0


def test_body_larger_than_the_limit_is_413(tmp_path):
    from locator.web import create_app

    app = create_app({"STORE": str(tmp_path / "x.gpkg"), "TESTING": True, "MAX_UPLOAD_MB": 0.001,
                      "RATE_LIMIT": "0"})
    response = app.test_client().post("/api/v1/stations/s1/reports", data="x" * 5000,
                                      content_type="application/json")
    assert_problem(response, 413)


def test_readyz_reports_store_reachability(app, monkeypatch):
    client = app.test_client()
    assert client.get("/readyz").get_json()["status"] == "ready"
    state = app.extensions["locator"]
    state.reload_seconds = 0.0

    def unreachable() -> int:
        raise OSError("store unreachable (test)")

    monkeypatch.setattr(state.store, "data_version", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["status"] == "stale"
    assert client.get("/api/v1/stations").get_json()["stale"] is True  # reads go on, and say so
    monkeypatch.undo()
    assert client.get("/readyz").status_code == 200


def test_security_headers_on_api_and_problem_answers(client):
    for path in ("/api/v1/stations", "/api/v1/nosuch", "/healthz"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
