"""POST /api/v1/siting and the saved scenarios, on a 4 km street grid with 500 m blocks."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from conftest import ORIGIN_X as X0
from conftest import ORIGIN_Y as Y0
from conftest import assert_problem

WEST, EAST = "110105001000", "110105002000"


def grid_streets() -> gpd.GeoDataFrame:
    """Five east-west and five north-south streets, 1 km apart, with a vertex every 500 m."""
    lines, ids = [], []
    for k in range(5):
        lines.append(LineString([(X0 + 500 * j, Y0 + 1000 * k) for j in range(9)]))
        lines.append(LineString([(X0 + 1000 * k, Y0 + 500 * j) for j in range(9)]))
        ids += [f"h{k}", f"v{k}"]
    return gpd.GeoDataFrame({"id": ids, "name": ids, "highway": "residential", "oneway": False}, geometry=lines,
                            crs="EPSG:32650")


def booth_layer() -> gpd.GeoDataFrame:
    spots = {"b0": (2000, 2000, EAST), "b1": (4000, 4000, EAST), "b2": (3000, 1000, EAST),
             "b3": (1000, 3000, WEST), "b4": (2050, 2000, EAST), "b5": (0, 4000, WEST)}
    return gpd.GeoDataFrame(
        {"id": list(spots), "address": [f"{k} 路" for k in spots], "subdistrict": [v[2] for v in spots.values()],
         "status": ["candidate", "candidate", "candidate", "planned", "candidate", "removed"]},
        geometry=[Point(X0 + x, Y0 + y) for x, y, _ in spots.values()], crs="EPSG:32650")


@pytest.fixture
def siting_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    station = gpd.GeoDataFrame({"id": ["s1"], "name": ["甲站"], "status": ["open"]}, geometry=[Point(X0, Y0)],
                               crs="EPSG:32650")
    subdistricts = gpd.GeoDataFrame(
        {"code": [WEST, EAST], "name": ["西街道", "东街道"]},
        geometry=[box(X0 - 10, Y0 - 10, X0 + 1900, Y0 + 4010), box(X0 + 1900, Y0 - 10, X0 + 4010, Y0 + 4010)],
        crs="EPSG:32650")
    path = tmp_path / "siting.gpkg"
    GeoPackageStore(path).write({"streets": grid_streets(), "stations": station, "booths": booth_layer(),
                                 "subdistricts": subdistricts})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none"})


@pytest.fixture
def siting_client(siting_app):
    return siting_app.test_client()


def test_mclp_answer_is_optimal_with_booths_and_subdistricts(siting_client):
    resp = siting_client.post("/api/v1/siting", json={"p": 2, "threshold_m": 1000})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["quality"]["status"] == "optimal"
    assert body["quality"]["text"] == "optimal"
    # b0 at the centre reaches 8 half-blocks (4 km); b2 or b3 another 4 km; the station already covers 2 km
    assert body["quality"]["objective"] == pytest.approx(8000.0)
    ids = [b["id"] for b in body["booths"]]
    assert ids[0] == "b0" and ids[1] in {"b2", "b3"}
    assert body["totals"]["covered_before_m"] == pytest.approx(2000.0)
    assert body["totals"]["covered_after_m"] == pytest.approx(10000.0)
    assert {row["code"] for row in body["by_subdistrict"]} == {WEST, EAST}
    assert sum(r["length_m"] for r in body["by_subdistrict"]) == pytest.approx(40000.0)
    for booth in body["booths"]:
        assert 116 < booth["lon"] < 117 and 39 < booth["lat"] < 41
        assert booth["address"].endswith("路")
    assert body["solve_time_s"] >= 0 and body["data_version"] >= 1


def test_lonlat_follow_the_requested_crs(siting_client):
    wgs = siting_client.post("/api/v1/siting", json={"p": 1, "crs": "wgs84"}).get_json()["booths"][0]
    gcj = siting_client.post("/api/v1/siting", json={"p": 1, "crs": "gcj02"}).get_json()["booths"][0]
    assert wgs["id"] == gcj["id"]
    shift_m = math.hypot((gcj["lon"] - wgs["lon"]) * 85_000, (gcj["lat"] - wgs["lat"]) * 111_000)
    assert 100 < shift_m < 1000  # GCJ-02 is a few hundred metres off WGS-84 in Beijing


def test_subdistrict_status_exclude_and_force(siting_client):
    west = siting_client.post("/api/v1/siting", json={"p": 1, "subdistrict": WEST}).get_json()
    assert [b["id"] for b in west["booths"]] == ["b3"]
    only_candidates = siting_client.post("/api/v1/siting", json={"p": 1, "subdistrict": WEST,
                                                                  "candidate_status_only": True}).get_json()
    assert only_candidates["booths"] == []  # b3 is planned, b5 removed
    excluded = siting_client.post("/api/v1/siting", json={"p": 1, "exclude": ["b0"]}).get_json()
    assert excluded["booths"][0]["id"] == "b4"  # 50 m east of the centre: nearly as good
    forced = siting_client.post("/api/v1/siting", json={"p": 2, "force": ["b1"]}).get_json()
    assert "b1" in [b["id"] for b in forced["booths"]]
    assert forced["quality"]["status"] == "optimal"


def test_spacing_rule(siting_client):
    body = siting_client.post("/api/v1/siting", json={"p": 4, "min_spacing_m": 1500, "method": "exact"}).get_json()
    points = [(b["lon"] * 85_000, b["lat"] * 111_000) for b in body["booths"]]
    assert len(points) >= 2
    for a, b in itertools.combinations(points, 2):
        assert math.dist(a, b) > 1400


def test_cover_target_and_infeasible_target(siting_client):
    ok = siting_client.post("/api/v1/siting", json={"model": "cover", "target_share": 0.2}).get_json()
    assert ok["quality"]["status"] == "optimal"
    assert ok["quality"]["booths"] == 2 == len(ok["booths"])
    assert ok["totals"]["share_after"] >= 0.2
    no = siting_client.post("/api/v1/siting", json={"model": "cover", "target_share": 0.9}).get_json()
    assert no["quality"]["status"] == "infeasible"
    assert no["booths"] == []
    assert 0.05 < no["quality"]["reachable_share"] < 0.9


@pytest.mark.parametrize(("body", "param"), [
    ({"p": "five"}, "p"),
    ({"p": 0}, "p"),
    ({"p": True}, "p"),
    ({"threshold_m": -1}, "threshold_m"),
    ({"threshold_m": 1e9}, "threshold_m"),
    ({"target_share": 1.5, "model": "cover"}, "target_share"),
    ({"model": "pmedian"}, "model"),
    ({"method": "magic"}, "method"),
    ({"profile": "car"}, "profile"),
    ({"weight": "traffic"}, "weight"),
    ({"crs": "epsg:3857"}, "crs"),
    ({"colour": "red"}, "colour"),
    ({"force": "b0"}, "force"),
    ({"force": ["nope"]}, "force"),
    ({"exclude": ["b5"]}, "exclude"),  # removed: not a candidate
    ({"force": ["b0"], "exclude": ["b0"]}, "force"),
    ({"force": ["b0", "b4"], "min_spacing_m": 100}, "min_spacing_m"),
    ({"force": ["b0", "b2", "b3"], "p": 2}, "force"),
    ({"subdistrict": "999999999999"}, "subdistrict"),
    ({"time_limit_s": 3600}, "time_limit_s"),
    ({"candidate_status_only": "yes"}, "candidate_status_only"),
])
def test_bad_fields_are_named(siting_client, body, param):
    assert_problem(siting_client.post("/api/v1/siting", json=body), 400, param=param)


def test_body_must_be_a_bounded_json_object(siting_client):
    assert_problem(siting_client.post("/api/v1/siting", data="p=5"), 400, param="body")
    assert_problem(siting_client.post("/api/v1/siting", json=[1, 2]), 400, param="body")
    big = {"exclude": ["x" * 100] * 1000}
    assert_problem(siting_client.post("/api/v1/siting", json=big), 400, param="body")


def add_user(app, name: str, role: str = "editor", *, subdistrict: str = "", district: str = "") -> str:
    """Make a user and return an API token for them."""
    from locator.web import auth

    with app.app_context():
        auth.records().add_user(name, auth.hash_password("correct horse"), role=role, district=district,
                                subdistrict=subdistrict)
        return auth.records().create_token(name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def booth_status(app) -> dict[str, str]:
    booths = app.extensions["locator"].store.read("booths")
    return dict(zip(booths["id"], booths["status"], strict=True))


def test_save_scenario_marks_booths_planned(siting_app, siting_client):
    token = add_user(siting_app, "root", "admin")
    resp = siting_client.post("/api/v1/siting/scenarios", headers=bearer(token),
                              json={"name": "2027 第一批", "p": 2, "mark_planned": True, "crs": "gcj02"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    record = resp.get_json()
    assert record["name"] == "2027 第一批" and record["created_by"] == "root"
    assert record["parameters"]["p"] == 2 and record["crs"] == "gcj02"
    chosen = [b["id"] for b in record["result"]["booths"]]
    assert record["marked_planned"] == chosen and record["planned_data_version"] > record["data_version"]
    status = booth_status(siting_app)
    assert all(status[b] == "planned" for b in chosen)
    assert status["b5"] == "removed"  # others untouched
    listing = siting_client.get("/api/v1/siting/scenarios").get_json()["scenarios"]
    assert [s["id"] for s in listing] == [record["id"]] and "result" not in listing[0]
    again = siting_client.get(f"/api/v1/siting/scenarios/{record['id']}").get_json()
    assert again["result"]["booths"] == record["result"]["booths"]
    # the marking is an audited change like any edit: in the booth's history, by whom, with the scenario named
    history = siting_client.get(f"/api/v1/booths/{chosen[0]}/history", headers=bearer(token)).get_json()["changes"]
    assert history[0]["action"] == "plan" and history[0]["username"] == "root"
    assert history[0]["fields"]["status"] == ["candidate", "planned"] and "2027 第一批" in history[0]["note"]


def test_saving_a_scenario_needs_a_signed_in_user(siting_app, siting_client):
    before = booth_status(siting_app)
    body = {"name": "匿名", "p": 2, "mark_planned": True}
    assert_problem(siting_client.post("/api/v1/siting/scenarios", json=body), 401, param="Authorization")
    assert_problem(siting_client.post("/api/v1/siting/scenarios", json=body, headers=bearer("not-a-token")), 401,
                   param="Authorization")
    assert booth_status(siting_app) == before
    assert siting_client.get("/api/v1/siting/scenarios").get_json()["scenarios"] == []
    # solving stays open to everyone: it writes nothing
    assert siting_client.post("/api/v1/siting", json={"p": 2}).status_code == 200


def test_editor_marks_only_booths_in_their_scope(siting_app, siting_client):
    east, west = add_user(siting_app, "dong", subdistrict=EAST), add_user(siting_app, "xi", subdistrict=WEST)
    before = booth_status(siting_app)
    # over the whole grid the best two booths are b0 (east) and b2 or b3: a west editor may not mark b0
    refused = siting_client.post("/api/v1/siting/scenarios", headers=bearer(west),
                                 json={"name": "越界", "p": 2, "threshold_m": 1000, "mark_planned": True})
    body = assert_problem(refused, 403, param="district")
    assert "b0" in body["detail"] or "b2" in body["detail"]
    assert booth_status(siting_app) == before
    assert siting_client.get("/api/v1/siting/scenarios").get_json()["scenarios"] == []  # nothing saved either
    # the same editor may save the record without marking, and mark within their own subdistrict
    assert siting_client.post("/api/v1/siting/scenarios", headers=bearer(west),
                              json={"name": "只看看", "p": 2}).status_code == 201
    own = siting_client.post("/api/v1/siting/scenarios", headers=bearer(west),
                             json={"name": "西", "p": 1, "subdistrict": WEST, "mark_planned": True})
    assert own.status_code == 201, own.get_data(as_text=True)
    assert own.get_json()["marked_planned"] == ["b3"]  # already planned: recorded, nothing rewritten
    mine = siting_client.post("/api/v1/siting/scenarios", headers=bearer(east),
                              json={"name": "东", "p": 1, "subdistrict": EAST, "mark_planned": True})
    assert mine.status_code == 201, mine.get_data(as_text=True)
    assert booth_status(siting_app)["b0"] == "planned"


def test_session_writes_need_the_csrf_token(siting_app, siting_client):
    add_user(siting_app, "root", "admin")
    from locator.web import auth

    with siting_app.app_context():
        uid = auth.records().user("root").id
    with siting_client.session_transaction() as session:
        session["uid"], session["csrf"] = uid, "the-token"
    body = {"name": "会话", "p": 1}
    assert_problem(siting_client.post("/api/v1/siting/scenarios", json=body), 403, param="csrf_token")
    ok = siting_client.post("/api/v1/siting/scenarios", json=body, headers={"X-CSRF-Token": "the-token"})
    assert ok.status_code == 201 and ok.get_json()["created_by"] == "root"


def test_marking_a_booth_converted_since_the_plan_is_a_conflict(siting_app, siting_client, monkeypatch):
    """The plan is made on the worker's snapshot; the marking reads the store fresh under the edit lock."""
    token = add_user(siting_app, "root", "admin")
    state = siting_app.extensions["locator"]
    state.current()  # the snapshot the plan will use, taken before the booth changes
    booths = state.store.read("booths")
    converted = booths[booths["id"] == "b0"].copy()
    converted["status"] = "converted"
    state.store.write({"booths": converted}, mode="upsert")
    monkeypatch.setattr(state, "reload_seconds", 3600.0)  # this worker has not seen the change yet
    resp = siting_client.post("/api/v1/siting/scenarios", headers=bearer(token),
                              json={"name": "晚了", "p": 1, "mark_planned": True})
    body = assert_problem(resp, 409, param="mark_planned")
    assert "b0" in body["detail"]
    assert siting_client.get("/api/v1/siting/scenarios").get_json()["scenarios"] == []


