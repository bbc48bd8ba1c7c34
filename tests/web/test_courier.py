"""The courier page's HTML, language choice, config block, and its place-search and convert routes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem, frame, station_rows
from locator.crs import wgs84_to_gcj02, work_xy_to_lonlat
from locator.web import i18n

STATIC = Path(__file__).resolve().parents[2] / "locator" / "web" / "static"


def subdistrict_rows() -> list[dict[str, object]]:
    """空港街道: a 2 km square north-east of the grid origin."""
    x0, y0 = ORIGIN_X + 1000, ORIGIN_Y + 1000
    square = f"POLYGON (({x0} {y0}, {x0 + 2000} {y0}, {x0 + 2000} {y0 + 2000}, {x0} {y0 + 2000}, {x0} {y0}))"
    return [{"code": "110113008000", "name": "空港街道", "district": "顺义区", "approximate": False,
             "source": "demo", "geometry": square}]


@pytest.fixture
def place_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    rows = station_rows()
    rows[1] = {**rows[1], "address": "顺义区空港工业区天竺路 1 号"}
    store_path = tmp_path / "places.gpkg"
    GeoPackageStore(store_path).write({"stations": frame(rows), "subdistricts": frame(subdistrict_rows())})
    return create_app({"STORE": str(store_path), "TESTING": True, "TILES": "none"})


def page_config(response) -> dict:
    html = response.get_data(as_text=True)
    match = re.search(r'<script type="application/json" id="locator-config">(.*?)</script>', html, re.S)
    assert match, "the page has no config block"
    return json.loads(match.group(1))


# --- the page -------------------------------------------------------------------------------------


def test_page_is_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "附近的暖心驿站" in html
    assert response.headers["Content-Language"] == "zh-CN"
    assert "Accept-Language" in response.headers["Vary"]
    assert page_config(response)["lang"] == "zh"


@pytest.mark.parametrize(
    ("query", "accept", "default", "expected"),
    [
        ("", "", "zh", "zh"),
        ("", "en-US,en;q=0.9", "zh", "en"),
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "en", "zh"),
        ("", "fr-FR", "en", "en"),
        ("?lang=en", "zh-CN", "zh", "en"),
        ("?lang=zh", "en-US", "en", "zh"),
        ("?lang=xx", "en-US", "zh", "en"),  # an unknown lang= falls through, never fails the page
    ],
)
def test_language_is_chosen_from_query_then_header_then_setting(tmp_path, stations, query, accept, default,
                                                                 expected):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    store_path = tmp_path / "lang.gpkg"
    GeoPackageStore(store_path).write({"stations": stations})
    app = create_app({"STORE": str(store_path), "TESTING": True, "TILES": "none", "LANGUAGE": default})
    headers = {"Accept-Language": accept} if accept else {}
    config = page_config(app.test_client().get("/" + query, headers=headers))
    assert config["lang"] == expected
    assert config["strings"]["app_title"] == i18n.t("app_title", expected)


def test_english_page_links_back_to_chinese(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Rest stations near you" in html
    assert 'href="/?lang=zh"' in html


def test_every_string_has_both_languages_and_placeholders_agree():
    for key, (zh, en) in i18n.STRINGS.items():
        assert zh and en, key
        assert set(re.findall(r"{\w+}", zh)) == set(re.findall(r"{\w+}", en)), key


def test_config_names_amenities_with_icons_that_exist(client):
    config = page_config(client.get("/?lang=en"))
    from locator.model import AMENITY_KEYS

    assert [a["key"] for a in config["amenities"]] == list(AMENITY_KEYS)
    assert config["amenities"][0]["label"] == "Drinking water"
    for amenity in config["amenities"]:
        assert (STATIC / "icons" / f"{amenity['key']}.svg").exists(), amenity["key"]
        assert amenity["icon"] == f"/static/icons/{amenity['key']}.svg"


def test_page_has_no_inline_script_code_or_handlers(client):
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" not in attrs or not body.strip()
    assert "//cdn" not in html and "https://" not in html.split('id="locator-config"')[0]


def test_config_block_cannot_be_closed_by_data(tmp_path, stations):
    """tojson escapes < > & so no value can end the JSON block early."""
    html = page_html(tmp_path, stations, tiles="none")
    block = html.split('id="locator-config">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block


def page_html(tmp_path, stations, *, tiles: str) -> str:
    from locator.store import GeoPackageStore
    from locator.web import create_app

    store_path = tmp_path / f"tiles-{tiles}.gpkg"
    GeoPackageStore(store_path).write({"stations": stations})
    app = create_app({"STORE": str(store_path), "TESTING": True, "TILES": tiles, "TIANDITU_KEY": "k123"})
    return app.test_client().get("/").get_data(as_text=True)


@pytest.mark.parametrize(("tiles", "crs", "host"), [
    ("none", "wgs84", None),
    ("osm", "wgs84", "tile.openstreetmap.org"),
    ("amap", "gcj02", "is.autonavi.com"),
    ("tianditu", "wgs84", "tianditu.gov.cn"),
])
def test_display_crs_follows_the_tiles(tmp_path, stations, tiles, crs, host):
    html = page_html(tmp_path, stations, tiles=tiles)
    config = json.loads(html.split('id="locator-config">', 1)[1].split("</script>", 1)[0])
    assert config["crs"] == crs
    if host is None:
        assert config["tiles"] is None
    else:
        assert host in config["tiles"]["url"]
    if tiles == "tianditu":
        assert "tk=k123" in config["tiles"]["url"] and "tk=k123" in config["tiles"]["overlay_url"]


def test_initial_bounds_cover_the_stations_in_the_display_crs(tmp_path, stations):
    html = page_html(tmp_path, stations, tiles="amap")
    config = json.loads(html.split('id="locator-config">', 1)[1].split("</script>", 1)[0])
    (south, west), (north, east) = config["bounds"]
    lon, lat = work_xy_to_lonlat([ORIGIN_X - 300, ORIGIN_X + 3000], [ORIGIN_Y - 400, ORIGIN_Y + 4000],
                                 system="gcj02")
    assert (west, south, east, north) == pytest.approx((lon[0], lat[0], lon[1], lat[1]), abs=1e-9)


def test_static_assets_are_served_by_the_app(client):
    for path in ("/static/courier.js", "/static/courier.css", "/static/vendor/leaflet/leaflet.js",
                 "/static/vendor/leaflet/leaflet.css", "/static/icons/locate.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_script_builds_no_html_from_strings():
    source = (STATIC / "courier.js").read_text(encoding="utf-8")
    for sink in (".innerHTML", ".outerHTML", ".insertAdjacentHTML", "document.write", "bindPopup("):
        assert sink not in source, sink
    assert "eval(" not in source and "new Function" not in source


# --- place search ---------------------------------------------------------------------------------


def test_places_finds_subdistrict_and_addresses_by_partial_chinese(place_app):
    body = place_app.test_client().get("/api/v1/places?q=空港").get_json()
    kinds_names = [(r["kind"], r["name"]) for r in body["results"]]
    assert kinds_names[0] == ("subdistrict", "空港街道")
    assert ("station", "乙站") in kinds_names  # its address contains 空港
    assert len(kinds_names) == 2
    assert body["crs"] == "wgs84"
    assert body["data_version"] == 1


def test_places_finds_station_by_name_first(place_app):
    body = place_app.test_client().get("/api/v1/places?q=甲").get_json()
    assert [r["id"] for r in body["results"]] == ["s1"]
    lon, lat = work_xy_to_lonlat(ORIGIN_X + 300, ORIGIN_Y + 400)
    assert (body["results"][0]["lon"], body["results"][0]["lat"]) == pytest.approx((float(lon), float(lat)),
                                                                                    abs=1e-6)


def test_places_answers_in_the_asked_crs(place_app):
    client = place_app.test_client()
    wgs = client.get("/api/v1/places?q=甲站&crs=wgs84").get_json()["results"][0]
    gcj = client.get("/api/v1/places?q=甲站&crs=gcj02").get_json()["results"][0]
    expected = wgs84_to_gcj02(wgs["lon"], wgs["lat"])
    assert (gcj["lon"], gcj["lat"]) == pytest.approx((float(expected[0]), float(expected[1])), abs=1e-6)


def test_places_subdistrict_point_lies_inside_it(place_app):
    result = place_app.test_client().get("/api/v1/places?q=空港街道").get_json()["results"][0]
    lon_min, lat_min = work_xy_to_lonlat(ORIGIN_X + 1000, ORIGIN_Y + 1000)
    lon_max, lat_max = work_xy_to_lonlat(ORIGIN_X + 3000, ORIGIN_Y + 3000)
    assert lon_min < result["lon"] < lon_max and lat_min < result["lat"] < lat_max


def test_places_matches_full_width_and_case_folded_text(place_app):
    client = place_app.test_client()
    assert client.get("/api/v1/places?q=天竺路 1 号").get_json()["results"][0]["id"] == "s2"
    assert client.get("/api/v1/places?q=天竺路　１").get_json()["results"][0]["id"] == "s2"  # full-width


def test_places_treats_markup_as_plain_text(place_app):
    body = place_app.test_client().get("/api/v1/places?q=<b>").get_json()
    assert [r["id"] for r in body["results"]] == ["s4"]
    assert body["results"][0]["name"] == '丁站 "<b>&'


def test_places_finds_nothing_as_an_empty_list(place_app):
    assert place_app.test_client().get("/api/v1/places?q=不存在的地方").get_json()["results"] == []


@pytest.mark.parametrize(("query", "param"), [
    ("", "q"), ("?q=", "q"), ("?q=%20%20", "q"), ("?q=" + "长" * 101, "q"),
    ("?q=甲&crs=utm", "crs"), ("?q=甲&limit=0", "limit"), ("?q=甲&limit=99", "limit"),
    ("?q=甲&limit=two", "limit"), ("?q=甲&bogus=1", "bogus"), ("?q=甲&q=乙", "q"),
])
def test_places_rejects_bad_parameters(place_app, query, param):
    assert_problem(place_app.test_client().get("/api/v1/places" + query), 400, param=param)


def test_places_limit(place_app):
    body = place_app.test_client().get("/api/v1/places?q=站&limit=2").get_json()
    assert len(body["results"]) == 2


# --- convert --------------------------------------------------------------------------------------


def test_convert_wgs84_to_gcj02_uses_locator_crs(client):
    body = client.get("/api/v1/convert?lon=116.4&lat=39.9&from=wgs84&to=gcj02").get_json()
    lon, lat = wgs84_to_gcj02(116.4, 39.9)
    assert (body["lon"], body["lat"]) == pytest.approx((float(lon), float(lat)), abs=1e-7)
    assert body["crs"] == "gcj02"


@pytest.mark.parametrize(("query", "param"), [
    ("lat=39.9&from=wgs84&to=gcj02", "lon"),
    ("lon=abc&lat=39.9&from=wgs84&to=gcj02", "lon"),
    ("lon=116&lat=95&from=wgs84&to=gcj02", "lat"),
    ("lon=nan&lat=39&from=wgs84&to=gcj02", "lon"),
    ("lon=116&lat=39&from=utm&to=gcj02", "from"),
    ("lon=116&lat=39&from=wgs84", "to"),
    ("lon=116&lat=39&from=wgs84&to=gcj02&x=1", "x"),
])
def test_convert_rejects_bad_parameters(client, query, param):
    assert_problem(client.get("/api/v1/convert?" + query), 400, param=param)


@pytest.mark.parametrize(("settings", "expected"), [
    ({"TILES": "tianditu", "TIANDITU_KEY": ""}, None),  # a key is needed: no base map rather than broken tiles
    ({"TILES": "mapbox"}, None),
    ({"TILES": " OSM "}, "osm"),
])
def test_tile_layer_falls_back_to_none(settings, expected):
    from locator.web.courier import tile_layer

    layer = tile_layer(settings)
    assert (layer.name if layer else None) == expected
