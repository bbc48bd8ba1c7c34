"""The folium.Map objects the builders return: layers, extent, colours per band, GCJ-02 shift, escaping, assets."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pytest
from folium import plugins
from shapely import wkt

from conftest import ORIGIN_X, ORIGIN_Y, frame, station_rows
from locator.crs import from_work, geodesic_distance_m, work_xy_to_lonlat
from locator.maps import assets
from locator.maps.controls import Legend
from locator.maps.coverage import (
    BAND_COLOURS,
    UNREACHABLE_COLOUR,
    CompactLines,
    band_of,
    compact_lines,
    streets_map,
    subdistricts_map,
)
from locator.maps.stations import STATE_COLOURS, station_state, stations_map
from locator.maps.text import esc
from locator.maps.tiles import parse_tiles, tile_templates

XSS = "<img src=x onerror=alert(1)>"
NAV_PREFIXES = ("https://uri.amap.com/marker", "https://api.map.baidu.com/marker", "https://apis.map.qq.com/uri/",
                "https://maps.apple.com/", "http://www.w3.org/2000/svg")


def line(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"LINESTRING ({ORIGIN_X + x0} {ORIGIN_Y + y0}, {ORIGIN_X + x1} {ORIGIN_Y + y1})"


@pytest.fixture
def segments() -> gpd.GeoDataFrame:
    """Five streets, one per band, plus an unreachable one; 长安街 is two touching pieces of one band."""
    rows = [("长安街", 100.0, line(0, 0, 100, 0)), ("长安街", 200.0, line(100, 0, 200, 0)),
            ("建国路", 400.0, line(0, 100, 200, 100)), ("东三环", 800.0, line(0, 200, 200, 200)),
            ("西大街", 1500.0, line(0, 300, 200, 300)), (XSS, 3000.0, line(0, 400, 200, 400)),
            ("", np.inf, line(0, 500, 200, 500))]
    return gpd.GeoDataFrame({"name": [r[0] for r in rows], "highway": "residential",
                             "distance_m": [r[1] for r in rows]},
                            geometry=[wkt.loads(r[2]) for r in rows], crs="EPSG:32650")


@pytest.fixture
def subdistricts() -> gpd.GeoDataFrame:
    sq = f"POLYGON (({ORIGIN_X} {ORIGIN_Y}, {ORIGIN_X + 1000} {ORIGIN_Y}, {ORIGIN_X + 1000} {ORIGIN_Y + 1000}, " \
         f"{ORIGIN_X} {ORIGIN_Y + 1000}, {ORIGIN_X} {ORIGIN_Y}))"
    return frame([{"code": "110105001000", "name": f'建外街道 "{XSS}', "covered_share": 0.55, "street_km": 12.5,
                   "covered_km": 6.9, "station_count": 2, "approximate": True, "geometry": sq}])


def children_of(m: folium.Map, kind: type) -> list:
    found = []

    def walk(element) -> None:
        for child in element._children.values():
            if isinstance(child, kind):
                found.append(child)
            walk(child)

    walk(m)
    return found


def test_station_map_layers_bounds_and_states(stations):
    booths = frame([{"id": "b1", "address": "x", "status": "candidate", "source": "demo",
                     "geometry": f"POINT ({ORIGIN_X + 500} {ORIGIN_Y})"}])
    m = stations_map(stations, booths)
    clusters = children_of(m, plugins.MarkerCluster)
    assert len(clusters) == 1 and clusters[0].layer_name == "驿站"
    groups = [g.layer_name for g in children_of(m, folium.FeatureGroup)]
    assert "核酸采样亭（候选）" in groups
    assert len(children_of(clusters[0], folium.Marker)) == 5
    assert children_of(m, folium.LayerControl) and children_of(m, plugins.Fullscreen)
    assert children_of(m, plugins.LocateControl) and m.control_scale
    # the map opens on the data's extent: from the south-west station to the north-east one
    fit = children_of(m, folium.FitBounds)[0]
    (south, west), (north, east) = fit.bounds
    lon, lat = work_xy_to_lonlat([ORIGIN_X - 300, ORIGIN_X + 3000], [ORIGIN_Y - 400, ORIGIN_Y + 4000])
    assert (west, south, east, north) == pytest.approx((lon[0], lat[0], lon[1], lat[1]), abs=1e-9)
    html = m.get_root().render()
    for state in ("open", "temporarily_closed", "planned"):
        assert f"lm-{state}" in html
    assert "lm-demo" in html and "示例数据" in html


@pytest.mark.parametrize(("status", "hours", "state"), [
    ("open", "24/7", "open"), ("open", "", "open"), ("open", "Mo-Fr 09:00-10:00", "closed_now"),
    ("temporarily_closed", "24/7", "temporarily_closed"), ("planned", "", "planned"), ("closed", "", "closed"),
])
def test_station_state(status, hours, state):
    from datetime import datetime

    from locator.hours import TZ

    assert station_state(status, hours, datetime(2026, 11, 22, 12, 0, tzinfo=TZ)) == state  # a Sunday
    assert state in STATE_COLOURS


def test_streets_colour_per_band(segments):
    data = compact_lines(segments)
    colours = [b["color"] for b in data["bands"]]
    assert colours == list(BAND_COLOURS)
    by_name = {data["names"][f[1]]: f for f in data["f"]}
    assert by_name["长安街"][0] == 0 and len(by_name["长安街"]) == 5  # two touching pieces merged into one part
    assert by_name["长安街"][2:4] == [100, 200]
    assert [by_name[n][0] for n in ("建国路", "东三环", "西大街", XSS)] == [1, 2, 3, 4]
    assert by_name[""][0] == -1 and data["unreachable"]["color"] == UNREACHABLE_COLOUR
    assert list(band_of([0, 250, 251, 2000, 2001, np.nan])) == [0, 0, 1, 3, 4, -1]


def test_streets_map_has_layer_legend_and_bounds(segments):
    m = streets_map(segments, lang="en")
    layer = children_of(m, CompactLines)[0]
    assert layer.layer_name == "Street coverage"
    legend = children_of(m, Legend)[0].html
    assert "Distance to the nearest open station" in legend and "0–250 m" in legend
    (south, west), (north, east) = children_of(m, folium.FitBounds)[0].bounds
    assert [west, south, east, north] == pytest.approx(list(from_work(segments).total_bounds), abs=1e-9)


def decoded_first_point(data: dict, name: str) -> tuple[float, float]:
    f = next(f for f in data["f"] if data["names"][f[1]] == name)
    return f[4][0] / data["scale"], f[4][1] / data["scale"]


def test_amap_tiles_draw_everything_in_gcj02(stations, segments):
    """Under Amap tiles the drawn coordinates are GCJ-02: 300-600 m from WGS-84, as the GCJ offset is."""
    wgs = stations_map(stations, tiles="none")
    gcj = stations_map(stations, tiles="amap")
    for a, b in zip(children_of(wgs, folium.Marker), children_of(gcj, folium.Marker), strict=True):
        shift = geodesic_distance_m(a.location[1], a.location[0], b.location[1], b.location[0])
        assert 300 < float(shift) < 600
    assert any("autonavi" in c.tiles for c in children_of(gcj, folium.TileLayer))
    lon_w, lat_w = decoded_first_point(compact_lines(segments, system="wgs84"), "建国路")
    lon_g, lat_g = decoded_first_point(compact_lines(segments, system="gcj02"), "建国路")
    assert 300 < float(geodesic_distance_m(lon_w, lat_w, lon_g, lat_g)) < 600


def test_escaping_in_popups_tooltips_and_legends(subdistricts):
    rows = station_rows()
    rows[0] = {**rows[0], "name": XSS + " `${alert(2)}` \\", "address": '"quoted" <b>'}
    html = stations_map(frame(rows)).get_root().render()
    assert XSS not in html and '"quoted" <b>' not in html and esc('"quoted" <b>') in html
    assert esc(XSS) in html and "${alert(2)}" not in html and "&#36;{alert(2)}" in html
    sub_html = subdistricts_map(subdistricts).get_root().render()
    assert XSS not in sub_html and esc(XSS) in sub_html


def test_subdistrict_choropleth(subdistricts):
    m = subdistricts_map(subdistricts, link_template="/map?subdistrict={code}")
    html = m.get_root().render()
    assert '"fillColor": "#78c679"' in html  # 55 % covered: the third of five YlGn classes (40-60 %)
    assert "近似边界" in html and "6 4" in html  # approximate polygons are dashed and say so
    assert "/map?subdistrict=110105001000" in html and "55.0%" in html


def test_tiles_are_validated_and_known():
    assert parse_tiles("AMAP") == "amap"
    from locator.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        parse_tiles("google")
    assert tile_templates("none") == []


def remote_urls(text: str) -> list[str]:
    return re.findall(r"""https?://[^\s"'<>`)]+""", text)