def test_scenario_errors(siting_app, siting_client):
    token = add_user(siting_app, "root", "admin")
    post = siting_client.post
    assert_problem(post("/api/v1/siting/scenarios", json={"p": 2}, headers=bearer(token)), 400, param="name")
    assert_problem(post("/api/v1/siting/scenarios", json={"name": "x", "mark_planned": "yes"}, headers=bearer(token)),
                   400, param="mark_planned")
    assert_problem(post("/api/v1/siting/scenarios", json={"name": "x", "crs": 5}, headers=bearer(token)), 400,
                   param="crs")
    assert_problem(siting_client.get("/api/v1/siting/scenarios/nope"), 404)
    assert_problem(siting_client.get("/api/v1/siting/scenarios?x=1"), 400, param="x")


def test_cli_site_prints_a_table_and_writes_geojson(siting_app, tmp_path, capsys):
    import json

    from locator.cli import main

    out = tmp_path / "chosen.geojson"
    store = siting_app.config["STORE"]
    assert main(["--store", store, "site", "--p", "2", "--threshold", "1000", "--crs", "gcj02", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "b0" in printed and "optimal" in printed and "东街道" in printed
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["id"] for f in collection["features"]][0] == "b0"
    assert collection["crs_system"] == "gcj02"
    assert main(["--store", store, "site", "--subdistrict", "999"]) == 2
