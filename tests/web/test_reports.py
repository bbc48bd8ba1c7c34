"""Courier reports: the page and the API without an account, the per-client rate limit, the editors' queue."""

from __future__ import annotations

import re

import pytest

from conftest import assert_problem, frame, station_rows


@pytest.fixture
def report_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import auth, create_app

    path = tmp_path / "reports.gpkg"
    rows = station_rows()
    rows[1] = {**rows[1], "district": "顺义区"}
    GeoPackageStore(path).write({"stations": frame(rows)})
    app = create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0",
                      "REPORT_RATE_LIMIT": "5/600"})
    with app.app_context():
        records = auth.records()
        records.add_user("zhang", "x", role="editor", district="朝阳区")
        records.add_user("li", "x", role="editor", district="顺义区")
        app.config["TOKENS"] = {name: records.create_token(name) for name in ("zhang", "li")}
    return app


def bearer(app, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.config['TOKENS'][name]}"}


def test_report_page_without_an_account(report_app):
    client = report_app.test_client()
    page = client.get("/report/s1").get_data(as_text=True)
    assert "报告问题" in page and "甲站" in page and "应开放却关着" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/report/s1", data={"kind": "amenity_problem"}).status_code == 403  # no CSRF token
    sent = client.post("/report/s1", data={"kind": "amenity_problem", "note": "微波炉坏了", "csrf_token": token})
    assert sent.status_code == 200 and "谢谢" in sent.get_data(as_text=True)
    english = client.get("/report/s1?lang=en").get_data(as_text=True)
    assert "Report a problem" in english and "Wrong location" in english
    assert client.get("/report/nope").status_code == 404


def test_report_api_and_queue_scoped_to_the_editor(report_app):
    client = report_app.test_client()
    made = client.post("/api/v1/stations/s1/reports", json={"kind": "closed_when_open", "note": "门锁着"})
    assert made.status_code == 201
    client.post("/api/v1/stations/s2/reports", json={"kind": "wrong_location"})
    assert_problem(client.post("/api/v1/stations/s1/reports", json={"kind": "rude"}), 400, param="kind")
    assert_problem(client.post("/api/v1/stations/s1/reports", json={"kind": "wrong_location", "x": 1}), 400,
                   param="x")
    assert_problem(client.post("/api/v1/stations/zz/reports", json={"kind": "wrong_location"}), 404)
    assert_problem(client.get("/api/v1/reports"), 401)
    zhang = client.get("/api/v1/reports", headers=bearer(report_app, "zhang")).get_json()
    assert [r["station_id"] for r in zhang["items"]] == ["s1"] and zhang["items"][0]["note"] == "门锁着"
    li = client.get("/api/v1/reports", headers=bearer(report_app, "li")).get_json()
    assert [r["station_id"] for r in li["items"]] == ["s2"]
    report_id = zhang["items"][0]["id"]
    assert_problem(client.post(f"/api/v1/reports/{report_id}/resolve", json={}, headers=bearer(report_app, "li")),
                   403)
    done = client.post(f"/api/v1/reports/{report_id}/resolve", json={"resolution": "已联系站点"},
                       headers=bearer(report_app, "zhang"))
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert client.get("/api/v1/reports", headers=bearer(report_app, "zhang")).get_json()["items"] == []
    resolved = client.get("/api/v1/reports?status=resolved", headers=bearer(report_app, "zhang")).get_json()
    assert resolved["items"][0]["resolved_by"] == "zhang"


def test_reports_are_rate_limited_per_client(report_app):
    client = report_app.test_client()
    for _ in range(5):
        assert client.post("/api/v1/stations/s1/reports", json={"kind": "wrong_location"}).status_code == 201
    refused = client.post("/api/v1/stations/s1/reports", json={"kind": "wrong_location"})
    body = assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1 and body["retry_after_s"] >= 1
    page = client.get("/report/s1").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused_page = client.post("/report/s1", data={"kind": "wrong_location", "csrf_token": token})
    assert refused_page.status_code == 429 and "提交太频繁" in refused_page.get_data(as_text=True)
    # another client still may
    other = client.post("/api/v1/stations/s1/reports", json={"kind": "wrong_location"},
                        environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 201
    assert len(client.get("/api/v1/reports", headers=bearer(report_app, "zhang")).get_json()["items"]) == 6


def test_queue_page_resolves(report_app):
    from locator.web import auth

    client = report_app.test_client()
    client.post("/api/v1/stations/s1/reports", json={"kind": "amenity_problem", "note": "没有热水"})
    with report_app.app_context():
        auth.records().set_password_hash("zhang", auth.hash_password("long enough pw"))
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/admin/login", data={"username": "zhang", "password": "long enough pw", "csrf_token": token})
    queue = client.get("/admin/reports").get_data(as_text=True)
    assert "没有热水" in queue and "设施缺失或损坏" in queue
    action = re.search(r'action="(/admin/reports/\d+/resolve)"', queue).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', queue).group(1)
    assert client.post(action, data={"resolution": "已修好", "csrf_token": token}).status_code == 302
    assert "没有待处理的报告" in client.get("/admin/reports").get_data(as_text=True)
