"""The courier page in a real headless Chromium, as a courier on a phone uses it (issue 3's acceptance)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import IN_CI, ORIGIN_X, ORIGIN_Y
from locator.crs import lonlat_to_work_xy, work_xy_to_lonlat
from locator.hours import TZ, is_open

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # in CI a missing playwright must fail, not skip (as a missing Chromium does)
    if IN_CI:
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)


def lonlat(dx_m: float, dy_m: float) -> dict[str, float]:
    """WGS-84 geolocation dx_m east and dy_m north of the grid origin."""
    lon, lat = work_xy_to_lonlat(ORIGIN_X + dx_m, ORIGIN_Y + dy_m)
    return {"longitude": float(lon), "latitude": float(lat), "accuracy": 10}


def station_xy(row: dict) -> tuple[float, float]:
    x, y = re.findall(r"[-\d.]+", str(row["geometry"]))
    return float(x), float(y)


def nearest_ids(rows: list[dict], lon: float, lat: float, *, open_now: bool = True,
                amenity: str | None = None) -> list[str]:
    """Brute force over the harness's stations: ids by distance from a WGS-84 point."""
    x, y = (float(v) for v in lonlat_to_work_xy(lon, lat))
    now = datetime.now(TZ)
    chosen = []
    for row in rows:
        if open_now and (row["status"] != "open" or is_open(str(row["opening_hours"]), now) is not True):
            continue
        if amenity and amenity not in str(row["amenities"]).split(";"):
            continue
        sx, sy = station_xy(row)
        chosen.append((math.hypot(sx - x, sy - y), row["id"]))
    return [station_id for _, station_id in sorted(chosen)]


def card_ids(page) -> list[str]:
    return page.locator("#results > li.card").evaluate_all("cards => cards.map(c => c.dataset.id)")


def card_distances(page) -> list[float]:
    return page.locator("#results > li.card").evaluate_all(
        "cards => cards.map(c => parseFloat(c.dataset.distanceM))")


def hash_point(page) -> tuple[float, float, str]:
    fragment = page.evaluate("window.location.hash").lstrip("#")
    lon, lat, crs = parse_qs(fragment)["at"][0].split(",")
    return float(lon), float(lat), crs


# --------------------------------------------------------------------------------------------------


