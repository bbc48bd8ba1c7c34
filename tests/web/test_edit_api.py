"""Write endpoints: tokens, scope, If-Match/ETag (412, 428), audit history, revert, convert, uploads."""

from __future__ import annotations

import pytest

from conftest import assert_problem, at, frame, station_rows

BOOTHS = [
    {"id": "b1", "address": "亮马桥路", "district": "朝阳区", "subdistrict": "110105001000", "status": "candidate",
     "station_id": "", "notes": "", "source": "demo", "geometry": at(100, 100)},
    {"id": "b2", "address": "天竺路", "district": "顺义区", "subdistrict": "110113008000", "status": "candidate",
     "station_id": "", "notes": "", "source": "demo", "geometry": at(200, 100)},
]


def make_app(tmp_path, **config):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    path = tmp_path / "edit.gpkg"
    GeoPackageStore(path).write({"stations": frame(station_rows()), "booths": frame(BOOTHS)})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none", "RATE_LIMIT": "0", **config})


def add_user(app, name: str, role: str = "editor", district: str = "", subdistrict: str = "",
             password: str = "correct horse") -> str:
    """Make a user; return an API token for them."""
    from locator.web import auth

    with app.app_context():
        auth.records().add_user(name, auth.hash_password(password), role=role, district=district,
                                subdistrict=subdistrict)
        return auth.records().create_token(name)


@pytest.fixture
def edit_app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def tokens(edit_app):
    return {"admin": add_user(edit_app, "root", "admin"), "chaoyang": add_user(edit_app, "zhang", district="朝阳区"),
            "shunyi": add_user(edit_app, "li", district="顺义区")}


@pytest.fixture
def api(edit_app):
    return edit_app.test_client()


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def read(api, path: str) -> tuple[dict, str]:
    response = api.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["item"], response.headers["ETag"]


def test_get_gives_an_etag_and_patch_with_it_writes(api, tokens):
    item, tag = read(api, "/api/v1/stations/s1")
    assert item["name"] == "甲站" and tag.startswith('"')
    response = api.patch("/api/v1/stations/s1", json={"name": "甲站（新）", "phone": "010-1"},
                         headers=bearer(tokens["chaoyang"], **{"If-Match": tag}))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["changed"] and body["item"]["name"] == "甲站（新）" and response.headers["ETag"] != tag
    # this worker reloaded at once: the read API serves the edit and the new ETag
    item, new_tag = read(api, "/api/v1/stations/s1")
    assert item["name"] == "甲站（新）" and new_tag == response.headers["ETag"]


