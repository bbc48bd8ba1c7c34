"""``locator render stations|coverage``: a standalone file with its assets beside it and no CDN."""

from __future__ import annotations

import re

import pytest

from conftest import ORIGIN_X, ORIGIN_Y, frame, station_rows

NAV_PREFIXES = ("https://uri.amap.com/marker", "https://api.map.baidu.com/marker", "https://apis.map.qq.com/uri/",
                "https://maps.apple.com/")


@pytest.fixture
def store_path(tmp_path):
    from locator.store import GeoPackageStore

    stops = (-2000, -1000, 0, 1000, 2000)
    streets = []
    for i, offset in enumerate((-1000, 0, 1000)):
        across = ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + offset}" for x in stops)
        along = ", ".join(f"{ORIGIN_X + offset} {ORIGIN_Y + y}" for y in stops)
        streets += [{"id": f"h{i}", "name": f"横{i}街", "highway": "residential", "geometry": f"LINESTRING ({across})"},
                    {"id": f"v{i}", "name": f"纵{i}路", "highway": "residential", "geometry": f"LINESTRING ({along})"}]
    ring = (f"{ORIGIN_X - 2000} {ORIGIN_Y - 2000}, {ORIGIN_X + 2000} {ORIGIN_Y - 2000}, "
            f"{ORIGIN_X + 2000} {ORIGIN_Y + 2000}, {ORIGIN_X - 2000} {ORIGIN_Y + 2000}, "
            f"{ORIGIN_X - 2000} {ORIGIN_Y - 2000}")
    subs = [{"code": "110105001000", "name": "建外街道", "district": "朝阳区", "approximate": False,
             "geometry": f"POLYGON (({ring}))"}]
    path = tmp_path / "render.gpkg"
    GeoPackageStore(path).write({"stations": frame(station_rows()), "streets": frame(streets),
                                 "subdistricts": frame(subs)})
    return path


@pytest.mark.parametrize(("argv", "expect"), [
    (["render", "stations"], "L.markerClusterGroup"),
    (["render", "coverage", "--subdistrict", "建外街道", "--lang", "en"], "locatorLines("),
])
def test_render_writes_an_offline_file(store_path, tmp_path, argv, expect):
    from locator.cli import main

    out = tmp_path / "maps" / "out.html"
    assert main(["--store", str(store_path), *argv, "-o", str(out), "--tiles", "none"]) == 0
    html = out.read_text(encoding="utf-8")
    assert expect in html
    assert [u for u in re.findall(r"""https?://[^\s"'<>`)\\]+""", html) if not u.startswith(NAV_PREFIXES)] == []
    for src in re.findall(r'(?:src|href)="(assets/[^"]+)"', html):
        assert (out.parent / src).is_file(), src


def test_render_unknown_subdistrict_fails_cleanly(store_path, tmp_path, capsys):
    from locator.cli import main

    assert main(["--store", str(store_path), "render", "coverage", "--subdistrict", "火星", "-o",
                 str(tmp_path / "x.html")]) == 2
    assert "subdistrict" in capsys.readouterr().err
