"""Every script and stylesheet a map needs, served from here: no CDN.

Folium and its plugins name CDN URLs at class level (``default_js`` / ``default_css``); ``install()`` points
each one we use at the vendored copy under ``locator/web/static/vendor/`` (see its README for versions and
licences), and drops the ones our maps never use (Bootstrap, glyphicons, Font Awesome, the awesome-markers
rotate sheet: our markers are plain ``DivIcon``s). ``check_local()`` refuses to render a figure that still names
a remote asset, so a plugin added later without vendoring fails loudly instead of reaching a CDN.

Pages reference the assets as ``/static/...``; a static file written by :func:`write_html` gets copies in an
``assets/`` folder beside it and relative links.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import folium
from branca.element import CssLink, Figure, JavascriptLink
from folium import plugins

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
STATIC_URL = "/static/"

# name -> path under STATIC_DIR. Names are folium's own, so its elements dedupe against ours.
JS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",  # folium's Popup builds its content with $(`...`)
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "Control.Fullscreen.js": "vendor/leaflet.fullscreen/Control.FullScreen.js",
    "Control_locate_min_js": "vendor/leaflet.locatecontrol/L.Control.Locate.min.js",
    "locator_lines": "maps/lines.js",
}
CSS: dict[str, str] = {
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "Control.FullScreen.css": "vendor/leaflet.fullscreen/Control.FullScreen.css",
    "Control_locate_min_css": "vendor/leaflet.locatecontrol/L.Control.Locate.min.css",
    "locator_maps_css": "maps/maps.css",
}
# Files a stylesheet pulls in by relative url(...): copied along with it.
EXTRA_FILES: tuple[str, ...] = (
    "vendor/leaflet/images/layers.png", "vendor/leaflet/images/layers-2x.png",
    "vendor/leaflet/images/marker-icon.png", "vendor/leaflet/images/marker-icon-2x.png",
    "vendor/leaflet/images/marker-shadow.png", "vendor/leaflet.fullscreen/icon-fullscreen.svg",
    "vendor/leaflet.awesome-markers/images/markers-soft.png",
    "vendor/leaflet.awesome-markers/images/markers-soft@2x.png",
    "vendor/leaflet.awesome-markers/images/markers-shadow.png",
    "vendor/leaflet.awesome-markers/images/markers-shadow@2x.png",
)
# The classes we draw with, and the folium assets each one names.
_CLASSES: tuple[tuple[type, tuple[str, ...], tuple[str, ...]], ...] = (
    (folium.Map, ("leaflet", "jquery", "awesome_markers", "locator_lines"),
     ("leaflet_css", "awesome_markers_css", "locator_maps_css")),
    (plugins.MarkerCluster, ("markerclusterjs",), ("markerclustercss", "markerclusterdefaultcss")),
    (plugins.Fullscreen, ("Control.Fullscreen.js",), ("Control.FullScreen.css",)),
    (plugins.LocateControl, ("Control_locate_min_js",), ("Control_locate_min_css",)),
)
_REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)


def url(path: str) -> str:
    return STATIC_URL + path


def install() -> None:
    """Point folium's class-level asset lists at the vendored files (idempotent; done on import)."""
    for cls, js, css in _CLASSES:
        cls.default_js = [(name, url(JS[name])) for name in js]
        cls.default_css = [(name, url(CSS[name])) for name in css]


def remote_links(figure: Figure) -> list[str]:
    """URLs of scripts and stylesheets in the figure's header that would be fetched from another host."""
    links = []
    for child in figure.header._children.values():
        if isinstance(child, JavascriptLink | CssLink) and _REMOTE.match(str(child.url)):
            links.append(str(child.url))
    return links


def check_local(m: folium.Map) -> Figure:
    """Render ``m`` and return its figure; ValueError when any asset would come from a CDN."""
    figure = m.get_root()
    figure.render()
    remote = remote_links(figure)
    if remote:
        msg = f"map names remote assets (vendor them in locator/maps/assets.py): {', '.join(remote)}"
        raise ValueError(msg)
    return figure


def page_parts(m: folium.Map) -> dict[str, str]:
    """The three pieces a page template places: ``header`` (links, styles), ``html`` (the map div), ``script``."""
    figure = check_local(m)
    return {"header": figure.header.render(), "html": figure.html.render(), "script": figure.script.render()}


def all_files() -> list[str]:
    return sorted({*JS.values(), *CSS.values(), *EXTRA_FILES})


def write_html(m: folium.Map, path: str | Path) -> Path:
    """Write ``m`` as a standalone HTML file with its assets copied to ``assets/`` beside it (works offline)."""
    path = Path(path)
    check_local(m)
    page = m.get_root().render()
    page = page.replace(f'"{STATIC_URL}', '"assets/').replace(f"'{STATIC_URL}", "'assets/")
    assets = path.parent / "assets"
    for rel in all_files():
        target = assets / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STATIC_DIR / rel, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


install()
