"""/map, /planner, /planner.csv, /embed and /embed/builder over a small grid: status, escaping, framing headers,
parameter errors as problem+json, and no remote asset in any page."""

from __future__ import annotations

import re

import pytest

from conftest import ORIGIN_X, ORIGIN_Y, assert_problem, at, frame, station_rows
from locator.maps import assets
from locator.maps.tiles import tile_templates

XSS = "<img src=x onerror=alert(1)>"
CODE = "110105001000"
NAV_PREFIXES = ("https://uri.amap.com/marker", "https://api.map.baidu.com/marker", "https://apis.map.qq.com/uri/",
                "https://maps.apple.com/")


def street(i: int, name: str, x0: float, y0: float, x1: float, y1: float) -> dict[str, object]:
    return {"id": f"w{i}", "name": name, "highway": "residential", "oneway": False, "source": "demo",
            "geometry": f"LINESTRING ({ORIGIN_X + x0} {ORIGIN_Y + y0}, {ORIGIN_X + x1} {ORIGIN_Y + y1})"}


@pytest.fixture
def maps_app(tmp_path):
    from locator.store import GeoPackageStore
    from locator.web import create_app

    rows = station_rows()
    rows.append({**rows[0], "id": "s6", "name": XSS + ' "q" `${x}`', "address": "<script>alert(2)</script>",
                 "geometry": at(-500, 200)})
    streets = [street(1, "东街", -1000, 0, 1000, 0), street(2, XSS, 0, -1000, 0, 1000),
               street(3, "北街", -1000, 1000, 1000, 1000), street(4, "", 3000, 3000, 3500, 3500)]
    sq = (f"POLYGON (({ORIGIN_X - 1500} {ORIGIN_Y - 1500}, {ORIGIN_X + 1500} {ORIGIN_Y - 1500}, "
          f"{ORIGIN_X + 1500} {ORIGIN_Y + 1500}, {ORIGIN_X - 1500} {ORIGIN_Y + 1500}, "
          f"{ORIGIN_X - 1500} {ORIGIN_Y - 1500}))")
    subs = [{"code": CODE, "name": f"建外街道{XSS}", "district": "朝阳区", "approximate": True, "source": "demo",
             "geometry": sq}]
    booths = [{"id": "b1", "address": "<b>亭</b>", "status": "candidate", "source": "demo", "geometry": at(200, -300)}]
    path = tmp_path / "maps.gpkg"
    GeoPackageStore(path).write({"stations": frame(rows), "streets": frame(streets), "subdistricts": frame(subs),
                                 "booths": frame(booths)})
    return create_app({"STORE": str(path), "TESTING": True, "TILES": "none"})


@pytest.fixture
def maps_client(maps_app):
    return maps_app.test_client()


