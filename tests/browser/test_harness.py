"""The page-test harness itself: what it records, what it refuses, and its two origins."""

from __future__ import annotations

import pytest

from conftest import IN_CI

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # in CI a missing playwright must fail, not skip (as a missing Chromium does)
    if IN_CI:
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)

NOISY_PAGE = """<!doctype html><meta charset="utf-8"><title>noisy</title>
<p id="out">waiting</p>
<script>
console.error("boom from the page");
fetch("https://example.com/leak").then(
  function () { document.getElementById("out").textContent = "reached"; },
  function () { document.getElementById("out").textContent = "blocked"; });
alert("a dialog");
</script>"""


def test_watch_records_console_errors_dialogs_and_outside_requests(second_origin, new_page):
    second_origin.app.put("/noisy.html", NOISY_PAGE)
    page, watch = new_page(second_origin.url)
    page.goto("/noisy.html")
    expect(page.locator("#out")).to_have_text("blocked")  # the guard aborted it: nothing left the machine

    assert any("boom from the page" in text for text, _ in watch.console_errors)
    assert watch.dialogs == ["alert: a dialog"]
    assert watch.requests_to(r"^https://example\.com/leak$")
    with pytest.raises(AssertionError, match="example.com"):
        watch.assert_local_only()
    with pytest.raises(AssertionError, match="boom"):
        watch.assert_no_console_errors()
    with pytest.raises(AssertionError, match="a dialog"):
        watch.assert_no_dialogs()
    watch.assert_local_only(allow_hosts=("example.com",))


def test_uncaught_page_errors_count_as_console_errors(second_origin, new_page):
    second_origin.app.put("/throws.html", "<!doctype html><script>throw new Error('uncaught here')</script><p>x</p>")
    page, watch = new_page(second_origin.url)
    page.goto("/throws.html")
    expect(page.locator("p")).to_have_text("x")
    with pytest.raises(AssertionError, match="uncaught here"):
        watch.assert_no_console_errors()


def test_second_origin_is_another_origin_and_serves_frames(live_server, second_origin, new_page):
    assert second_origin.port != live_server.port
    second_origin.app.put("/inner.html", "<!doctype html><p id='inner'>inner page</p>")
    second_origin.app.put("/host.html", '<!doctype html><iframe id="f" src="/inner.html"></iframe>')
    page, watch = new_page(second_origin.url)
    page.goto("/host.html")
    expect(page.frame_locator("#f").locator("#inner")).to_have_text("inner page")
    assert page.evaluate("window.location.origin") == second_origin.url != live_server.url
    watch.assert_no_console_errors()
    watch.assert_local_only()

