"""The /admin pages: sign-in, CSRF on every form, scope, stale saves refused, history and revert, import."""

from __future__ import annotations

import re
from io import BytesIO

import pytest

from conftest import at, frame, station_rows

PASSWORD = "correct horse battery"


@pytest.fixture
def admin_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import auth, create_app

    booths = [{"id": "b1", "address": "亮马桥路", "district": "朝阳区", "status": "candidate",
               "geometry": at(100, 100)}]
    path = tmp_path / "admin.gpkg"
    GeoPackageStore(path).write({"stations": frame(station_rows()), "booths": frame(booths)})
    app = create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0"})
    with app.app_context():
        for name, role, district in (("root", "admin", ""), ("zhang", "editor", "朝阳区"), ("li", "editor", "顺义区")):
            auth.records().add_user(name, auth.hash_password(PASSWORD), role=role, district=district)
    return app


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def version(page: str) -> str:
    return re.search(r'name="version" value="([^"]*)"', page).group(1).replace("&#34;", '"')


def sign_in(client, username: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(page)})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in_and_cannot_post(admin_app):
    client = admin_app.test_client()
    response = client.get("/admin")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    response = client.post("/admin/stations/s1", data={"name": "x", "version": "*"})
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert admin_app.test_client().get("/api/v1/stations/s1").get_json()["item"]["name"] == "甲站"


def test_sign_in_wrong_password_and_cookie_flags(admin_app):
    client = admin_app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    assert "登录" in page and "Sign in" not in page
    wrong = client.post("/admin/login", data={"username": "zhang", "password": "nope", "csrf_token": csrf(page)})
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.get_data(as_text=True)
    right = client.post("/admin/login", data={"username": "zhang", "password": PASSWORD, "csrf_token": csrf(page)})
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    index = client.get("/admin?lang=en").get_data(as_text=True)
    assert "Stations" in index and "s1" in index


def test_secure_cookie_outside_loopback_http(admin_app):
    admin_app.testing = False  # the auto rule, as served
    client = admin_app.test_client()
    page = client.get("/admin/login", base_url="https://locator.example").get_data(as_text=True)
    response = client.post("/admin/login", base_url="https://locator.example",
                           data={"username": "zhang", "password": PASSWORD, "csrf_token": csrf(page)})
    assert "Secure" in response.headers["Set-Cookie"]
    local = admin_app.test_client()
    local.get("/admin/login", base_url="http://127.0.0.1:8000")
    page = local.get("/admin/login", base_url="http://127.0.0.1:8000").get_data(as_text=True)
    response = local.post("/admin/login", base_url="http://127.0.0.1:8000",
                          data={"username": "zhang", "password": PASSWORD, "csrf_token": csrf(page)})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_every_form_needs_the_csrf_token(admin_app):
    client = admin_app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    assert client.post("/admin/login", data={"username": "zhang", "password": PASSWORD}).status_code == 403
    client.post("/admin/login", data={"username": "zhang", "password": PASSWORD, "csrf_token": csrf(page)})
    form = client.get("/admin/stations/s1").get_data(as_text=True)
    for token in ("", "forged"):
        response = client.post("/admin/stations/s1", data={"name": "x", "version": version(form), "csrf_token": token})
        assert response.status_code == 403 and "CSRF" in response.get_data(as_text=True)
    assert client.post("/admin/logout").status_code == 403
    # a session cookie alone does not make an API write: the JSON call needs the token header too
    api = client.patch("/api/v1/stations/s1", json={"name": "x"}, headers={"If-Match": version(form)})
    assert api.status_code == 403
    assert client.get("/api/v1/stations/s1").get_json()["item"]["name"] == "甲站"


def test_edit_save_and_stale_form(admin_app):
    one, two = admin_app.test_client(), admin_app.test_client()
    sign_in(one, "zhang")
    sign_in(two, "root")
    form_one = one.get("/admin/stations/s1").get_data(as_text=True)
    form_two = two.get("/admin/stations/s1").get_data(as_text=True)
    saved = two.post("/admin/stations/s1", data={"name": "二号改的", "version": version(form_two),
                                                 "csrf_token": csrf(form_two)})
    assert saved.status_code == 302
    assert "已保存" in two.get(saved.headers["Location"]).get_data(as_text=True)
    stale = one.post("/admin/stations/s1", data={"name": "一号改的", "version": version(form_one),
                                                 "csrf_token": csrf(form_one)})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "已被他人修改" in page and "二号改的" in page
    assert admin_app.test_client().get("/api/v1/stations/s1").get_json()["item"]["name"] == "二号改的"
    # with the version the refusal showed, the save goes through
    again = one.post("/admin/stations/s1",
                     data={"name": "一号改的", "version": version(page), "csrf_token": csrf(page)})
    assert again.status_code == 302
    assert admin_app.test_client().get("/api/v1/stations/s1").get_json()["item"]["name"] == "一号改的"


