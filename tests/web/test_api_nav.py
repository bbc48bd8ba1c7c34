"""Navigation links in /api/v1/nearest answers: parse each URL and check its coordinates are in the app's system."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conftest import ORIGIN_X, ORIGIN_Y
from locator import crs
from locator.core.navigation import NAV_SYSTEMS, nav_links


@pytest.fixture
def first(client):
    lon, lat = crs.work_xy_to_lonlat(ORIGIN_X, ORIGIN_Y)
    body = client.get(f"/api/v1/nearest?lon={float(lon)}&lat={float(lat)}&k=1&amenity=drinking_water").get_json()
    result = body["results"][0]
    assert result["id"] == "s1"
    return result  # lon/lat in WGS-84 (the default crs)


def lonlat_in(link: str, app: str) -> tuple[float, float]:
    """The coordinates a link carries, as (lon, lat) in whatever system it uses."""
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    if app == "amap":
        assert parts.netloc == "uri.amap.com" and query["coordinate"] == ["gaode"]
        lon, lat = query["position"][0].split(",")
    elif app == "baidu":
        assert parts.netloc == "api.map.baidu.com" and query["coord_type"] == ["bd09ll"]
        lat, lon = query["location"][0].split(",")
    elif app == "tencent":
        assert parts.netloc == "apis.map.qq.com" and query["referer"]
        fields = dict(item.split(":", 1) for item in query["marker"][0].split(";"))
        lat, lon = fields["coord"].split(",")
    elif app == "apple":
        assert parts.netloc == "maps.apple.com"
        lat, lon = query["ll"][0].split(",")
    else:
        assert parts.scheme == "geo"
        lat, lon = parts.path.split(",")
        assert unquote(query["q"][0]).startswith(f"{lat},{lon}(")
    return float(lon), float(lat)


@pytest.mark.parametrize("map_app", sorted(NAV_SYSTEMS))
def test_link_coordinates_are_in_the_apps_system(first, map_app):
    lon, lat = lonlat_in(first["nav"][map_app], map_app)
    want_lon, want_lat = crs.from_wgs84(first["lon"], first["lat"], NAV_SYSTEMS[map_app])
    assert (lon, lat) == pytest.approx((float(want_lon), float(want_lat)), abs=2e-6)
    # and it is the station: back in WGS-84 it lies within a metre of it
    back = crs.to_wgs84(lon, lat, NAV_SYSTEMS[map_app])
    assert crs.geodesic_distance_m(*back, first["lon"], first["lat"]) < 1.0


def test_wrong_system_would_be_hundreds_of_metres_off(first):
    # guards the test above: reading the Amap link as WGS-84 lands far from the station
    lon, lat = lonlat_in(first["nav"]["amap"], "amap")
    assert crs.geodesic_distance_m(lon, lat, first["lon"], first["lat"]) > 100


def test_expected_systems():
    assert NAV_SYSTEMS == {"amap": "gcj02", "baidu": "bd09", "tencent": "gcj02", "apple": "gcj02", "geo": "wgs84"}


def test_names_with_separators_stay_inside_their_field():
    links = nav_links(116.4, 39.9, name="站;title:x (A)", address="路:1号")
    marker = parse_qs(urlsplit(links["tencent"]).query)["marker"][0]
    assert [item.split(":", 1)[0] for item in marker.split(";")] == ["coord", "title", "addr"]
    assert parse_qs(urlsplit(links["amap"]).query)["name"] == ["站;title:x (A)"]
    assert lonlat_in(links["geo"], "geo") == pytest.approx((116.4, 39.9))
