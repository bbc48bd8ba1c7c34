"""Every asset folium would fetch from a CDN is vendored: folium's own default lists, each file present with its
licence, every ``url(...)`` in a vendored stylesheet resolving to a file, and a default folium map written to
disk working offline (glyphicon and Font Awesome markers included)."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import folium.folium as folium_module
import pytest

from locator.maps import assets
from locator.maps.controls import new_map

VENDOR = assets.STATIC_DIR / "vendor"
REMOTE = re.compile(r"""https?://[^\s"'<>`)\\]+""")
# URLs that are names, not fetches: SVG/XML namespaces inside inline SVG or fonts.
NAMESPACES = ("http://www.w3.org/",)


def test_every_folium_default_is_pointed_at_a_local_copy():
    """folium's module-level lists still hold its CDN URLs; the class lists name the same assets, locally."""
    upstream_js = {name for name, _ in folium_module._default_js}
    upstream_css = {name for name, _ in folium_module._default_css}
    assert {"bootstrap", "awesome_markers"} <= upstream_js  # what folium 0.20 names, read, not assumed
    assert {"bootstrap_css", "glyphicons_css", "awesome_markers_font_css", "awesome_rotate_css"} <= upstream_css
    ours_js = dict(folium.Map.default_js)
    ours_css = dict(folium.Map.default_css)
    assert upstream_js <= set(ours_js) and upstream_css <= set(ours_css)
    for link in (*ours_js.values(), *ours_css.values()):
        assert link.startswith(assets.STATIC_URL), link
        assert (assets.STATIC_DIR / link.removeprefix(assets.STATIC_URL)).is_file(), link


@pytest.mark.parametrize("rel", [r for r in assets.all_files() if r.endswith(".css")])
def test_vendored_stylesheets_reference_only_local_files(rel):
    text = (assets.STATIC_DIR / rel).read_text(encoding="utf-8", errors="replace")
    targets = [t for _q, t in assets._CSS_URL.findall(text)]
    remote = [t for t in targets if re.match(r"\s*(https?:)?//", t)]
    assert remote == []
    for dep in assets.css_dependencies(rel):
        assert (assets.STATIC_DIR / dep).is_file(), (rel, dep)


def test_fonts_of_bootstrap_glyphicons_and_font_awesome_are_dependencies():
    deps = set(assets.all_files())
    assert "vendor/bootstrap-glyphicons/fonts/glyphicons-halflings-regular.woff" in deps
    assert "vendor/fontawesome-free/webfonts/fa-solid-900.woff2" in deps


def test_every_vendored_package_keeps_its_licence():
    folders = {p.parent for p in VENDOR.rglob("*") if p.is_file() and p.name != "README.md"}
    packages = {next(iter(f.relative_to(VENDOR).parts)) for f in folders}
    for package in packages:
        assert (VENDOR / package / "LICENSE").is_file(), package
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for package in packages:
        assert f"| {package} |" in readme, package


def test_a_default_folium_map_written_to_disk_works_offline(tmp_path):
    """folium.Map with its defaults, glyphicon and Font Awesome markers: every link local and copied."""
    m = folium.Map(location=[39.9, 116.4], tiles=None)
    folium.Marker([39.9, 116.4], icon=folium.Icon(icon="info-sign")).add_to(m)  # glyphicon
    folium.Marker([39.91, 116.41], icon=folium.Icon(icon="coffee", prefix="fa", angle=45)).add_to(m)
    path = assets.write_html(m, tmp_path / "default.html")
    page = path.read_text(encoding="utf-8")
    assert [u for u in REMOTE.findall(page) if not u.startswith(NAMESPACES)] == []
    links = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    names = {Path(link).name for link in links}
    assert {"bootstrap.bundle.min.js", "bootstrap.min.css", "bootstrap-glyphicons.css", "all.min.css",
            "leaflet.awesome.rotate.min.css"} <= names
    for link in links:
        assert link.startswith("assets/") and (tmp_path / link).is_file(), link
        if link.endswith(".css"):
            for dep in assets.css_dependencies(link.removeprefix("assets/")):
                assert (tmp_path / "assets" / dep).is_file(), dep


def test_our_maps_stay_light_and_copy_only_what_they_use(tmp_path):
    m = new_map()
    page = assets.write_html(m, tmp_path / "ours.html").read_text(encoding="utf-8")
    assert "bootstrap" not in page and "fontawesome" not in page and "glyphicons" not in page
    assert not (tmp_path / "assets" / "vendor" / "fontawesome-free").exists()
    assert (tmp_path / "assets" / "vendor" / "leaflet" / "images" / "layers.png").is_file()  # from leaflet.css
    # the class keeps folium's full list: only our instance is trimmed
    assert "bootstrap" in dict(folium.Map.default_js)
