"""The page-test harness: the real app on 127.0.0.1, driven by a real headless Chromium.

What it gives a page test
-------------------------
``chromium``        Debian's Chromium (/usr/bin/chromium) launched by Playwright, once per session; never a
                    downloaded browser. Skipped where it is absent, but a *failure* when ``CI=true``.
``browser_data``    a temporary GeoPackage with the test stations (the five of tests/conftest.py plus a few
                    for place search and escaping) and one subdistrict, 空港街道.
``live_server``     ``create_app`` over that GeoPackage with ``TILES=none``, served by werkzeug's
                    ``make_server`` on 127.0.0.1 and a free port in a background thread (session-scoped).
``make_live_server`` the same with other settings (e.g. ``TILES="osm"``), stopped after the test.
``second_origin``   another origin (another port) serving pages a test puts there, for iframe tests.
``new_page``        a fresh browser context + page (phone viewport 390x844 by default); returns
                    ``(page, watch)``. ``watch`` records console errors, page errors, dialogs and every
                    request URL, and checks them: ``watch.assert_no_console_errors()``,
                    ``watch.assert_local_only()``, ``watch.assert_no_dialogs()``.
``shoot``           ``shoot(page, "name")`` keeps a PNG under tests/artifacts/browser/ (gitignored); every
                    page also gets a final screenshot when the test ends.

No request ever leaves the machine: every context aborts requests to any host but 127.0.0.1 (they are
still recorded, so ``assert_local_only`` reports them). Waiting is done by Playwright's ``expect``,
which polls a condition until a deadline; nothing sleeps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import IN_CI, ORIGIN_X, ORIGIN_Y, at, frame, station_rows

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
LOCAL_HOSTS = ("127.0.0.1",)
XSS_NAME = "<img src=x onerror=alert(1)>"

# What a test that drives a page may rely on in ``browser_data``.
KONGGANG_CODE = "110113008000"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests can't run in CI: {reason} (run scripts/install-system-deps.sh)")
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium via Playwright. Playwright gives every launch a fresh temporary profile
    (user-data-dir) and deletes it on close; it refuses ``--user-data-dir`` in ``args`` for ``launch``."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------------------------------
# Test data and live servers


def browser_station_rows() -> list[dict[str, object]]:
    """tests/conftest.py's five stations, one with an address in 空港, plus a station whose name is markup."""
    rows = station_rows()
    rows[1] = {**rows[1], "address": "顺义区空港工业区天竺路 1 号"}
    xss = {**rows[0], "id": "s6", "name": XSS_NAME, "address": "<script>alert(2)</script>",
           "amenities": "toilet", "opening_hours": "24/7", "geometry": at(-2000, 2000)}
    public = {**rows[0], "id": "s7", "name": "己站（公开报道）", "source": "public-report",
              "amenities": "phone_charging;toilet", "opening_hours": "24/7", "geometry": at(900, 1200)}
    return [*rows, xss, public]


def browser_subdistrict_rows() -> list[dict[str, object]]:
    """空港街道 as a 2 km square north-east of the grid origin."""
    x0, y0 = ORIGIN_X + 1000, ORIGIN_Y + 1000
    ring = f"{x0} {y0}, {x0 + 2000} {y0}, {x0 + 2000} {y0 + 2000}, {x0} {y0 + 2000}, {x0} {y0}"
    return [{"code": KONGGANG_CODE, "name": "空港街道", "district": "顺义区", "approximate": False,
             "source": "demo", "geometry": f"POLYGON (({ring}))"}]


@pytest.fixture(scope="session")
def browser_rows() -> list[dict[str, object]]:
    """The stations in ``browser_data`` as rows (work-CRS WKT), for computing expected answers."""
    return browser_station_rows()


@pytest.fixture(scope="session")
def browser_data(tmp_path_factory) -> Path:
    from locator.store import GeoPackageStore

    path = tmp_path_factory.mktemp("browser") / "browser.gpkg"
    GeoPackageStore(path).write({"stations": frame(browser_station_rows()),
                                 "subdistricts": frame(browser_subdistrict_rows())})
    return path


@dataclass
class LiveServer:
    """A WSGI app served on 127.0.0.1 in a background thread."""

    server: object
    thread: threading.Thread
    app: object = None

    @property
    def port(self) -> int:
        return int(self.server.server_port)  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    def stop(self) -> None:
        self.server.shutdown()  # type: ignore[attr-defined]
        self.server.server_close()  # type: ignore[attr-defined]
        self.thread.join(timeout=10)


