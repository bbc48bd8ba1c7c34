"""/map, /planner and /embed (inside another origin's iframe) in a real headless Chromium, offline.

Uses the shared harness in tests/browser/conftest.py: every request to a host other than 127.0.0.1 is
recorded and aborted; tiles are off (TILES=none). Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path

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


def wait_until_settled(page) -> None:  # noqa: ANN001
    """Wait for the map to finish zooming or panning (to fit its data, or a siting result): while it moves,
    what it draws sits away from where ``latLngToContainerPoint`` says it will settle."""
    page.wait_for_function("""() => { const m = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);
                                      return m && !m._animatingZoom && !(m._panAnim && m._panAnim._inProgress)
                                             && !document.querySelector('.leaflet-zoom-anim'); }""")


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
    # hover the south street (y = -1000 m) between x = -2500 and -1000 m, where no marker sits, at the pixel the
    # map itself puts that point (a fraction of the box would miss a 3 px line by a pixel or two)
    from locator.crs import work_xy_to_lonlat

    lon, lat = work_xy_to_lonlat(ORIGIN_X - 1750, ORIGIN_Y - 1000)
    wait_until_settled(page)
    point = page.evaluate("""p => { const m = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);
                                    const q = m.latLngToContainerPoint(p); return [q.x, q.y]; }""",
                          [float(lat), float(lon)])
    box = page.locator(".folium-map").bounding_box()
    # approach the line across a few pixels, as a hand would: Leaflet's canvas opens the tooltip on the mousemove
    # that enters the line
    page.mouse.move(box["x"] + point[0], box["y"] + point[1] - 12)
    page.mouse.move(box["x"] + point[0], box["y"] + point[1], steps=6)
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


def east_grid_rows() -> list[dict[str, object]]:
    """A street grid 5-7 km east of the stations (no path to them: nothing there is covered): three streets
    east-west (y = -500, 0, 500) and five north-south (x = 5000 ... 7000), so every segment between junctions
    is 500 m long and measured at its middle, 250 m from a junction."""
    rows = []
    for j, y in enumerate((-500, 0, 500)):
        across = ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x in range(5000, 7001, 500))
        rows.append({"id": f"e{j}", "name": f"东{j}街", "highway": "residential", "geometry": f"LINESTRING ({across})"})
    for k, x in enumerate(range(5000, 7001, 500)):
        along = ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for y in (-500, 0, 500))
        rows.append({"id": f"n{k}", "name": f"南北{k}路", "highway": "residential",
                     "geometry": f"LINESTRING ({along})"})
    return rows


# Booths on junctions of the east grid: at a threshold of 500 m a booth covers the four segments around it
# (their middles are 250 m away). b1 and b2 share nothing, so p=2 takes both (4 km); p=1 takes one of them.
SITING_BOOTHS = {"b1": (5500, 0), "b2": (6500, 0), "b3": (6000, 500), "b9": (-200, 300)}


@pytest.fixture
def siting_server(make_live_server, browser_data, tmp_path):
    import shutil

    from locator.store import GeoPackageStore

    path = tmp_path / "siting.gpkg"
    shutil.copyfile(browser_data, path)
    booths = [{"id": bid, "address": f"<b>亭{bid}</b>", "status": "candidate", "source": "demo",
               "geometry": f"POINT ({ORIGIN_X + x} {ORIGIN_Y + y})"} for bid, (x, y) in SITING_BOOTHS.items()]
    GeoPackageStore(path).write({"streets": frame(street_rows() + east_grid_rows()), "booths": frame(booths)},
                                mode="replace")
    return make_live_server(STORE=path)


PIN_SHIFT_PX = {"a": -9, "b": 9}  # siting_panel.js draws A's badge left of the booth, B's right


def _pins_on_the_map(page, slot: str) -> list[str]:
    """Ids of the slot's pins, each checked to sit where the map draws its booth's lon/lat (within 2 px, after the
    badge's sideways shift)."""
    from locator.crs import work_xy_to_lonlat

    wait_until_settled(page)
    pins = page.locator(f".leaflet-marker-pane .siting-pin-{slot} .sc-pin")
    ids = pins.evaluate_all("ps => ps.map(p => p.dataset.booth)")
    name = page.evaluate("JSON.parse(document.getElementById('locator-config').textContent).map")
    box = page.locator(".folium-map").bounding_box()
    for i, booth_id in enumerate(ids):
        x, y = SITING_BOOTHS[booth_id]
        lon, lat = work_xy_to_lonlat(ORIGIN_X + x, ORIGIN_Y + y)
        expected = page.evaluate(f"(p => {{ const q = window[{name!r}].latLngToContainerPoint(p); "
                                 "return [q.x, q.y]; })", [float(lat), float(lon)])
        pin = pins.nth(i).bounding_box()
        centre = (pin["x"] + pin["width"] / 2 - box["x"] - PIN_SHIFT_PX[slot], pin["y"] + pin["height"] / 2 - box["y"])
        assert abs(centre[0] - expected[0]) <= 2 and abs(centre[1] - expected[1]) <= 2, (booth_id, centre, expected)
        assert 0 <= centre[0] <= box["width"] and 0 <= centre[1] <= box["height"], "pin outside the visible map"
    return ids


def test_planner_siting_panel_two_scenarios_side_by_side_with_export(new_page, siting_server, shoot):
    """Scenario A (p=1) and B (p=2): the chosen booths are pins on the map where the booths are, each panel shows
    covered share before and after, A and B sit side by side, and each exports (CSV, GeoJSON) as does the pair."""
    import csv
    import io
    import json

    from playwright.sync_api import expect

    page, watch = new_page(siting_server.url, viewport=DESKTOP)
    page.goto("/planner?threshold_m=500")
    form = page.locator("#siting-form")
    form.locator("input[name=p]").fill("1")
    form.locator("button").click()
    expect(page.locator("#siting-status")).to_contain_text("方案 A: 已选 1 个采样亭")
    a = page.locator("#scenario-a")
    expect(a).to_be_visible()
    expect(page.locator("#scenario-b")).to_be_hidden()
    expect(a.locator(".sc-booths li")).to_have_count(1)
    expect(page.locator(".siting-pin-a")).to_have_count(1)
    [chosen_a] = _pins_on_the_map(page, "a")
    assert chosen_a in {"b1", "b2"}
    expect(a.locator(".sc-booths li")).to_contain_text(f"{chosen_a} · <b>亭{chosen_a}</b>")  # markup as text
    before, after = (float(a.locator(".sc-totals").get_attribute(f"data-{k}")) for k in ("before", "after"))
    assert 0 < before < after < 1  # the east grid was uncovered; one booth covers 2 km of it
    expect(a.locator(".sc-totals")).to_contain_text("覆盖率")
    expect(a.locator(".sc-table tbody tr").first).to_be_visible()

    expect(form.locator("select[name=slot]")).to_have_value("b")  # the next run goes to B
    form.locator("input[name=p]").fill("2")
    form.locator("button").click()
    expect(page.locator("#siting-status")).to_contain_text("方案 B: 已选 2 个采样亭")
    b = page.locator("#scenario-b")
    expect(b).to_be_visible()
    expect(page.locator(".siting-pin-b")).to_have_count(2)
    assert sorted(_pins_on_the_map(page, "b")) == ["b1", "b2"]
    assert _pins_on_the_map(page, "a") == [chosen_a]  # A stays on the map beside B
    after_b = float(b.locator(".sc-totals").get_attribute("data-after"))
    assert after_b > after
    box_a, box_b = a.bounding_box(), b.bounding_box()
    assert box_b["x"] >= box_a["x"] + box_a["width"] - 1 and abs(box_b["y"] - box_a["y"]) < 2  # side by side
    shoot(page, "siting", full_page=True)

    with page.expect_download() as caught:
        a.get_by_role("button", name="下载 CSV").click()
    assert caught.value.suggested_filename == "siting-A.csv"
    rows = list(csv.DictReader(io.StringIO(Path(caught.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(r["scenario"], r["booth_id"], r["p"]) for r in rows] == [("A", chosen_a, "1")]
    assert float(rows[0]["share_after"]) == pytest.approx(after)
    with page.expect_download() as caught:
        b.get_by_role("button", name="下载 GeoJSON").click()
    collection = json.loads(Path(caught.value.path()).read_text(encoding="utf-8"))
    assert sorted(f["properties"]["id"] for f in collection["features"]) == ["b1", "b2"]
    assert collection["crs_system"] == "wgs84" and collection["scenario"]["request"]["p"] == 2
    with page.expect_download() as caught:
        page.locator("#siting-compare button").click()
    text = Path(caught.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["code", "name", "length_m", "share_before", "share_after_A", "share_after_B"]
    total = next(r for r in table if r[1:2] == ["total"])
    assert float(total[3]) == pytest.approx(before) and float(total[4]) == pytest.approx(after)
    assert float(total[5]) == pytest.approx(after_b)
    assert_clean(watch)
