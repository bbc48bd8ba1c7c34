"""Links that open a station in the map app a courier already uses, each in the coordinates that app expects.

- Amap 高德: ``https://uri.amap.com/marker?position=lon,lat&coordinate=gaode`` -- GCJ-02
  (lbs.amap.com/api/uri-api/guide/mobile-web/point).
- Baidu 百度: ``https://api.map.baidu.com/marker?location=lat,lon&coord_type=bd09ll`` -- BD-09, stated
  explicitly with coord_type (lbsyun.baidu.com/faq/api?title=webapi/uri/web).
- Tencent 腾讯: ``https://apis.map.qq.com/uri/v1/marker?marker=coord:lat,lon;title:...`` -- GCJ-02
  (lbs.qq.com/webApi/uriV1/uriGuide/uriWebMarker).
- Apple Maps: ``https://maps.apple.com/?ll=lat,lon&q=name`` -- GCJ-02 inside mainland China (see below).
- ``geo:lat,lon?q=lat,lon(name)`` -- WGS-84, as RFC 5870 defines (``?q=`` is Android's label extension).

Apple Maps inside mainland China: Apple's map links reference (developer.apple.com, "Map Links") does not name
a datum, but in mainland China Apple Maps shows AutoNavi (高德) map data, which Chinese law requires to be in
GCJ-02, and places ``ll=`` on that map; a WGS-84 ``ll`` lands 300-600 m off, as on any GCJ-02 map. Sources:
South China Morning Post, 2021-12, "Apple blocks mainland Chinese users from seeing some geographic information
on its Compass app" ("On iPhones sold in China, Apple's built-in Maps app gets map data from AutoNavi");
Wikipedia, "Restrictions on geographic data in China" (maps published in China must use GCJ-02);
sinosplice.com, 2013-07-16, "A More Complete iOS Solution to the China GPS Offset Problem" (iOS Maps in China
draws GCJ-02 and shifts the device's own GPS position itself, so third-party WGS-84 points appear offset).
So the Apple link carries GCJ-02 for points inside China and WGS-84 outside (``crs.wgs84_to_gcj02`` leaves
points outside China unchanged, as GCJ-02 itself does).

Coordinates are written with 6 decimals (about 0.1 m). Names go into the links URL-encoded; for Tencent,
whose ``marker`` value uses ``;`` and ``:`` as separators, those characters are replaced by spaces first.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote
from urllib.parse import urlencode as _urlencode

import numpy as np

from locator.crs import gcj02_to_bd09, wgs84_to_gcj02

APP_NAME = "locator"  # Baidu's src and Tencent's referer identify the calling app
NAV_APPS: tuple[str, ...] = ("amap", "baidu", "tencent", "apple", "geo")
# The system each link's coordinates are in, for documentation and tests.
NAV_SYSTEMS: dict[str, str] = {"amap": "gcj02", "baidu": "bd09", "tencent": "gcj02", "apple": "gcj02",
                               "geo": "wgs84"}


def urlencode(query: dict[str, str]) -> str:
    # keep the commas between coordinates readable; every app decodes them either way
    return _urlencode(query, safe=",")


def _f(value: float) -> str:
    return f"{value:.6f}"


def _tencent_text(text: str) -> str:
    return text.replace(";", " ").replace(":", " ").replace("；", " ").replace("：", " ")


def _geo_label(text: str) -> str:
    return text.replace("(", " ").replace(")", " ")


def nav_links_many(lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray, names: Sequence[str],
                   addresses: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Links for many stations at once (one conversion call per system); lon/lat in WGS-84."""
    lon_w, lat_w = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon_g, lat_g = wgs84_to_gcj02(lon_w, lat_w)
    lon_b, lat_b = gcj02_to_bd09(lon_g, lat_g)
    addresses = addresses if addresses is not None else [""] * len(names)
    out = []
    for j, (name, address) in enumerate(zip(names, addresses, strict=True)):
        name = name or "站点"
        out.append({
            "amap": "https://uri.amap.com/marker?" + urlencode({
                "position": f"{_f(lon_g[j])},{_f(lat_g[j])}", "name": name, "src": APP_NAME,
                "coordinate": "gaode", "callnative": "1"}),
            "baidu": "https://api.map.baidu.com/marker?" + urlencode({
                "location": f"{_f(lat_b[j])},{_f(lon_b[j])}", "title": name, "content": address or name,
                "output": "html", "coord_type": "bd09ll", "src": f"webapp.{APP_NAME}"}),
            "tencent": "https://apis.map.qq.com/uri/v1/marker?" + urlencode({
                "marker": f"coord:{_f(lat_g[j])},{_f(lon_g[j])};title:{_tencent_text(name)};"
                          f"addr:{_tencent_text(address or name)}",
                "referer": APP_NAME}),
            "apple": "https://maps.apple.com/?" + urlencode({"ll": f"{_f(lat_g[j])},{_f(lon_g[j])}", "q": name}),
            "geo": f"geo:{_f(lat_w[j])},{_f(lon_w[j])}?q="
                   + quote(f"{_f(lat_w[j])},{_f(lon_w[j])}({_geo_label(name)})", safe=",()"),
        })
    return out


def nav_links(lon: float, lat: float, *, name: str, address: str = "") -> dict[str, str]:
    """Links that open one station (WGS-84 lon/lat) in Amap, Baidu, Tencent, Apple Maps and as ``geo:``."""
    return nav_links_many([lon], [lat], [name], [address])[0]
