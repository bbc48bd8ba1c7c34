"""Every parameter error of the API: a 400 (or 422) application/problem+json naming the parameter."""

from __future__ import annotations

import pytest

from conftest import assert_problem
from locator.model import AMENITY_KEYS

POINT = "lon=116.41&lat=39.93"

NEAREST_ERRORS = [
    ("lat=39.93", "lon"),  # missing
    ("lon=116.41", "lat"),
    ("lon=abc&lat=39.93", "lon"),
    ("lon=nan&lat=39.93", "lon"),
    ("lon=inf&lat=39.93", "lon"),
    ("lon=1e400&lat=39.93", "lon"),
    ("lon=181&lat=39.93", "lon"),
    ("lon=116.41&lat=-91", "lat"),
    ("lon=&lat=39.93", "lon"),
    ("lon=116.41&lon=116.42&lat=39.93", "lon"),  # given twice
    (f"{POINT}&crs=utm", "crs"),
    (f"{POINT}&k=0", "k"),
    (f"{POINT}&k=51", "k"),
    (f"{POINT}&k=2.5", "k"),
    (f"{POINT}&k=99999999999999999999", "k"),
    (f"{POINT}&radius_m=0", "radius_m"),
    (f"{POINT}&radius_m=-5", "radius_m"),
    (f"{POINT}&radius_m=50001", "radius_m"),
    (f"{POINT}&radius_m=far", "radius_m"),
    (f"{POINT}&amenity=sauna", "amenity"),
    (f"{POINT}&amenity=,", "amenity"),
    (f"{POINT}&amenity=" + ",".join(["toilet"] * 51), "amenity"),
    (f"{POINT}&open_now=maybe", "open_now"),
    (f"{POINT}&open_at=tomorrow", "open_at"),
    (f"{POINT}&open_at=2026-13-01T10:00", "open_at"),
    (f"{POINT}&open_now=true&open_at=2026-11-04T10:00", "open_at"),
    (f"{POINT}&status=gone", "status"),
    (f"{POINT}&format=xml", "format"),
    (f"{POINT}&format=csv", "format"),  # csv is for listings, not for nearest
    (f"{POINT}&radius_m=" + "1" * 1001, "radius_m"),  # too long
    (f"{POINT}&bbox=1,2,3,4", "bbox"),  # a listing parameter: unknown here
    (f"{POINT}&lng=116.4", "lng"),
]


@pytest.mark.parametrize(("query", "param"), NEAREST_ERRORS)
def test_nearest_parameter_errors(client, query, param):
    body = assert_problem(client.get(f"/api/v1/nearest?{query}"), 400, param=param)
    assert param.split(",")[0] in body["detail"] or body["type"] == "/problems/unknown-parameter"


def test_unknown_amenity_lists_the_valid_ones(client):
    body = assert_problem(client.get(f"/api/v1/nearest?{POINT}&amenity=microwave,sauna"), 400, param="amenity")
    assert "sauna" in body["detail"]
    assert body["valid"] == list(AMENITY_KEYS)


def test_unknown_parameters_are_named(client):
    body = assert_problem(client.get(f"/api/v1/nearest?{POINT}&limit=3&foo=1"), 400, param="limit")
    assert body["type"] == "/problems/unknown-parameter"
    assert body["unknown"] == ["limit", "foo"] and "lon" in body["valid"]


def test_outside_service_area(client):
    body = assert_problem(client.get("/api/v1/nearest?lon=121.47&lat=31.23"), 422, param="lon,lat")
    assert body["service_area"] == [115.4, 39.4, 117.6, 41.1]


LISTING_ERRORS = [
    ("bbox=1,2,3", "bbox"),
    ("bbox=116.5,39.8,116.3,40.0", "bbox"),  # min > max
    ("bbox=116.3,39.8,116.5,nan", "bbox"),
    ("bbox=116.3,39.8,200,40", "bbox"),
    ("crs=mars", "crs"),
    ("amenity=sauna", "amenity"),
    ("status=gone", "status"),
    ("subdistrict=12345", "subdistrict"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("offset=-1", "offset"),
    ("offset=1000001", "offset"),
    ("format=xml", "format"),
    ("k=5", "k"),
]


@pytest.mark.parametrize(("query", "param"), LISTING_ERRORS)
def test_stations_parameter_errors(client, query, param):
    assert_problem(client.get(f"/api/v1/stations?{query}"), 400, param=param)


@pytest.mark.parametrize(("query", "param"), [("status=open", "status"), ("amenity=toilet", "amenity"),
                                              ("limit=x", "limit"), ("bbox=a,b,c,d", "bbox")])
def test_booths_parameter_errors(client, query, param):
    assert_problem(client.get(f"/api/v1/booths?{query}"), 400, param=param)  # booths have other statuses


@pytest.mark.parametrize("url", ["/api/v1/stations/s1?crs=x", "/api/v1/stations/s1?k=1", "/api/v1/booths/b1?x=1",
                                 "/api/v1/openapi.json?x=1"])
def test_single_record_parameter_errors(client, url):
    assert_problem(client.get(url), 400)


@pytest.mark.parametrize(("url", "param"), [("/api/v1/stations/nope", "station_id"),
                                            ("/api/v1/booths/nope", "booth_id")])
def test_missing_record_is_404(client, url, param):
    assert_problem(client.get(url), 404, param=param)
