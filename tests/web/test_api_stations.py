"""GET /api/v1/stations, /api/v1/stations/<id>, /api/v1/booths: filters, pages, formats, coordinate systems."""

from __future__ import annotations

import csv
import io

import pytest

from conftest import at, frame
from locator import crs


@pytest.fixture
def booths_app(tmp_path, stations):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    booths = frame([
        {"id": "b1", "address": "东路1号", "district": "朝阳区", "subdistrict": "110105001000", "status": "candidate",
         "station_id": "", "notes": "", "source": "demo", "geometry": at(100, 100)},
        {"id": "b2", "address": "西路2号", "district": "朝阳区", "subdistrict": "110105002000", "status": "converted",
         "station_id": "s1", "notes": "", "source": "demo", "geometry": at(300, 400)},
        {"id": "b3", "address": "南路3号", "district": "朝阳区", "subdistrict": "110105001000", "status": "removed",
         "station_id": "", "notes": "", "source": "demo", "geometry": at(5000, 5000)},
    ])
    path = tmp_path / "booths.gpkg"
    GeoPackageStore(path).write({"stations": stations, "booths": booths})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none"})


def test_list_all(client):
    body = client.get("/api/v1/stations").get_json()
    assert body["total"] == 5 and body["count"] == 5 and body["data_version"] == 1
    assert [s["id"] for s in body["items"]] == ["s1", "s2", "s3", "s4", "s5"]  # ordered by id
    assert "next" not in body["links"]
    assert body["items"][0]["amenities"] == ["drinking_water", "microwave"]


def test_pages_follow_next_links(client):
    seen, url, pages = [], "/api/v1/stations?limit=2", 0
    while url:
        response = client.get(url)
        body = response.get_json()
        seen += [s["id"] for s in body["items"]]
        url = body["links"].get("next")
        if url:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
        pages += 1
    assert seen == ["s1", "s2", "s3", "s4", "s5"] and pages == 3


def test_filters(client):
    def ids(query):
        return [s["id"] for s in client.get(f"/api/v1/stations?{query}").get_json()["items"]]

    assert ids("status=open") == ["s1", "s2", "s4"]
    assert ids("status=planned,temporarily_closed") == ["s3", "s5"]
    assert ids("amenity=toilet") == ["s2", "s3"]
    assert ids("amenity=toilet,microwave") == ["s3"]
    assert ids("subdistrict=110105001000") == []


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_bbox_is_in_the_asked_system(client, system):
    # a box around s1 only (300 m east, 400 m north of the origin), given in `system`
    lon, lat = crs.work_xy_to_lonlat([250 + 450_000, 350 + 450_000], [4_420_350, 4_420_450], system=system)
    bbox = f"{lon[0]},{lat[0]},{lon[1]},{lat[1]}"
    body = client.get(f"/api/v1/stations?bbox={bbox}&crs={system}").get_json()
    assert [s["id"] for s in body["items"]] == ["s1"]
    # the same box read as WGS-84 misses: GCJ-02 and BD-09 are hundreds of metres off
    if system != "wgs84":
        assert client.get(f"/api/v1/stations?bbox={bbox}").get_json()["items"] == []


def test_csv(client):
    response = client.get("/api/v1/stations?format=csv&crs=gcj02&limit=2")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["id"] for r in rows] == ["s1", "s2"]
    assert rows[0]["amenities"] == "drinking_water;microwave"
    assert "next" in response.headers["Link"]
    assert response.headers["X-Total-Count"] == "5"
    wgs = client.get("/api/v1/stations/s1").get_json()["item"]
    gcj = crs.from_wgs84(wgs["lon"], wgs["lat"], "gcj02")
    assert (float(rows[0]["lon"]), float(rows[0]["lat"])) == pytest.approx((float(gcj[0]), float(gcj[1])), abs=1e-6)


def test_geojson_listing(client):
    response = client.get("/api/v1/stations?format=geojson&limit=3")
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3 and body["total"] == 5
    assert body["features"][0]["geometry"]["type"] == "Point" and body["links"]["next"]


def test_one_station(client):
    body = client.get("/api/v1/stations/s4?crs=bd09").get_json()
    assert body["item"]["name"] == '丁站 "<b>&' and body["crs"] == "bd09"
    feature = client.get("/api/v1/stations/s4?format=geojson").get_json()
    assert feature["type"] == "Feature" and feature["id"] == "s4"


def test_booths(booths_app):
    client = booths_app.test_client()
    body = client.get("/api/v1/booths").get_json()
    assert [b["id"] for b in body["items"]] == ["b1", "b2", "b3"]
    assert [b["id"] for b in client.get("/api/v1/booths?status=candidate,converted").get_json()["items"]] == [
        "b1", "b2"]
    assert [b["id"] for b in client.get("/api/v1/booths?subdistrict=110105001000").get_json()["items"]] == [
        "b1", "b3"]
    assert client.get("/api/v1/booths/b2").get_json()["item"]["station_id"] == "s1"
    assert client.get("/api/v1/booths?format=csv").get_data(as_text=True).startswith("id,address,")