PAGES = ["/map", "/map?lang=en", f"/map?subdistrict={CODE}&layers=streets,stations", "/planner",
         "/planner?lang=en&threshold_m=1000&at=12:00", "/embed", "/embed?layers=stations,booths,streets,subdistricts",
         "/embed/builder"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_escaped_and_local(maps_client, path):
    response = maps_client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    assert XSS not in html and "<script>alert(2)" not in html
    remote = [u for u in re.findall(r"""https?://[^\s"'<>`)\\]+""", html)
              if not u.startswith(NAV_PREFIXES) and "127.0.0.1" not in u and "localhost" not in u]
    assert remote == []
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        if src == "data:,":
            continue  # the empty favicon: no request at all
        assert src.startswith("/static/"), src
        assert maps_client.get(src).status_code == 200, src
        if src.endswith(".css"):  # the fonts and images the stylesheet pulls in with url(...)
            for dep in assets.css_dependencies(src.removeprefix("/static/")):
                assert maps_client.get("/static/" + dep).status_code == 200, (src, dep)


@pytest.mark.parametrize("path", ["/map", "/planner", "/embed?layers=stations,streets"])
def test_pages_under_tiles_name_only_the_tile_templates(maps_app, path):
    """With OSM or Tianditu tiles the only other remote URLs are the tile templates themselves."""
    for tiles in ("osm", "tianditu"):
        maps_app.config.update(TILES=tiles, TIANDITU_KEY="k")
        html = maps_app.test_client().get(path).get_data(as_text=True)
        templates = tuple(t.split("{")[0] for t in tile_templates(tiles, key="k"))
        assert templates and all(t in html for t in templates)
        remote = [u for u in re.findall(r"""https?://[^\s"'<>`)\\]+""", html)
                  if not u.startswith((*NAV_PREFIXES, *templates))]
        assert remote == [], tiles


def test_every_vendored_asset_is_served(maps_client):
    """Everything folium's default lists name (Bootstrap, glyphicons, Font Awesome included) and every font or
    image their stylesheets pull in is answered by the app."""
    for rel in assets.all_files():
        response = maps_client.get("/static/" + rel)
        assert response.status_code == 200, rel
        response.close()


def test_full_map_has_every_layer(maps_client):
    html = maps_client.get("/map").get_data(as_text=True)
    for name in ("驿站", "核酸采样亭（候选）", "街道覆盖", "街道/乡镇覆盖率"):
        assert name in html.encode().decode("unicode_escape", "ignore") or name in html, name
    assert "locatorLines(" in html and "L.markerClusterGroup" in html


def test_framing_headers(maps_client):
    embed = maps_client.get("/embed")
    assert embed.headers["Content-Security-Policy"].split("; ")[-1] == "frame-ancestors *"
    assert "X-Frame-Options" not in embed.headers
    assert "Set-Cookie" not in embed.headers  # works in a third-party iframe: no cookie, no session
    for path in ("/map", "/planner", "/embed/builder", "/planner.csv"):
        response = maps_client.get(path)
        assert response.headers["Content-Security-Policy"].split("; ")[-1] == "frame-ancestors 'none'"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_frame_ancestors_setting(tmp_path):
    from locator.web import create_app
    from locator.web.security import frame_ancestors

    app = create_app({"STORE": str(tmp_path / "x.gpkg"), "TESTING": True, "TILES": "none",
                      "FRAME_ANCESTORS": "https://partner.example.cn http://127.0.0.1:8080"})
    response = app.test_client().get("/embed")
    assert response.headers["Content-Security-Policy"].split("; ")[-1] == (
        "frame-ancestors 'self' https://partner.example.cn http://127.0.0.1:8080")
    assert frame_ancestors("javascript:alert(1)\r\nX: y") == "'none'"
    assert frame_ancestors("") == "'none'" and frame_ancestors("*") == "*"


@pytest.mark.parametrize(("query", "param"), [
    ("zoom=0", "zoom"), ("zoom=abc", "zoom"), ("center=116.4", "center"), ("center=1,2", "center"),
    ("center=x,y", "center"), ("layers=stations,foo", "layers"), ("amenity=beer", "amenity"), ("lang=fr", "lang"),
    ("tiles=google", "tiles"), ("at=25:00", "at"), ("bogus=1", "bogus"),
])
def test_embed_rejects_bad_settings(maps_client, query, param):
    assert_problem(maps_client.get(f"/embed?{query}"), 400, param=param)


def test_embed_unknown_subdistrict_is_404(maps_client):
    assert_problem(maps_client.get("/embed?subdistrict=nowhere"), 404, param="subdistrict")


def test_embed_settings_apply(maps_client):
    html = maps_client.get("/embed?center=116.40,39.90&zoom=14&amenity=toilet&lang=en").get_data(as_text=True)
    assert '"zoom": 14' in html and "[39.9, 116.4]" in html
    assert "乙站" in html and "甲站" not in html  # only stations with a toilet
    assert "Rest stations" in html


def test_planner_table_csv_and_links(maps_client):
    html = maps_client.get("/planner?threshold_m=1000").get_data(as_text=True)
    assert 'id="coverage-table"' in html and f'data-code="{CODE}"' in html and "siting-panel" in html
    assert f"subdistrict={CODE}" in html and "近似边界" in html
    csv = maps_client.get("/planner.csv?threshold_m=1000")
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("code,name,district,approximate,threshold_m")
    row = lines[1].split(",")
    assert row[0] == CODE and row[4] == "1000" and 0.0 <= float(row[7]) <= 1.0
    assert_problem(maps_client.get("/planner?threshold_m=-5"), 400, param="threshold_m")


def test_full_map_is_built_once_per_snapshot_and_parameters(maps_app, monkeypatch):
    """A repeated /map request answers from the snapshot's page cache; other parameters or new data rebuild."""
    from locator.web import maps as maps_module

    calls = []
    real = maps_module.build_map

    def counting(*args, **kwargs):  # noqa: ANN202
        calls.append(kwargs.get("layers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(maps_module, "build_map", counting)
    client = maps_app.test_client()
    first = client.get("/map?layers=streets,stations")
    assert first.status_code == 200 and len(calls) == 1
    again = client.get("/map?layers=streets,stations")
    assert len(calls) == 1 and again.get_data() == first.get_data()
    client.get("/map?layers=stations")
    client.get("/embed")
    client.get("/embed")
    assert len(calls) == 3  # one more for the other layers, one for /embed, none for its repeat

    from locator.web.state import DataState

    state: DataState = maps_app.extensions["locator"]
    rows = station_rows()
    state.store.write({"stations": frame([{**rows[0], "id": "s-new", "name": "新驿站", "geometry": at(300, 300)}])},
                      mode="upsert")
    state.reload()
    changed = client.get("/map?layers=streets,stations")
    assert len(calls) == 4 and "新驿站" in changed.get_data(as_text=True)


def test_page_cache_is_bounded(maps_app, monkeypatch):
    from locator.web import maps as maps_module

    monkeypatch.setattr(maps_module, "MAP_CACHE_ENTRIES", 2)
    client = maps_app.test_client()
    for threshold in (300, 400, 500, 600):
        assert client.get(f"/map?layers=stations&threshold_m={threshold}").status_code == 200
    cache = maps_app.extensions["locator"].current().derived("web_map_pages")
    assert len(cache._pages) == 2
