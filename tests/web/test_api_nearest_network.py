"""GET /api/v1/nearest?mode=network: stations ranked along the streets, on a hand-made grid.

The streets (metres east/north of the origin), with the five conftest stations::

    (0,800)--------------(600,800) s2       s4 far off at (3000,4000): 4000 m from (600,800)
       |                     |
    (0,400)---- s1 ------(600,400)          s1 at (300,400), on the middle street
       |                     |
    (0,0) ----> q (300,0) ---> (600,0)      the bottom street is one-way, eastwards
     s3 500 m south-west of (0,0)

There is no street straight up from the query point q, so on foot s3 (300 + 500 m) comes before s1
(300 + 400 + 300 m) and s2 (300 + 800 m), though s1 is the nearest in a straight line (400 m). By e-bike the
bottom street can't be ridden west: s3 is 300 + 400 + 600 + 400 m away and 500 m on foot from the corner.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import wkt

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem
from locator import crs


def line(*points: tuple[float, float]) -> str:
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in points) + ")"


STREETS = [
    ("b", "南路", "residential", True, line((0, 0), (300, 0), (600, 0))),
    ("m", "中路", "residential", False, line((0, 400), (600, 400))),
    ("n", "北路", "residential", False, line((0, 800), (600, 800))),
    ("w", "西路", "residential", False, line((0, 0), (0, 400), (0, 800))),
    ("e", "东路", "residential", False, line((600, 0), (600, 400), (600, 800))),
]


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = crs.work_xy_to_lonlat(ORIGIN_X + x, ORIGIN_Y + y)
    return float(lon), float(lat)


@pytest.fixture
def street_client(tmp_path, stations):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    streets = gpd.GeoDataFrame(
        [{"id": i, "name": n, "highway": h, "oneway": o, "access": "", "source": "test"} for i, n, h, o, _ in STREETS],
        geometry=[wkt.loads(g) for *_, g in STREETS], crs="EPSG:32650")
    path = tmp_path / "streets.gpkg"
    GeoPackageStore(path).write({"stations": stations, "streets": streets})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none"}).test_client()


def get(client, *, at: tuple[float, float] = (300, 0), **params):
    lon, lat = lonlat(*at)
    response = client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_walk_ranks_by_distance_along_the_streets(street_client):
    body = get(street_client, mode="network", k=4)
    results = body["results"]
    assert [r["id"] for r in results] == ["s3", "s1", "s2", "s4"]
    assert [r["distance_m"] for r in results] == pytest.approx([800, 1000, 1100, 5100], abs=0.5)
    # ground (geodesic) metres: within 0.05 % of the UTM grid's
    assert [r["straight_m"] for r in results] == pytest.approx([721.1, 400, 854.4, 4826.0], rel=5e-4)
    walked_min = [m / 80 for m in (800, 1000, 1100, 5100)]  # 4.8 km/h
    assert [r["time_min"] for r in results] == pytest.approx(walked_min, abs=0.06)
    assert [r["walk_min"] for r in results] == pytest.approx([800 / 75, 1000 / 75, 1100 / 75, 5100 / 75], abs=0.06)
    assert results[0]["ride_min"] == pytest.approx(800 / 250, abs=0.06)
    assert body["query"]["mode"] == "network" and body["query"]["profile"] == "walk"
    straight = get(street_client, k=3)
    assert [r["id"] for r in straight["results"]] == ["s1", "s3", "s2"]  # the default stays a straight line
    assert "straight_m" not in straight["results"][0] and straight["query"]["profile"] is None


def test_ebike_may_not_ride_west_on_the_one_way_street(street_client):
    results = get(street_client, mode="network", profile="ebike", k=3)["results"]
    assert [r["id"] for r in results] == ["s1", "s2", "s3"]
    assert [r["distance_m"] for r in results] == pytest.approx([1000, 1100, 2200], abs=0.5)
    ride_s = [1000 / (14 / 3.6), 1100 / (14 / 3.6), 1700 / (14 / 3.6) + 500 / (4.8 / 3.6)]
    assert [r["time_min"] for r in results] == pytest.approx([s / 60 for s in ride_s], abs=0.06)


def test_radius_is_along_the_streets_and_filters_still_apply(street_client):
    assert [r["id"] for r in get(street_client, mode="network", radius_m=900)["results"]] == ["s3"]
    assert [r["id"] for r in get(street_client, radius_m=900)["results"]] == ["s1", "s3", "s2"]
    assert [r["id"] for r in get(street_client, mode="network", amenity="toilet")["results"]] == ["s3", "s2"]
    assert [r["id"] for r in get(street_client, mode="network", status="open", k=2)["results"]] == ["s1", "s2"]
    assert get(street_client, mode="network", amenity="wifi")["results"] == []  # only the planned s5 has wifi


def test_geojson_answer(street_client):
    body = get(street_client, mode="network", k=1, format="geojson")
    feature = body["features"][0]
    assert feature["id"] == "s3" and feature["properties"]["distance_m"] == pytest.approx(800, abs=0.5)


def test_a_point_far_from_every_street_is_a_problem(street_client):
    lon, lat = lonlat(300, -400)  # 400 m south of the bottom street
    response = street_client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, "mode": "network"})
    body = assert_problem(response, 422, param="lon,lat")
    assert body["type"] == "/problems/not-routable" and body["snap_m"] == pytest.approx(400, abs=0.5)
    assert "mode=straight" in body["detail"]
    ok = street_client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat})
    assert ok.status_code == 200  # a straight line needs no street


def test_data_without_streets_is_a_problem(client):
    lon, lat = lonlat(300, 0)
    response = client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, "mode": "network"})
    body = assert_problem(response, 422, param="mode")
    assert body["type"] == "/problems/not-routable" and "streets" in body["detail"]


@pytest.mark.parametrize(("params", "param"), [({"mode": "teleport"}, "mode"), ({"mode": "network", "profile": "car"},
                                                                                  "profile")])
def test_bad_mode_or_profile(street_client, params, param):
    lon, lat = lonlat(300, 0)
    response = street_client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, **params})
    body = assert_problem(response, 400, param=param)
    assert body["valid"]


def test_openapi_documents_mode_and_profile(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/nearest"]["get"]["parameters"]}
    assert params["mode"]["schema"]["enum"] == ["straight", "network"]
    assert params["profile"]["schema"]["enum"] == ["walk", "ebike"]