def test_rendered_files_reference_no_remote_asset(tmp_path, stations, segments, subdistricts):
    """A rendered file works offline: every http(s) URL in it is a navigation link, an SVG namespace or a tile."""
    for name, m in {"stations": stations_map(stations), "streets": streets_map(segments, stations=stations),
                    "subdistricts": subdistricts_map(subdistricts),
                    "osm": stations_map(stations, tiles="osm")}.items():
        path = assets.write_html(m, tmp_path / f"{name}.html")
        text = path.read_text(encoding="utf-8")
        allowed = (*NAV_PREFIXES, *(t.split("{")[0] for t in tile_templates("osm")),
                   "https://openstreetmap.org", "https://www.openstreetmap.org")
        assert [u for u in remote_urls(text) if not u.startswith(allowed)] == []
        for src in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', text):
            assert src.startswith("assets/") and (tmp_path / src).exists(), src
    for rel in assets.all_files():
        if not rel.endswith((".js", ".css")):
            continue  # images carry XMP metadata namespaces, which are never fetched
        text = (assets.STATIC_DIR / rel).read_bytes().decode("utf-8", "ignore")  # every vendored file, used or not
        # comments and attribution links name home pages; what matters is nothing a browser would fetch
        assert not re.search(r"""(url\(\s*['"]?|src\s*=\s*['"]|import\s*['"])(https?:)?//""", text), rel


def test_remote_assets_are_refused(stations):
    m = stations_map(stations)
    plugins.Draw().add_to(m)  # a plugin nobody vendored
    with pytest.raises(ValueError, match="remote assets"):
        assets.check_local(m)


def test_compact_lines_is_json_and_rounded(segments):
    text = json.dumps(compact_lines(segments))
    assert "." not in text.split('"f"')[1].split("]]]")[0].replace("长安街", "")  # integers only
