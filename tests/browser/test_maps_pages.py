"""/map, /planner and /embed (inside another origin's iframe) in a real headless Chromium, offline.

Uses the shared harness in tests/browser/conftest.py: every request to a host other than 127.0.0.1 is
recorded and aborted; tiles are off (TILES=none). Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest

from conftest import ORIGIN_X, ORIGIN_Y, frame

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
XSS_NAME = "<img src=x onerror=alert(1)>"


def street_rows() -> list[dict[str, object]]:
    """A 3 x 3 grid of streets 1 km apart around the origin (junctions share vertices), one named with markup."""
    stops = (-2500, -1000, 0, 1000, 2500)
    rows = []
    for i, offset in enumerate((-1000, 0, 1000)):
        across = ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + offset}" for x in stops)
        along = ", ".join(f"{ORIGIN_X + offset} {ORIGIN_Y + y}" for y in stops)
        rows.append({"id": f"h{i}", "name": f"横{i}街" if i else XSS_NAME, "highway": "residential",
                     "geometry": f"LINESTRING ({across})"})
        rows.append({"id": f"v{i}", "name": f"纵{i}路", "highway": "residential", "geometry": f"LINESTRING ({along})"})
    return rows


@pytest.fixture
def streets_server(make_live_server, browser_data, tmp_path):
    """The harness's data plus streets and a booth, in a store of this test's own."""
    import shutil

    from locator.store import GeoPackageStore

    path = tmp_path / "streets.gpkg"
    shutil.copyfile(browser_data, path)
    booth = {"id": "b1", "address": "采样亭 <b>1</b>", "status": "candidate", "source": "demo",
             "geometry": f"POINT ({ORIGIN_X + 200} {ORIGIN_Y - 300})"}
    GeoPackageStore(path).write({"streets": frame(street_rows()), "booths": frame([booth])}, mode="replace")
    return make_live_server(STORE=path)


def assert_clean(watch) -> None:
    watch.assert_no_console_errors()
    watch.assert_local_only()
    watch.assert_no_dialogs()


def test_full_map_draws_layers_and_opens_an_escaped_popup(new_page, streets_server, shoot):
    from playwright.sync_api import expect

    page, watch = new_page(streets_server.url, viewport=DESKTOP)
    page.goto("/map")
    expect(page.locator(".leaflet-control-layers")).to_contain_text("驿站")
    for name in ("核酸采样亭（候选）", "街道覆盖", "街道/乡镇覆盖率"):
        expect(page.locator(".leaflet-control-layers")).to_contain_text(name)
    expect(page.locator(".locator-legend").first).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()  # streets and the choropleth on canvas
    expect(page.locator(".leaflet-control-scale")).to_be_visible()
    expect(page.locator(".leaflet-control-locate")).to_be_visible()
    expect(page.locator(".leaflet-control-zoom-fullscreen")).to_be_visible()
    marker = page.get_by_role("img", name=XSS_NAME)
    expect(marker).to_be_visible()
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(XSS_NAME)  # the markup shows as text
    expect(popup).to_contain_text("<script>alert(2)</script>")
    expect(popup.locator("img")).to_have_count(0)
    expect(popup.get_by_role("link", name="高德")).to_have_attribute("href", re.compile(r"^https://uri\.amap\.com/marker"))
    shoot(page, "popup")
    assert_clean(watch)


def test_street_tooltip_names_street_and_distance(new_page, streets_server, shoot):
    from playwright.sync_api import expect

    page, watch = new_page(streets_server.url, viewport=DESKTOP)
    page.goto("/map?layers=streets&lang=en")
    expect(page.locator(".locator-legend")).to_contain_text("Distance to the nearest open station")
    # hover the middle of the south street (y = -1000 m) where no marker sits: the map is fitted to the grid
    box = page.locator(".folium-map").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    tooltip = page.locator(".leaflet-tooltip")
    expect(tooltip).to_contain_text(re.compile(r"Distance \d+(–\d+)? m"))
    shoot(page, "streets")
    assert_clean(watch)


def test_planner_table_sorts_and_draws_the_choropleth(new_page, streets_server, shoot):
    from playwright.sync_api import expect

    page, watch = new_page(streets_server.url, viewport=DESKTOP)
    page.goto("/planner?threshold_m=1000")
    rows = page.locator("#coverage-table tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("canvas").first).to_be_visible()
    header = page.locator("#coverage-table th").nth(2)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#siting-panel")).to_be_visible()
    shoot(page, "planner", full_page=True)
    assert_clean(watch)


def test_planner_sorts_many_rows(new_page, make_live_server, browser_data, tmp_path):
    """Three subdistricts with different coverage: the share column sorts both ways."""
    import shutil

    from playwright.sync_api import expect

    from locator.store import GeoPackageStore

    path = tmp_path / "three.gpkg"
    shutil.copyfile(browser_data, path)
    subs = []
    for i, (x0, name) in enumerate(((-2500, "西区"), (-500, "中区"), (1500, "东区"))):
        ring = (f"{ORIGIN_X + x0} {ORIGIN_Y - 2500}, {ORIGIN_X + x0 + 2000} {ORIGIN_Y - 2500}, "
                f"{ORIGIN_X + x0 + 2000} {ORIGIN_Y + 2500}, {ORIGIN_X + x0} {ORIGIN_Y + 2500}, "
                f"{ORIGIN_X + x0} {ORIGIN_Y - 2500}")
        subs.append({"code": f"11010500{i}000", "name": name, "district": "朝阳区", "approximate": False,
                     "source": "demo", "geometry": f"POLYGON (({ring}))"})
    GeoPackageStore(path).write({"streets": frame(street_rows()), "subdistricts": frame(subs)}, mode="replace")
    server = make_live_server(STORE=path)
    page, watch = new_page(server.url, viewport=DESKTOP)
    page.goto("/planner?threshold_m=700")
    cells = page.locator("#coverage-table tbody td.share")
    expect(cells).to_have_count(3)
    header = page.locator("#coverage-table th").nth(2).get_by_role("button")

    def shares() -> list[float]:
        return [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.dataset.value)")]

    header.click()
    expect(page.locator("#coverage-table th").nth(2)).to_have_attribute("aria-sort", "ascending")
    assert shares() == sorted(shares()) and len(set(shares())) > 1
    header.click()
    assert shares() == sorted(shares(), reverse=True)
    assert_clean(watch)


def test_embed_inside_another_origins_iframe(new_page, live_server, second_origin, shoot):
    from playwright.sync_api import expect

    second_origin.app.put("/partner.html", (
        '<!doctype html><html><body><h1>Partner</h1>'
        f'<iframe id="m" src="{live_server.url}/embed?layers=stations,subdistricts&lang=en" '
        'width="600" height="450" style="border:0"></iframe></body></html>'))
    page, watch = new_page(second_origin.url, viewport=DESKTOP)
    page.goto("/partner.html")
    inner = page.frame_locator("#m")
    expect(inner.locator(".leaflet-marker-icon").first).to_be_visible()
    expect(inner.locator(".mp-bar")).to_have_count(0)  # no site chrome
    marker = inner.get_by_role("img", name=XSS_NAME)
    expect(marker).to_be_visible()
    marker.click()
    expect(inner.locator(".leaflet-popup-content")).to_contain_text(XSS_NAME)
    shoot(page, "embed")
    assert_clean(watch)


def test_other_pages_refuse_to_be_framed(new_page, live_server, second_origin):
    from playwright.sync_api import expect

    second_origin.app.put("/partner.html", (
        f'<!doctype html><html><body><iframe id="m" src="{live_server.url}/map" width="600" height="450">'
        "</iframe></body></html>"))
    page, _watch = new_page(second_origin.url, viewport=DESKTOP)
    page.goto("/partner.html")
    expect(page.locator("#m")).to_be_attached()
    frame_ = page.frame_locator("#m")
    # Chromium replaces a refused frame with its own error page: the map never appears
    page.wait_for_load_state("load")
    expect(frame_.locator(".folium-map")).to_have_count(0)


def test_planner_siting_panel_draws_chosen_booths(new_page, make_live_server, browser_data, tmp_path, shoot):
    """The scenario panel asks POST /api/v1/siting and shows the chosen booths with before/after coverage."""
    import shutil

    from playwright.sync_api import expect

    from locator.store import GeoPackageStore

    path = tmp_path / "siting.gpkg"
    shutil.copyfile(browser_data, path)
    booths = [{"id": f"b{i}", "address": f"<b>亭{i}</b>", "status": "candidate", "source": "demo",
               "geometry": f"POINT ({ORIGIN_X + x} {ORIGIN_Y + y})"}
              for i, (x, y) in enumerate(((2000, -1000), (-2000, -1000), (1000, 2000)))]
    GeoPackageStore(path).write({"streets": frame(street_rows()), "booths": frame(booths)}, mode="replace")
    server = make_live_server(STORE=path)
    page, watch = new_page(server.url, viewport=DESKTOP)
    page.goto("/planner?threshold_m=500")
    page.locator("#siting-form input[name=p]").fill("2")
    page.locator("#siting-form button").click()
    expect(page.locator("#siting-status")).to_contain_text("已选")
    expect(page.locator("#siting-table")).to_be_visible()
    expect(page.locator("#siting-table tbody tr").first).to_be_visible()
    shoot(page, "siting", full_page=True)
    assert_clean(watch)