def serve(wsgi_app, *, app: object = None) -> LiveServer:
    """Serve ``wsgi_app`` on 127.0.0.1 on a free port (the OS picks it); the socket listens on return."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"live-server-{server.server_port}", daemon=True)
    thread.start()
    return LiveServer(server=server, thread=thread, app=app or wsgi_app)


def _app(store: Path, **settings: object):
    from locator.core import shortest
    from locator.web import create_app

    # compile (or load) the kernels before a page asks: on a fresh clone that takes about half a minute, more
    # than a page load may (the service does the same before it starts its workers)
    shortest.warm()
    return create_app({"STORE": str(store), "TESTING": True, "TILES": "none", **settings})


@pytest.fixture(scope="session")
def live_server(browser_data: Path) -> Iterator[LiveServer]:
    app = _app(browser_data)
    server = serve(app, app=app)
    yield server
    server.stop()


@pytest.fixture
def make_live_server(browser_data: Path) -> Iterator[Callable[..., LiveServer]]:
    """``make_live_server(TILES="osm")``: the app with other settings, stopped after the test."""
    started: list[LiveServer] = []

    def start(**settings: object) -> LiveServer:
        app = _app(settings.pop("STORE", browser_data), **settings)  # type: ignore[arg-type]
        server = serve(app, app=app)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class PageHost:
    """A tiny WSGI app serving whatever HTML a test puts at a path (the 'partner site' for iframes)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, dict[str, str]]] = {}

    def put(self, path: str, html: str, *, headers: dict[str, str] | None = None) -> None:
        self.pages[path] = (html, headers or {})

    def __call__(self, environ, start_response):
        page = self.pages.get(environ.get("PATH_INFO", "/"))
        if page is None:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found"]
        html, headers = page
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), *headers.items()])
        return [html.encode("utf-8")]


@pytest.fixture(scope="session")
def second_origin() -> Iterator[LiveServer]:
    """Another origin on 127.0.0.1 (another port): ``second_origin.app.put("/host.html", html)``."""
    host = PageHost()
    server = serve(host, app=host)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clear_second_origin(request) -> Iterator[None]:
    yield
    if "second_origin" in request.fixturenames:
        request.getfixturevalue("second_origin").app.pages.clear()


# --------------------------------------------------------------------------------------------------
# Pages and what they do


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


@dataclass
class PageWatch:
    """Everything a page did that a test may want to forbid."""

    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url of the source)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        def on_console(message) -> None:
            if message.type == "error":
                self.console_errors.append((message.text, (message.location or {}).get("url", "")))

        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("dialog", on_dialog)

    def assert_no_console_errors(self, *, allow_hosts: tuple[str, ...] = ()) -> None:
        """No uncaught exception and no console error (errors about resources on ``allow_hosts`` excepted)."""
        assert not self.page_errors, f"uncaught page errors: {self.page_errors}"

        def allowed(text: str, url: str) -> bool:
            return any(host and host in (url + " " + text) for host in allow_hosts)

        errors = [text for text, url in self.console_errors if not allowed(text, url)]
        assert not errors, f"console errors: {errors}"

    def assert_local_only(self, *, allow_hosts: tuple[str, ...] = ()) -> None:
        """Every request went to 127.0.0.1 (or to a host containing one of ``allow_hosts``, e.g. tiles).

        ``data:`` and ``blob:`` URLs never leave the browser and are not counted.
        """
        outside = [url for url in self.requests
                   if not url.startswith(("data:", "blob:", "about:"))
                   and _host(url) not in LOCAL_HOSTS
                   and not any(host in _host(url) for host in allow_hosts)]
        assert not outside, f"requests left 127.0.0.1: {outside}"

    def assert_no_dialogs(self) -> None:
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"

    def requests_to(self, pattern: str) -> list[str]:
        return [url for url in self.requests if re.search(pattern, url)]


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture
def shoot(request) -> Callable[..., Path]:
    """``shoot(page, "name")`` saves tests/artifacts/browser/<test>-<name>.png and returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = _artifact_name(request.node.nodeid)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{prefix}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def new_page(chromium, request) -> Iterator[Callable[..., tuple[object, PageWatch]]]:
    """``page, watch = new_page(base_url, geolocation=..., permissions=[...], locale="zh-CN")``.

    Each call makes a fresh context (no shared cookies or storage) with a phone viewport, Beijing's time
    zone, touch, reduced motion (pages may skip animations, so screenshots show settled states), and a
    guard that aborts every request to a host other than 127.0.0.1.
    """
    contexts = []

    def open_page(base_url: str, *, geolocation: dict[str, float] | None = None,
                  permissions: list[str] | tuple[str, ...] = (), locale: str = "zh-CN",
                  viewport: dict[str, int] | None = None, **context_options: object):
        context = chromium.new_context(
            base_url=base_url, viewport=viewport or PHONE, is_mobile=True, has_touch=True,
            locale=locale, timezone_id="Asia/Shanghai", geolocation=geolocation,
            permissions=list(permissions), service_workers="block", reduced_motion="reduce",
            **context_options,
        )
        watch = PageWatch()
        context.on("request", lambda req: watch.requests.append(req.url))
        context.on("page", watch.attach)  # popups opened by the page are watched too
        context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/])(https?|wss?|ftp)://"),
                      lambda route: route.abort("blockedbyclient"))
        contexts.append(context)
        page = context.new_page()
        return page, watch

    yield open_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = _artifact_name(request.node.nodeid)
    for n, context in enumerate(contexts):
        for m, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{prefix}-final-{n}{m}.png"))
            except Exception:  # noqa: BLE001 - a page that navigated away or crashed has nothing to keep
                pass
        context.close()
