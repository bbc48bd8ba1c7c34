"""GET /api/v1/coverage and /api/v1/coverage/streets over a small grid of streets in a real GeoPackage."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import box, wkt

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem
from locator.crs import work_xy_to_lonlat


def line(*pts: tuple[float, float]) -> str:
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in pts) + ")"


STREETS = [
    ("h1", "东西一路", "residential", False, line((0, 0), (300, 0), (600, 0))),
    ("v1", "南北一路", "residential", False, line((0, 0), (0, 400), (0, 800))),
    ("v3", "南北三路", "residential", True, line((600, 0), (600, 400), (600, 800))),
]


@pytest.fixture
def coverage_app(tmp_path, stations):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    streets = gpd.GeoDataFrame([{"id": i, "name": n, "highway": h, "oneway": o} for i, n, h, o, _ in STREETS],
                               geometry=[wkt.loads(g) for *_, g in STREETS], crs="EPSG:32650")
    areas = gpd.GeoDataFrame({"code": ["110105001000"], "name": ["网格街道办事处"], "district": ["朝阳区"],
                              "approximate": [True]},
                             geometry=[box(ORIGIN_X - 10, ORIGIN_Y - 10, ORIGIN_X + 610, ORIGIN_Y + 810)],
                             crs="EPSG:32650")
    path = tmp_path / "cov.gpkg"
    GeoPackageStore(path).write({"stations": stations, "streets": streets, "subdistricts": areas})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none"})


@pytest.fixture
def cov_client(coverage_app):
    return coverage_app.test_client()


def test_coverage_per_subdistrict(cov_client):
    body = cov_client.get("/api/v1/coverage?threshold_m=500&threshold_m=1000").get_json()
    assert body["data_version"] >= 1 and body["computed_at"] and body["profile"] == "walk"
    assert [t["label"] for t in body["thresholds"]] == ["500m", "1000m"]
    assert body["approximate"] is True
    row = body["subdistricts"][0]
    assert row["code"] == "110105001000" and row["approximate"] is True
    assert row["street_length_m"] == pytest.approx(600 + 800 + 800)
    assert 0 <= row["share_500m"] <= row["share_1000m"] <= 1
    assert row["stations"] == 2  # s1 (300, 400) and s2 (600, 800) are inside and open; s3 is closed
    # s1 stands 300 m from 南北一路 and 400 m from 东西一路; the snap is reported as far (> 150 m)
    assert {s["id"] for s in body["far_stations"]} >= {"s1"}


def test_coverage_parameters_and_night(cov_client):
    day = cov_client.get("/api/v1/coverage?at=2026-11-02T12:00&threshold_min=5,10&profile=ebike").get_json()
    night = cov_client.get("/api/v1/coverage?at=2026-11-02T23:00&threshold_min=5,10&profile=ebike").get_json()
    assert day["stations_counted"] == 3 and night["stations_counted"] == 1  # only the 24/7 station at night
    assert day["profile"] == "ebike" and [t["unit"] for t in day["thresholds"]] == ["min", "min"]
    one = cov_client.get("/api/v1/coverage?subdistrict=网格街道").get_json()
    assert len(one["subdistricts"]) == 1


@pytest.mark.parametrize(("query", "param"), [
    ("threshold_m=-5", "threshold_m"), ("threshold_m=abc", "threshold_m"), ("profile=car", "profile"),
    ("at=yesterday", "at"), ("mode=teleport", "mode"), ("bogus=1", "bogus"),
])
def test_coverage_bad_parameters(cov_client, query, param):
    assert_problem(cov_client.get(f"/api/v1/coverage?{query}"), 400, param=param)


def test_coverage_unknown_subdistrict_is_404(cov_client):
    assert_problem(cov_client.get("/api/v1/coverage?subdistrict=不存在"), 404, param="subdistrict")


def bbox(crs: str = "wgs84") -> str:
    lon, lat = work_xy_to_lonlat([ORIGIN_X - 50, ORIGIN_X + 650], [ORIGIN_Y - 50, ORIGIN_Y + 850], system=crs)
    return f"{lon[0]},{lat[0]},{lon[1]},{lat[1]}"


def test_coverage_streets_geojson_and_paging(cov_client):
    response = cov_client.get(f"/api/v1/coverage/streets?bbox={bbox()}&limit=2")
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["numberMatched"] == 3 and body["numberReturned"] == 2
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    assert 116 < feature["geometry"]["coordinates"][0][0] < 117
    assert feature["properties"]["band"] in {"<=500", "500-1000", "1000-2000", ">2000", "unreachable"}
    assert body["computed_at"] and body["data_version"] >= 1
    seen = [f["properties"]["segment"] for f in body["features"]]
    while body["links"]:
        body = cov_client.get(body["links"][0]["href"]).get_json()
        seen += [f["properties"]["segment"] for f in body["features"]]
    assert sorted(seen) == [0, 1, 2]  # three streets, joined only at their ends


def test_coverage_streets_in_gcj02(cov_client):
    wgs = cov_client.get(f"/api/v1/coverage/streets?bbox={bbox()}").get_json()
    gcj = cov_client.get(f"/api/v1/coverage/streets?bbox={bbox('gcj02')}&crs=gcj02").get_json()
    assert gcj["numberMatched"] == wgs["numberMatched"]
    assert gcj["features"][0]["geometry"]["coordinates"] != wgs["features"][0]["geometry"]["coordinates"]


@pytest.mark.parametrize(("query", "param"), [
    ("", "bbox"), ("bbox=1,2,3", "bbox"), ("bbox=116.5,39.9,116.4,40&limit=0", "bbox"),
    (f"bbox={'116.3,39.8,116.5,40.0'}&limit=99999", "limit"), ("bbox=116.3,39.8,116.5,40.0&crs=mars", "crs"),
])
def test_coverage_streets_bad_parameters(cov_client, query, param):
    assert_problem(cov_client.get(f"/api/v1/coverage/streets?{query}"), 400, param=param)


def test_coverage_is_in_the_openapi_document(cov_client):
    paths = cov_client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/coverage" in paths and "/api/v1/coverage/streets" in paths


def test_cli_coverage_table_csv_and_geojson(coverage_app, tmp_path, capsys):
    from locator.cli import main

    store = coverage_app.config["STORE"]
    assert main(["--store", store, "coverage", "--threshold", "1000", "-o", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr()
    assert "街道/乡镇" in out.out and "网格街道办事处" in out.out and "1000m内占比" in out.out
    assert "近似" in out.err and "data_version" in out.err
    assert "share_1000m" in (tmp_path / "c.csv").read_text(encoding="utf-8-sig")
    assert main(["--store", store, "coverage", "--lang", "en", "--profile", "ebike", "--threshold-min", "5",
                 "--at", "2026-11-02T23:00", "-o", str(tmp_path / "s.geojson")]) == 0
    assert "share within 5min" in capsys.readouterr().out
    streets = gpd.read_file(tmp_path / "s.geojson")
    assert len(streets) == 3 and "band" in streets.columns
    assert main(["--store", store, "coverage", "--subdistrict", "不存在"]) == 2