def test_editor_pages_are_limited_to_their_district(admin_app):
    client = admin_app.test_client()
    sign_in(client, "li")  # 顺义区; every test station is in 朝阳区
    index = client.get("/admin").get_data(as_text=True)
    assert "甲站" not in index
    response = client.get("/admin/stations/s1")
    assert response.status_code == 403
    form = admin_app.test_client()
    sign_in(form, "zhang")
    page = form.get("/admin/stations/s1").get_data(as_text=True)
    refused = client.post("/admin/stations/s1", data={"name": "x", "version": version(page),
                                                      "csrf_token": csrf(index)})
    assert refused.status_code == 403


def test_close_history_and_revert_from_the_pages(admin_app):
    client = admin_app.test_client()
    sign_in(client, "zhang")
    page = client.get("/admin/stations/s2").get_data(as_text=True)
    client.post("/admin/stations/s2", data={"op": "close", "version": version(page), "csrf_token": csrf(page)})
    assert admin_app.test_client().get("/api/v1/stations/s2").get_json()["item"]["status"] == "closed"
    history = client.get("/admin/stations/s2/history").get_data(as_text=True)
    assert "zhang" in history and "close" in history and "closed" in history
    change_id = re.search(r'/admin/changes/(\d+)/revert', history).group(1)
    reverted = client.post(f"/admin/changes/{change_id}/revert", data={"csrf_token": csrf(history)})
    assert reverted.status_code == 302
    assert admin_app.test_client().get("/api/v1/stations/s2").get_json()["item"]["status"] == "open"
    assert "revert" in client.get("/admin/stations/s2/history").get_data(as_text=True)


def test_new_station_and_convert_booth_from_the_pages(admin_app):
    client = admin_app.test_client()
    sign_in(client, "zhang")
    page = client.get("/admin/stations/new").get_data(as_text=True)
    made = client.post("/admin/stations/new", data={
        "csrf_token": csrf(page), "name": "表单新站", "district": "朝阳区", "amenities_shown": "1",
        "amenities": ["toilet", "wifi"], "lon": "116.46", "lat": "39.93", "crs": "wgs84"})
    assert made.status_code == 302, made.get_data(as_text=True)
    new_id = made.headers["Location"].split("/admin/stations/")[1].split("?")[0]
    item = admin_app.test_client().get(f"/api/v1/stations/{new_id}").get_json()["item"]
    assert item["name"] == "表单新站" and item["amenities"] == ["toilet", "wifi"] and item["status"] == "open"
    page = client.get("/admin/booths/b1/convert").get_data(as_text=True)
    converted = client.post("/admin/booths/b1/convert", data={"csrf_token": csrf(page), "version": version(page),
                                                             "name": "亮马桥驿站", "district": "朝阳区"})
    assert converted.status_code == 302, converted.get_data(as_text=True)
    assert admin_app.test_client().get("/api/v1/booths/b1").get_json()["item"]["status"] == "converted"


def test_import_page_checks_then_commits(admin_app):
    client = admin_app.test_client()
    sign_in(client, "zhang")
    page = client.get("/admin/import").get_data(as_text=True)  # editors import too, within their area
    streets = client.post("/admin/import", data={"csrf_token": csrf(page), "layer": "streets", "crs": "wgs84",
                                                 "file": (BytesIO(b"name,lon,lat\n"), "s.csv")},
                          content_type="multipart/form-data")
    assert streets.status_code == 403  # but not streets or subdistricts
    sign_in(client, "root")
    page = client.get("/admin/import").get_data(as_text=True)
    csv = "名称,经度,纬度\n导入站,116.46,39.94\n".encode()
    checked = client.post("/admin/import", data={"csrf_token": csrf(page), "layer": "stations", "crs": "wgs84",
                                                 "file": (BytesIO(csv), "s.csv")}, content_type="multipart/form-data")
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "试运行" in text
    assert admin_app.test_client().get("/api/v1/stations").get_json()["total"] == 5
    commit = re.search(r'action="(/admin/import/[0-9a-f]+/commit)"', text).group(1)
    done = client.post(commit, data={"csrf_token": csrf(text)})
    assert "已写入" in done.get_data(as_text=True)
    assert admin_app.test_client().get("/api/v1/stations").get_json()["total"] == 6
