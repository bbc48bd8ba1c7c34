"""GET /api/v1/nearest: answers on the five-station grid, filters, coordinate systems, data version."""

from __future__ import annotations

import pytest

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem
from locator import crs

ORIGIN = tuple(float(v) for v in crs.work_xy_to_lonlat(ORIGIN_X, ORIGIN_Y))
FIELDS = {"id", "name", "address", "lon", "lat", "distance_m", "bearing_deg", "walk_min", "ride_min", "open_now",
          "next_change", "opening_hours", "amenities", "status", "source", "nav"}


def get(client, **params):
    params = {"lon": ORIGIN[0], "lat": ORIGIN[1], **params}
    response = client.get("/api/v1/nearest", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_answer_has_every_field(client):
    body = get(client, k=2)
    assert body["data_version"] == 1 and body["stale"] is False
    assert body["count"] == 2 and body["crs"] == "wgs84"
    for result in body["results"]:
        assert set(result) == FIELDS
    assert {r["id"] for r in body["results"]} == {"s1", "s3"}
    s1 = next(r for r in body["results"] if r["id"] == "s1")
    assert s1["distance_m"] == pytest.approx(500.2, abs=0.2)  # ground metres, not degrees
    assert s1["walk_min"] == pytest.approx(500.2 / 75, abs=0.1)
    assert s1["ride_min"] == pytest.approx(500.2 / 250, abs=0.1)
    assert s1["amenities"] == ["drinking_water", "microwave"]
    assert s1["opening_hours"] == "24/7" and s1["open_now"] is True and s1["next_change"] is None


def test_default_k_is_five_and_planned_or_closed_are_left_out(client):
    body = get(client)
    assert [r["id"] for r in body["results"]][-2:] == ["s2", "s4"]
    assert "s5" not in {r["id"] for r in body["results"]}  # planned: not a place to go
    assert len(get(client, status="open,planned")["results"]) == 4


def test_closed_stations_never_count_as_open(client):
    body = get(client, open_at="2026-11-04T12:00")  # a Wednesday noon, Asia/Shanghai
    assert [r["id"] for r in body["results"]] == ["s1", "s2", "s4"]
    everything = get(client, status="open,temporarily_closed,closed,planned", open_at="2026-11-04T12:00")
    assert [r["id"] for r in everything["results"]] == ["s1", "s2", "s4"]
    unfiltered = get(client, status="temporarily_closed,planned", k=5)
    assert {r["id"]: r["open_now"] for r in unfiltered["results"]} == {"s3": False, "s5": False}


def test_open_at_without_offset_is_beijing_time(client):
    local = get(client, open_at="2026-11-04T21:00")  # 21:00 in Beijing: s2 (08-20) closed
    utc = get(client, open_at="2026-11-04T13:00:00Z")  # the same instant
    assert [r["id"] for r in local["results"]] == [r["id"] for r in utc["results"]] == ["s1"]
    morning = get(client, open_at="2026-11-04T10:00", k=5)
    s2 = next(r for r in morning["results"] if r["id"] == "s2")
    assert s2["open_now"] is True and s2["next_change"].startswith("2026-11-04T20:00")


def test_open_now_filters_on_the_current_time(client):
    body = get(client, open_now="true")
    assert "s1" in {r["id"] for r in body["results"]}  # 24/7 is open whenever the test runs
    assert all(r["open_now"] is True for r in body["results"])
    assert all(r["status"] == "open" for r in body["results"])


def test_amenity_filter_requires_all(client):
    assert [r["id"] for r in get(client, amenity="microwave,toilet")["results"]] == ["s3"]
    assert {r["id"] for r in get(client, amenity="microwave")["results"]} == {"s1", "s3"}
    assert {r["id"] for r in get(client, amenity="微波炉")["results"]} == {"s1", "s3"}  # Chinese labels too


def test_radius(client):
    assert {r["id"] for r in get(client, radius_m=600)["results"]} == {"s1", "s3"}
    assert get(client, radius_m=10)["results"] == []


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_same_point_in_each_system_gives_the_same_answer(client, system):
    reference = get(client, k=5)["results"]
    lon, lat = (float(v) for v in crs.from_wgs84(*ORIGIN, system))
    body = get(client, lon=lon, lat=lat, crs=system, k=5)
    assert body["crs"] == system
    assert [r["id"] for r in body["results"]] == [r["id"] for r in reference]
    for got, want in zip(body["results"], reference, strict=True):
        assert got["distance_m"] == pytest.approx(want["distance_m"], abs=1.0)
        # the answer's coordinates are in the asked system
        want_lon, want_lat = crs.from_wgs84(want["lon"], want["lat"], system)
        assert crs.geodesic_distance_m(*crs.to_wgs84(got["lon"], got["lat"], system), want["lon"],
                                       want["lat"]) < 0.1
        assert (got["lon"], got["lat"]) == pytest.approx((float(want_lon), float(want_lat)), abs=1e-6)


def test_geojson(client):
    response = client.get("/api/v1/nearest", query_string={"lon": ORIGIN[0], "lat": ORIGIN[1], "format": "geojson",
                                                           "crs": "gcj02"})
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["data_version"] == 1
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert set(feature["properties"]) == FIELDS - {"lon", "lat"}


def test_stale_answers_say_so(app, client):
    state = app.extensions["locator"]
    get(client)  # loaded
    state.reload_seconds = 0.0

    def unreachable():
        raise OSError("store offline")

    state.store.data_version = unreachable
    body = get(client)
    assert body["stale"] is True and "stale_reason" in body and body["data_version"] == 1


def test_point_far_outside_the_service_area_is_422(client):
    body = assert_problem(client.get("/api/v1/nearest?lon=39.9&lat=116.4"), 400, param="lat")  # swapped
    body = assert_problem(client.get("/api/v1/nearest?lon=121.47&lat=31.23"), 422, param="lon,lat")  # Shanghai
    assert body["type"] == "/problems/outside-service-area" and "outside the service area" in body["detail"]
    # 20 km beyond the edge is still served (a courier at the city's edge)
    near_edge = client.get("/api/v1/nearest?lon=117.8&lat=40.0")
    assert near_edge.status_code == 200