def test_stale_write_gets_412_with_the_current_record(api, tokens):
    _, tag = read(api, "/api/v1/stations/s1")
    first = api.patch("/api/v1/stations/s1", json={"name": "一"}, headers=bearer(tokens["admin"], **{"If-Match": tag}))
    assert first.status_code == 200
    second = api.patch("/api/v1/stations/s1", json={"name": "二"},
                       headers=bearer(tokens["chaoyang"], **{"If-Match": tag}))
    body = assert_problem(second, 412, param="If-Match")
    assert body["record"]["name"] == "一" and body["etag"] == first.headers["ETag"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert read(api, "/api/v1/stations/s1")[0]["name"] == "一"


def test_write_without_if_match_is_428(api, tokens):
    response = api.patch("/api/v1/stations/s1", json={"name": "x"}, headers=bearer(tokens["admin"]))
    body = assert_problem(response, 428, param="If-Match")
    assert body["etag"].startswith('"')
    assert_problem(api.post("/api/v1/stations/s1/close", headers=bearer(tokens["admin"])), 428)


def test_anonymous_and_bad_tokens_cannot_write(api, tokens):
    _, tag = read(api, "/api/v1/stations/s1")
    response = api.patch("/api/v1/stations/s1", json={"name": "x"}, headers={"If-Match": tag})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(api.patch("/api/v1/stations/s1", json={"name": "x"},
                             headers=bearer("lct_wrong", **{"If-Match": tag})), 401)
    assert_problem(api.post("/api/v1/stations", json={"name": "x", "lon": 116.4, "lat": 39.9, "crs": "wgs84"}), 401)
    assert_problem(api.get("/api/v1/stations/s1/history"), 401)
    assert read(api, "/api/v1/stations/s1")[0]["name"] == "甲站"


def test_editor_cannot_touch_another_district(api, tokens):
    _, tag = read(api, "/api/v1/stations/s1")  # 朝阳区
    response = api.patch("/api/v1/stations/s1", json={"name": "x"},
                         headers=bearer(tokens["shunyi"], **{"If-Match": tag}))
    assert_problem(response, 403, param="district")
    # nor move one of theirs out of it, nor create one elsewhere
    moved = api.patch("/api/v1/stations/s1", json={"district": "顺义区"},
                      headers=bearer(tokens["chaoyang"], **{"If-Match": tag}))
    assert_problem(moved, 403, param="district")
    created = api.post("/api/v1/stations", headers=bearer(tokens["shunyi"]), json={
        "name": "新站", "district": "朝阳区", "lon": 116.45, "lat": 39.93, "crs": "wgs84"})
    assert_problem(created, 403)
    _, booth_tag = read(api, "/api/v1/booths/b1")
    assert_problem(api.post("/api/v1/booths/b1/close", headers=bearer(tokens["shunyi"], **{"If-Match": booth_tag})),
                   403)
    assert_problem(api.get("/api/v1/stations/s1/history", headers=bearer(tokens["shunyi"])), 403)


def test_subdistrict_editor_is_limited_to_the_subdistrict(edit_app, api):
    token = add_user(edit_app, "wu", subdistrict="110113008000")
    _, tag = read(api, "/api/v1/booths/b1")
    assert_problem(api.post("/api/v1/booths/b1/close", headers=bearer(token, **{"If-Match": tag})), 403)
    _, tag = read(api, "/api/v1/booths/b2")
    assert api.post("/api/v1/booths/b2/close", headers=bearer(token, **{"If-Match": tag})).status_code == 200


def test_create_close_reopen_and_history(api, tokens):
    token = tokens["chaoyang"]
    created = api.post("/api/v1/stations", headers=bearer(token), json={
        "name": "新驿站", "address": "工体北路", "district": "朝阳区", "amenities": ["toilet", "微波炉"],
        "opening_hours": "每天 8:00-20:00", "lon": 116.45, "lat": 39.93, "crs": "gcj02"})
    assert created.status_code == 201, created.get_data(as_text=True)
    item = created.get_json()["item"]
    assert item["amenities"] == "microwave;toilet" and item["opening_hours"] == "Mo-Su 08:00-20:00"
    assert item["opening_hours_raw"] == "每天 8:00-20:00" and item["source"] == "editor"
    assert abs(item["lon"] - 116.45) > 1e-4  # stored in WGS-84, not the GCJ-02 it was given in
    path = created.headers["Location"]
    assert api.get(path).status_code == 200
    closed = api.post(f"{path}/close", json={"status": "temporarily_closed"},
                      headers=bearer(token, **{"If-Match": created.headers["ETag"]}))
    assert closed.get_json()["item"]["status"] == "temporarily_closed"
    reopened = api.post(f"{path}/reopen", headers=bearer(token, **{"If-Match": closed.headers["ETag"]}))
    assert reopened.get_json()["item"]["status"] == "open"
    history = api.get(f"{path}/history", headers=bearer(token)).get_json()
    assert [c["action"] for c in history["changes"]] == ["reopen", "close", "create"]
    assert history["changes"][0]["fields"] == {"status": ["temporarily_closed", "open"]}
    assert all(c["username"] == "zhang" and c["state"] == "done" and c["at"] for c in history["changes"])
    assert history["etag"] == reopened.headers["ETag"]
    assert_problem(api.post("/api/v1/stations", headers=bearer(token), json={
        "id": item["id"], "name": "x", "district": "朝阳区", "lon": 116.45, "lat": 39.93, "crs": "wgs84"}), 409)


def test_bad_fields_are_named(api, tokens):
    token = tokens["admin"]
    _, tag = read(api, "/api/v1/stations/s1")
    cases = [({"colour": "red"}, 400, "colour"), ({"status": "gone"}, 422, "status"), ({"name": 3}, 400, "name"),
             ({"lon": 116.4}, 400, "lat"), ({"lon": 116.4, "lat": 39.9}, 400, "crs"),
             ({"lon": 10.0, "lat": 10.0, "crs": "wgs84"}, 422, "lon,lat"), ({"amenities": ["sauna"]}, 400, "amenity"),
             ({"name": ""}, 422, "name"), ({"verified_at": "yesterday"}, 422, "verified_at")]
    for body, status, param in cases:
        response = api.patch("/api/v1/stations/s1", json=body, headers=bearer(token, **{"If-Match": tag}))
        assert_problem(response, status, param=param)
    assert_problem(api.patch("/api/v1/stations/s1", data="[1]", content_type="application/json",
                             headers=bearer(token, **{"If-Match": tag})), 400, param="body")
    assert_problem(api.patch("/api/v1/stations/nope", json={}, headers=bearer(token, **{"If-Match": tag})), 404)


def test_revert_restores_old_values_as_a_new_change(api, tokens):
    token = tokens["chaoyang"]
    _, tag = read(api, "/api/v1/stations/s2")
    api.patch("/api/v1/stations/s2", json={"name": "错名", "phone": "123"}, headers=bearer(token, **{"If-Match": tag}))
    change = api.get("/api/v1/stations/s2/history", headers=bearer(token)).get_json()["changes"][0]
    reverted = api.post(f"/api/v1/changes/{change['id']}/revert", headers=bearer(token))
    assert reverted.status_code == 200, reverted.get_data(as_text=True)
    item, _ = read(api, "/api/v1/stations/s2")
    assert (item["name"], item["phone"]) == ("乙站", "")
    history = api.get("/api/v1/stations/s2/history", headers=bearer(token)).get_json()["changes"]
    assert history[0]["action"] == "revert" and history[0]["reverts"] == change["id"]
    assert history[0]["fields"] == {"name": ["错名", "乙站"], "phone": ["123", ""]}
    # reverting the first change again would undo nothing it set: the fields have moved on
    assert_problem(api.post(f"/api/v1/changes/{change['id']}/revert", headers=bearer(token)), 409)
    assert_problem(api.post(f"/api/v1/changes/{change['id']}/revert", headers=bearer(tokens["shunyi"])), 403)
    assert_problem(api.post("/api/v1/changes/99999/revert", headers=bearer(token)), 404)


def test_convert_booth_into_station(api, tokens):
    token = tokens["chaoyang"]
    _, tag = read(api, "/api/v1/booths/b1")
    response = api.post("/api/v1/booths/b1/convert", json={"name": "亮马桥驿站", "amenities": ["toilet"]},
                        headers=bearer(token, **{"If-Match": tag}))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    station, booth = body["station"], body["booth"]
    assert station["converted_from_booth"] == "b1" and station["district"] == "朝阳区"
    assert booth["status"] == "converted" and booth["station_id"] == station["id"]
    assert read(api, f"/api/v1/stations/{station['id']}")[0]["name"] == "亮马桥驿站"
    assert read(api, "/api/v1/booths/b1")[0]["status"] == "converted"
    again = api.post("/api/v1/booths/b1/convert", json={"name": "x"},
                     headers=bearer(token, **{"If-Match": response.headers["ETag"]}))
    assert_problem(again, 409)


CSV = "名称,地址,经度,纬度,区\n新站一,路一,116.46,39.94,朝阳区\n新站二,路二,116.47,39.95,朝阳区\n坏行,路三,,,朝阳区\n"


def test_upload_dry_run_then_commit(api, tokens):
    from io import BytesIO

    files = {"file": (BytesIO(CSV.encode("utf-8")), "stations.csv"), "layer": "stations", "crs": "wgs84"}
    staged = api.post("/api/v1/imports", data=files, headers=bearer(tokens["admin"]))
    assert staged.status_code == 201, staged.get_data(as_text=True)
    body = staged.get_json()
    assert body["report"]["dry_run"] and body["report"]["rows_imported"] == 2 and body["report"]["rows_rejected"] == 1
    assert api.get("/api/v1/stations").get_json()["total"] == 5  # nothing written yet
    done = api.post(f"/api/v1/imports/{body['upload_id']}/commit", headers=bearer(tokens["admin"]))
    assert done.status_code == 200 and done.get_json()["report"]["written"]
    assert api.get("/api/v1/stations").get_json()["total"] == 7
    assert_problem(api.post(f"/api/v1/imports/{body['upload_id']}/commit", headers=bearer(tokens["admin"])), 404)


def test_upload_larger_than_the_limit_is_413(tmp_path):
    from io import BytesIO

    app = make_app(tmp_path, MAX_UPLOAD_MB=0.01)
    token = add_user(app, "root", "admin")
    big = BytesIO(b"name,lon,lat\n" + b"x,116.4,39.9\n" * 2000)
    response = app.test_client().post("/api/v1/imports", data={"file": (big, "big.csv"), "layer": "stations"},
                                      headers=bearer(token))
    assert_problem(response, 413)


def test_failed_store_write_is_503_and_logged_as_failed(api, edit_app, tokens, monkeypatch):
    from locator.errors import StoreUnavailable

    _, tag = read(api, "/api/v1/stations/s1")
    state = edit_app.extensions["locator"]

    def down(*args, **kwargs):
        raise StoreUnavailable("the store is down (test)")

    monkeypatch.setattr(state.store, "write", down)
    response = api.patch("/api/v1/stations/s1", json={"name": "x"},
                         headers=bearer(tokens["admin"], **{"If-Match": tag}))
    assert_problem(response, 503)
    monkeypatch.undo()
    history = api.get("/api/v1/stations/s1/history", headers=bearer(tokens["admin"])).get_json()
    assert history["changes"] == [] and history["item"]["name"] == "甲站"


def test_editor_imports_only_rows_of_their_district(api, tokens):
    from io import BytesIO

    def upload(token, text, layer="stations"):
        files = {"file": (BytesIO(text.encode("utf-8")), "stations.csv"), "layer": layer, "crs": "wgs84"}
        return api.post("/api/v1/imports", data=files, headers=bearer(token))

    streets = upload(tokens["chaoyang"], "name,lon,lat\nx,116.4,39.9\n", layer="streets")
    assert_problem(streets, 403, param="layer")
    mixed = CSV + "别区的站,路四,116.65,40.13,顺义区\n"
    staged = upload(tokens["chaoyang"], mixed)
    assert staged.status_code == 201, staged.get_data(as_text=True)
    report = staged.get_json()["report"]
    assert report["rows_imported"] == 2
    reasons = [p["reason"] for p in report["problems"] if p["row"] == 4]
    assert reasons and "outside your area" in reasons[0]
    upload_id = staged.get_json()["upload_id"]
    assert_problem(api.post(f"/api/v1/imports/{upload_id}/commit", headers=bearer(tokens["shunyi"])), 404)
    done = api.post(f"/api/v1/imports/{upload_id}/commit", headers=bearer(tokens["chaoyang"]))
    assert done.status_code == 200 and done.get_json()["report"]["written"]
    districts = [s["district"] for s in api.get("/api/v1/stations?limit=50").get_json()["items"]]
    assert "顺义区" not in districts and len(districts) == 7

