"""Tile sources, and the coordinate system every overlay must be drawn in to sit on them.

Amap's road tiles are GCJ-02: a WGS-84 marker drawn on them lands 300-600 m off, so when Amap is chosen
every overlay is converted to GCJ-02 at the edge (``locator.crs.from_work(..., system="gcj02")``).
OpenStreetMap is WGS-84; Tianditu draws CGCS2000, which agrees with WGS-84 to centimetres. ``none`` draws no
base map at all (offline use, tests): overlays still show.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium

from locator.crs import CoordSystem
from locator.errors import InvalidParameter


@dataclass(frozen=True)
class TileSource:
    name: str
    url: str
    attribution: str
    system: CoordSystem
    subdomains: str = "abc"
    max_zoom: int = 18
    overlay_url: str = ""  # labels drawn on top (Tianditu ships them as a second layer)
    needs_key: bool = False


TILE_SOURCES: dict[str, TileSource] = {
    "osm": TileSource("osm", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                      "&copy; OpenStreetMap contributors", "wgs84", subdomains="", max_zoom=19),
    "amap": TileSource("amap", "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
                       "&x={x}&y={y}&z={z}", "&copy; 高德地图 AutoNavi", "gcj02", subdomains="1234"),
    "tianditu": TileSource(
        "tianditu",
        "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
        "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "&copy; 天地图 Tianditu", "wgs84", subdomains="01234567",
        overlay_url="https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                    "&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                    "&TILECOL={x}&tk={key}",
        needs_key=True),
}
TILE_NAMES: tuple[str, ...] = (*TILE_SOURCES, "none")


def parse_tiles(value: object, *, param: str = "tiles") -> str:
    """A tile source name (osm, amap, tianditu, none); ``InvalidParameter`` for anything else."""
    name = str(value).strip().lower() if isinstance(value, str) else ""
    if name not in TILE_NAMES:
        shown = repr(value)[:40]
        msg = f"{param} must be one of {', '.join(TILE_NAMES)} (got {shown})"
        raise InvalidParameter(msg, param=param, valid=list(TILE_NAMES))
    return name


def tile_system(name: str) -> CoordSystem:
    """The system overlays must be drawn in on these tiles (WGS-84 for ``none``)."""
    source = TILE_SOURCES.get(name)
    return source.system if source else "wgs84"


def tile_templates(name: str, *, key: str = "") -> list[str]:
    """The URL templates the browser will fetch for these tiles (the only remote URLs a map may hold)."""
    source = TILE_SOURCES.get(name)
    if source is None:
        return []
    return [u.replace("{key}", key) for u in (source.url, source.overlay_url) if u]


def add_tiles(m: folium.Map, name: str, *, key: str = "") -> None:
    """Add the base layer ``name`` to ``m``; nothing for ``none``, or Tianditu without a key."""
    source = TILE_SOURCES.get(name)
    if source is None or (source.needs_key and not key):
        return
    url, overlay = tile_templates(name, key=key)[0], source.overlay_url.replace("{key}", key)
    extra = {"subdomains": source.subdomains} if source.subdomains else {}
    folium.TileLayer(url, attr=source.attribution, name=name, max_zoom=source.max_zoom, control=False,
                     **extra).add_to(m)
    if overlay:
        folium.TileLayer(overlay, attr=source.attribution, name=f"{name}-labels", overlay=True,
                         control=False, max_zoom=source.max_zoom, **extra).add_to(m)
