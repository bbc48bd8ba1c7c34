"""Every page still works under the security headers (CSP, nosniff, Referrer-Policy): loaded in a real Chromium,
no Content-Security-Policy violation reaches the console, and the page draws what it should."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = [("/", "#results"), ("/?lang=en", "#results"), ("/map", ".leaflet-container"),
         ("/planner", ".leaflet-container"), ("/embed", ".leaflet-container"), ("/embed/builder", "form"),
         ("/api/v1/docs", "h1"), ("/report/s1", "form"), ("/admin/login", "form")]


@pytest.fixture
def headers_server(make_live_server, browser_data, tmp_path):
    """The harness's data plus two streets (the map pages draw street coverage)."""
    import shutil

    from conftest import ORIGIN_X, ORIGIN_Y, frame
    from locator.store import GeoPackageStore

    path = tmp_path / "headers.gpkg"
    shutil.copyfile(browser_data, path)
    streets = [{"id": "h", "name": "横街", "highway": "residential",
                "geometry": f"LINESTRING ({ORIGIN_X - 2000} {ORIGIN_Y}, {ORIGIN_X + 2000} {ORIGIN_Y})"},
               {"id": "v", "name": "纵路", "highway": "residential",
                "geometry": f"LINESTRING ({ORIGIN_X} {ORIGIN_Y - 2000}, {ORIGIN_X} {ORIGIN_Y + 2000})"}]
    GeoPackageStore(path).write({"streets": frame(streets)})
    return make_live_server(STORE=path)


@pytest.mark.parametrize(("path", "selector"), PAGES)
def test_page_loads_without_csp_errors(new_page, headers_server, path, selector):
    from playwright.sync_api import expect

    page, watch = new_page(headers_server.url, geolocation={"longitude": 116.4, "latitude": 39.9},
                           permissions=["geolocation"])
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    response = page.goto(headers_server(path))
    assert response.status == 200
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    expect(page.locator(selector).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert not violations, violations
    watch.assert_no_console_errors()


def test_courier_cards_link_to_the_report_page(new_page, live_server):
    from playwright.sync_api import expect

    page, watch = new_page(live_server.url, geolocation={"longitude": 116.4, "latitude": 39.9},
                           permissions=["geolocation"])
    page.goto("/")
    link = page.locator(".card .report-link").first
    expect(link).to_have_text("报告问题")
    link.click()
    expect(page.locator("h1")).to_contain_text("报告问题")
    page.locator("input[value=amenity_problem]").check()
    page.locator("textarea[name=note]").fill("没有热水")
    page.locator("button[type=submit]").click()
    expect(page.locator("[role=status]")).to_contain_text("谢谢")
    watch.assert_no_console_errors()
