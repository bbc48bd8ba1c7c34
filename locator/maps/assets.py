"""Every script, stylesheet and font a map needs, served from here: no CDN.

Folium and its plugins name CDN URLs at class level (``default_js`` / ``default_css``); ``install()`` points
each one at a vendored copy under ``locator/web/static/vendor/`` (see its README for versions and licences):
all of ``folium.Map``'s defaults (Leaflet, jQuery, Bootstrap JS+CSS, Bootstrap 3 glyphicons, Font Awesome,
awesome-markers and folium's rotate sheet), so any map built with folium's defaults loads everything from the
app. Our own maps (:func:`light`, used by ``controls.new_map``) leave out Bootstrap, the glyphicons and Font
Awesome: markers there are plain ``DivIcon``s, and those ~1.5 MB would be fetched for nothing.
``check_local()`` refuses to render a figure that still names a remote asset, so a plugin added later without
vendoring fails loudly instead of reaching a CDN.

Pages reference the assets as ``/static/...``; a static file written by :func:`write_html` gets copies of the
files it references (and the fonts and images their stylesheets pull in) in an ``assets/`` folder beside it,
with relative links.
"""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path, PurePosixPath

import folium
from branca.element import CssLink, Figure, JavascriptLink
from folium import plugins

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
STATIC_URL = "/static/"

# name -> path under STATIC_DIR. Names are folium's own, so its elements dedupe against ours.
JS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",  # folium's Popup builds its content with $(`...`)
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "Control.Fullscreen.js": "vendor/leaflet.fullscreen/Control.FullScreen.js",
    "Control_locate_min_js": "vendor/leaflet.locatecontrol/L.Control.Locate.min.js",
    "locator_lines": "maps/lines.js",
}
CSS: dict[str, str] = {
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "glyphicons_css": "vendor/bootstrap-glyphicons/css/bootstrap-glyphicons.css",
    "awesome_markers_font_css": "vendor/fontawesome-free/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": "vendor/folium/leaflet.awesome.rotate.min.css",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "Control.FullScreen.css": "vendor/leaflet.fullscreen/Control.FullScreen.css",
    "Control_locate_min_css": "vendor/leaflet.locatecontrol/L.Control.Locate.min.css",
    "locator_maps_css": "maps/maps.css",
}
# folium.Map's own lists, in folium's order (plus our line layer and map styles).
MAP_JS: tuple[str, ...] = ("leaflet", "jquery", "bootstrap", "awesome_markers", "locator_lines")
MAP_CSS: tuple[str, ...] = ("leaflet_css", "bootstrap_css", "glyphicons_css", "awesome_markers_font_css",
                            "awesome_markers_css", "awesome_rotate_css", "locator_maps_css")
# What our maps leave out (see the module docstring).
UNUSED_BY_OUR_MAPS: frozenset[str] = frozenset({"bootstrap", "bootstrap_css", "glyphicons_css",
                                                "awesome_markers_font_css", "awesome_rotate_css"})
# The classes we draw with, and the folium assets each one names.
_CLASSES: tuple[tuple[type, tuple[str, ...], tuple[str, ...]], ...] = (
    (folium.Map, MAP_JS, MAP_CSS),
    (plugins.MarkerCluster, ("markerclusterjs",), ("markerclustercss", "markerclusterdefaultcss")),
    (plugins.Fullscreen, ("Control.Fullscreen.js",), ("Control.FullScreen.css",)),
    (plugins.LocateControl, ("Control_locate_min_js",), ("Control_locate_min_css",)),
)
_REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def url(path: str) -> str:
    return STATIC_URL + path


def install() -> None:
    """Point folium's class-level asset lists at the vendored files (idempotent; done on import)."""
    for cls, js, css in _CLASSES:
        cls.default_js = [(name, url(JS[name])) for name in js]
        cls.default_css = [(name, url(CSS[name])) for name in css]


def light(m: folium.Map) -> folium.Map:
    """Give ``m`` (not the class) only the assets our maps use: no Bootstrap, glyphicons or Font Awesome."""
    m.default_js = [(name, url(JS[name])) for name in MAP_JS if name not in UNUSED_BY_OUR_MAPS]
    m.default_css = [(name, url(CSS[name])) for name in MAP_CSS if name not in UNUSED_BY_OUR_MAPS]
    return m


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


@cache
def css_dependencies(rel: str) -> tuple[str, ...]:
    """Files under STATIC_DIR that the stylesheet ``rel`` pulls in with ``url(...)`` (fonts, images)."""
    text = (STATIC_DIR / rel).read_text(encoding="utf-8", errors="replace")
    found = []
    for _quote, target in _CSS_URL.findall(text):
        target = target.strip()
        if target.startswith(("data:", "#")) or _REMOTE.match(target):
            continue  # inline data and VML behaviours are not files; remote ones check_local-style tests catch
        path = target.split("#", 1)[0].split("?", 1)[0]
        found.append(str(PurePosixPath(_normalise(str(PurePosixPath(rel).parent / path)))))
    return tuple(dict.fromkeys(found))


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def with_dependencies(paths: list[str] | tuple[str, ...]) -> list[str]:
    """``paths`` (under STATIC_DIR) and every file their stylesheets pull in."""
    out: dict[str, None] = {}
    for rel in paths:
        out[rel] = None
        if rel.endswith(".css"):
            out.update(dict.fromkeys(css_dependencies(rel)))
    return list(out)


def all_files() -> list[str]:
    """Every vendored asset a folium map may name, with the fonts and images their stylesheets use."""
    return sorted(with_dependencies([*JS.values(), *CSS.values()]))


def referenced_files(page: str) -> list[str]:
    """The files under STATIC_DIR a page's ``src``/``href`` attributes name (``/static/...``), with CSS deps."""
    found = re.findall(r"""(?:src|href)=["']""" + re.escape(STATIC_URL) + r"""([^"'?#]+)""", page)
    return with_dependencies(list(dict.fromkeys(found)))


def write_html(m: folium.Map, path: str | Path) -> Path:
    """Write ``m`` as a standalone HTML file with its assets copied to ``assets/`` beside it (works offline)."""
    path = Path(path)
    check_local(m)
    page = m.get_root().render()
    files = referenced_files(page)
    page = page.replace(f'"{STATIC_URL}', '"assets/').replace(f"'{STATIC_URL}", "'assets/")
    assets = path.parent / "assets"
    for rel in files:
        target = assets / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STATIC_DIR / rel, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


install()
