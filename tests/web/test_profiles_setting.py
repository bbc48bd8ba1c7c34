"""The LOCATOR_PROFILES setting through create_app: the speeds it gives are the ones /nearest?mode=network uses.

The streets (metres east/north of the origin), all residential, with the conftest stations::

    (0,800)--------------(600,800) s2
       |                     |
    (0,400)---- s1 ------(600,400)          s1 at (300,400)
       |                     |
    (0,0) ---- q (300,0) ---- (600,0)
     s3 500 m south-west of (0,0)

From q, s3 is 300 + 500 m away and s1 300 + 400 + 300 m, whichever way round.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import wkt

from conftest import ORIGIN_X, ORIGIN_Y
from locator import crs
from locator.core.profiles import configure_profiles
from locator.errors import ConfigError


def line(*points: tuple[float, float]) -> str:
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in points) + ")"


STREETS = [
    ("b", "南路", line((0, 0), (300, 0), (600, 0))),
    ("m", "中路", line((0, 400), (600, 400))),
    ("n", "北路", line((0, 800), (600, 800))),
    ("w", "西路", line((0, 0), (0, 400), (0, 800))),
    ("e", "东路", line((600, 0), (600, 400), (600, 800))),
]


@pytest.fixture(autouse=True)
def built_in_profiles_afterwards():
    yield
    configure_profiles(None)


@pytest.fixture
def store_path(tmp_path, stations) -> str:
    from locator.store import GeoPackageStore

    streets = gpd.GeoDataFrame(
        [{"id": i, "name": n, "highway": "residential", "oneway": False, "access": "", "source": "test"}
         for i, n, _ in STREETS], geometry=[wkt.loads(g) for *_, g in STREETS], crs="EPSG:32650")
    path = tmp_path / "streets.gpkg"
    GeoPackageStore(path).write({"stations": stations, "streets": streets})
    return str(path)


def minutes(app, profile: str) -> dict[str, float]:
    lon, lat = crs.work_xy_to_lonlat(ORIGIN_X + 300, ORIGIN_Y)
    response = app.test_client().get("/api/v1/nearest", query_string={
        "lon": float(lon), "lat": float(lat), "mode": "network", "profile": profile, "k": 2})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {r["id"]: r["time_min"] for r in response.get_json()["results"]}


def test_the_setting_sets_the_speeds_the_api_uses(store_path, tmp_path):
    from locator.web import create_app

    speeds = tmp_path / "speeds.toml"
    speeds.write_text("[walk]\nwalk_kmh = 6\n\n[ebike.speeds_kmh]\nresidential = 21\n", encoding="utf-8")
    app = create_app({"STORE": store_path, "TESTING": True, "TILES": "none", "PROFILES": str(speeds)})
    # walking 800 m at 6 km/h (100 m/min); riding 1,000 m at 21 km/h (350 m/min); time_min has one decimal
    assert minutes(app, "walk") == pytest.approx({"s3": 8.0, "s1": 10.0}, abs=0.06)
    assert minutes(app, "ebike")["s1"] == pytest.approx(1000 / 350, abs=0.06)
    # an app without the setting has the built-in speeds again: 4.8 km/h (80 m/min) and 14 km/h
    plain = create_app({"STORE": store_path, "TESTING": True, "TILES": "none"})
    assert minutes(plain, "walk") == pytest.approx({"s3": 10.0, "s1": 12.5}, abs=0.06)
    assert minutes(plain, "ebike")["s1"] == pytest.approx(1000 / (14000 / 60), abs=0.06)


def test_a_bad_file_stops_the_app_at_start_up(store_path, tmp_path):
    from locator.web import create_app

    bad = tmp_path / "speeds.json"
    bad.write_text('{"ebike": {"speeds_kmh": {"residential": "quick"}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="ebike.speeds_kmh.residential") as caught:
        create_app({"STORE": store_path, "TESTING": True, "TILES": "none", "PROFILES": str(bad)})
    assert str(bad) in caught.value.detail