def test_geolocated_courier_finds_filters_switches_language_and_navigates(live_server, browser_rows, new_page, shoot):
    position = lonlat(250, 350)  # 64 m from 甲站 (s1, open 24/7)
    page, watch = new_page(live_server.url, geolocation=position, permissions=["geolocation"])
    page.goto("/")

    cards = page.locator("#results > li.card")
    expect(cards.first).to_be_visible()
    expected = nearest_ids(browser_rows, position["longitude"], position["latitude"])
    assert card_ids(page) == expected[: len(card_ids(page))]
    assert card_ids(page)[0] == "s1"
    first = cards.first
    expect(first.locator(".name")).to_have_text("甲站")
    expect(first.locator(".state")).to_have_text("24 小时营业")
    expect(first.locator(".badge-demo")).to_have_text("示例数据")
    expect(first.locator(".distance")).to_contain_text("步行 1 分钟")
    expect(first.locator(".distance strong")).to_have_text(re.compile(r"^\d+ 米$"))
    assert [a for a in first.locator(".amenity-list li").evaluate_all("n => n.map(x => x.dataset.amenity)")] == [
        "drinking_water", "microwave"]
    expect(page.locator("#demo-banner")).to_be_visible()
    distances = card_distances(page)
    assert distances == sorted(distances)
    # Open now is on by default and was asked for.
    expect(page.locator("#open-now")).to_have_attribute("aria-pressed", "true")
    assert all("open_now=true" in url for url in watch.requests_to(r"/api/v1/nearest\?"))
    expect(page.locator(".leaflet-marker-icon.marker-station")).to_have_count(cards.count())
    shoot(page, "zh-nearest", full_page=True)

    # Filter: toilets only.
    page.locator('.chip[data-amenity="toilet"]').click()
    expect(page.locator('.chip[data-amenity="toilet"]')).to_have_attribute("aria-pressed", "true")
    toilets = nearest_ids(browser_rows, position["longitude"], position["latitude"], amenity="toilet")
    expect(cards.first).to_have_attribute("data-id", toilets[0])
    assert card_ids(page) == toilets
    for card in cards.all():
        expect(card.locator('.amenity-list li[data-amenity="toilet"]')).to_have_count(1)
    assert "amenity=toilet" in watch.requests_to(r"/api/v1/nearest\?")[-1]

    # Open now off: the temporarily closed 丙站 appears, labelled so.
    page.locator("#open-now").click()
    expect(page.locator('#results > li.card[data-id="s3"] .state')).to_have_text("暂停开放")
    assert "open_now" not in watch.requests_to(r"/api/v1/nearest\?")[-1]
    shoot(page, "zh-filtered", full_page=True)

    # Switch to English: the point and the filters come along.
    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Rest stations near you")
    expect(page.locator("#origin")).to_have_text("Distances from: Your position")
    expect(page.locator('.chip[data-amenity="toilet"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#open-now")).to_have_attribute("aria-pressed", "false")
    expect(page.locator('#results > li.card[data-id="s3"] .state')).to_have_text("Temporarily closed")
    expect(cards.first.locator(".badge-demo")).to_have_text("Demo data")
    expect(cards.first.locator(".distance")).to_contain_text("min walk")
    shoot(page, "en-filtered", full_page=True)

    # Back to the unfiltered list, in English, for the screenshot a courier would see first.
    page.locator('.chip[data-amenity="toilet"]').click()
    page.locator("#open-now").click()
    expect(cards.first).to_have_attribute("data-id", "s1")
    expect(cards.first.locator(".state")).to_have_text("Open 24 hours")
    shoot(page, "en-nearest")

    # Navigation: one tap opens Amap in a new tab; Amap itself is stubbed so nothing leaves the machine.
    links = cards.first.locator(".nav a")
    assert links.evaluate_all("a => a.map(x => x.dataset.app)") == ["amap", "baidu", "tencent", "apple", "geo"]
    amap = cards.first.locator('.nav a[data-app="amap"]')
    href = amap.get_attribute("href")
    assert href.startswith("https://uri.amap.com/")
    assert amap.get_attribute("target") == "_blank"
    assert "noopener" in amap.get_attribute("rel")
    page.context.route("https://uri.amap.com/**",
                       lambda route: route.fulfill(status=200, content_type="text/html", body="<p>amap stub</p>"))
    with page.context.expect_page() as opened:
        amap.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == href
    assert popup.evaluate("window.opener") is None
    assert page.url.startswith(live_server.url)
    popup.close()

    watch.assert_no_console_errors()
    watch.assert_no_dialogs()
    # The only other host asked for was the Amap stub above, fulfilled inside the browser.
    watch.assert_local_only(allow_hosts=("uri.amap.com",))
    assert len([u for u in watch.requests if "uri.amap.com" in u]) == 1


def test_tap_targets_are_at_least_48_px(live_server, new_page):
    page, watch = new_page(live_server.url, geolocation=lonlat(250, 350), permissions=["geolocation"])
    page.goto("/")
    expect(page.locator("#results > li.card").first).to_be_visible()
    small = page.evaluate("""() => Array.from(document.querySelectorAll(
            'a.lang-switch, .search button, .search input, .chip, .nav a'))
        .map(n => [n.id || n.className || n.tagName, n.getBoundingClientRect()])
        .filter(([, r]) => r.height < 48 || r.width < 48)
        .map(([name, r]) => name + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))""")
    assert small == []
    watch.assert_no_console_errors()
    watch.assert_local_only()


def test_accept_language_english_gives_english_page(live_server, new_page):
    page, watch = new_page(live_server.url, locale="en-US", geolocation=lonlat(250, 350),
                           permissions=["geolocation"])
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#results > li.card").first.locator(".name")).to_have_text("甲站")
    expect(page.locator("#lang-switch")).to_have_text("中文")
    watch.assert_no_console_errors()
    watch.assert_local_only()


def test_denied_geolocation_then_tap_the_map(live_server, browser_rows, new_page, shoot):
    page, watch = new_page(live_server.url)  # no permission granted: the browser refuses
    page.goto("/")
    expect(page.locator("#status")).to_have_text(re.compile("无法获取您的位置"))
    expect(page.locator("#results > li.card")).to_have_count(0)
    shoot(page, "zh-denied")

    box = page.locator("#map").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator("#results > li.card").first).to_be_visible()
    expect(page.locator("#origin")).to_have_text("距离从：已选位置")
    lon, lat, crs = hash_point(page)
    assert crs == "wgs84"
    expected = nearest_ids(browser_rows, lon, lat)
    assert card_ids(page) == expected[: len(card_ids(page))]
    shoot(page, "zh-tapped")
    watch.assert_no_console_errors()
    watch.assert_local_only()


def test_denied_geolocation_then_type_a_place(live_server, browser_rows, new_page, shoot):
    page, watch = new_page(live_server.url)
    page.goto("/")
    expect(page.locator("#status")).to_have_text(re.compile("无法获取您的位置"))

    page.locator("#search-input").fill("空港")
    suggestions = page.locator("#suggestions .suggestion")
    expect(suggestions.first.locator(".s-name")).to_have_text("空港街道")
    expect(suggestions).to_have_count(2)
    expect(suggestions.nth(1).locator(".s-name")).to_have_text("乙站")  # its address contains 空港
    expect(suggestions.nth(1).locator(".s-meta")).to_contain_text("空港工业区")
    shoot(page, "zh-suggestions")

    suggestions.first.click()
    expect(page.locator("#suggestions")).to_be_hidden()
    expect(page.locator("#origin")).to_have_text("距离从：空港街道")
    first = page.locator("#results > li.card").first
    expect(first).to_have_attribute("data-id", "s7")  # the public-report station 1.4 km away
    expect(first.locator(".badge-demo")).to_have_count(0)
    lon, lat, _ = hash_point(page)
    assert card_ids(page) == nearest_ids(browser_rows, lon, lat)[: len(card_ids(page))]

    # Enter takes the best match straight away.
    page.locator("#search-input").fill("甲站")
    page.locator("#search-input").press("Enter")
    expect(page.locator("#origin")).to_have_text("距离从：甲站")
    expect(first).to_have_attribute("data-id", "s1")
    expect(first.locator(".distance strong")).to_have_text("0 米")
    watch.assert_no_console_errors()
    watch.assert_local_only()


def test_station_named_with_markup_shows_as_text(live_server, browser_rows, new_page, shoot):
    xss_name = next(row["name"] for row in browser_rows if row["id"] == "s6")
    assert xss_name == "<img src=x onerror=alert(1)>"
    page, watch = new_page(live_server.url, geolocation=lonlat(-1990, 1990), permissions=["geolocation"])
    page.goto("/")
    first = page.locator("#results > li.card").first
    expect(first).to_have_attribute("data-id", "s6")
    expect(first.locator(".name")).to_have_text(xss_name)
    expect(first.locator(".address")).to_have_text("<script>alert(2)</script>")
    assert page.locator("#results img[src='x'], #results script").count() == 0
    assert page.locator(".leaflet-marker-icon[title]").first.get_attribute("title") == xss_name

    page.locator("#search-input").fill("<img")
    expect(page.locator("#suggestions .s-name").first).to_have_text(xss_name)
    assert page.locator("#suggestions img").count() == 0
    shoot(page, "xss")
    watch.assert_no_dialogs()
    watch.assert_no_console_errors()
    watch.assert_local_only()
    assert not watch.requests_to(r"/x$"), "the markup's image was requested"


def test_list_and_markers_work_when_the_tile_server_is_unreachable(make_live_server, new_page, shoot):
    server = make_live_server(TILES="osm")
    page, watch = new_page(server.url, geolocation=lonlat(250, 350), permissions=["geolocation"])
    page.goto("/")
    expect(page.locator("#results > li.card").first).to_have_attribute("data-id", "s1")
    expect(page.locator(".leaflet-marker-icon.marker-station").first).to_be_visible()
    expect(page.locator(".no-tiles-note")).to_have_text("底图加载失败：列表和标记照常可用。")
    tiles = watch.requests_to(r"^https://tile\.openstreetmap\.org/")
    assert tiles, "the page asked for no tiles"
    shoot(page, "tiles-unreachable")
    # Tile requests were made and refused inside the browser (the harness blocks other hosts).
    watch.assert_no_console_errors(allow_hosts=("tile.openstreetmap.org",))
    watch.assert_local_only(allow_hosts=("tile.openstreetmap.org",))
    assert {urlsplit(u).hostname for u in watch.requests if "127.0.0.1" not in u} == {"tile.openstreetmap.org"}


def test_amap_tiles_put_everything_in_gcj02(make_live_server, new_page):
    """Under GCJ-02 tiles the WGS-84 fix is converted once by the server; every later request says gcj02."""
    from locator.crs import wgs84_to_gcj02

    server = make_live_server(TILES="amap")
    position = lonlat(250, 350)
    page, watch = new_page(server.url, geolocation=position, permissions=["geolocation"])
    page.goto("/")
    expect(page.locator("#results > li.card").first).to_have_attribute("data-id", "s1")

    converts = watch.requests_to(r"/api/v1/convert\?")
    assert len(converts) == 1
    assert parse_qs(urlsplit(converts[0]).query)["from"] == ["wgs84"]
    assert parse_qs(urlsplit(converts[0]).query)["to"] == ["gcj02"]
    nearest = parse_qs(urlsplit(watch.requests_to(r"/api/v1/nearest\?")[-1]).query)
    assert nearest["crs"] == ["gcj02"]
    gcj_lon, gcj_lat = wgs84_to_gcj02(position["longitude"], position["latitude"])
    assert float(nearest["lon"][0]) == pytest.approx(float(gcj_lon), abs=1e-6)
    assert float(nearest["lat"][0]) == pytest.approx(float(gcj_lat), abs=1e-6)
    assert hash_point(page)[2] == "gcj02"

    page.locator("#search-input").fill("空港")
    expect(page.locator("#suggestions .suggestion").first).to_be_visible()
    assert parse_qs(urlsplit(watch.requests_to(r"/api/v1/places\?")[-1]).query)["crs"] == ["gcj02"]
    overview = watch.requests_to(r"/api/v1/stations\?")
    assert overview and all("crs=gcj02" in url for url in overview)
    watch.assert_no_console_errors(allow_hosts=("is.autonavi.com",))
    watch.assert_local_only(allow_hosts=("is.autonavi.com",))
