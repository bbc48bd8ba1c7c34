"""Blueprint `maps`: the full map ``/map``, the planner ``/planner`` (+ CSV), the embeddable ``/embed`` and the
"embed this map" page ``/embed/builder``.

The maps themselves are built by ``locator.maps`` (folium, no Flask); this module reads the request, takes the
current snapshot and the coverage core's figures, and places the map's header, div and script in a page.
Every query parameter is checked; a bad one is answered with ``application/problem+json`` naming it.
``/embed`` reads nothing but its query string (no cookie, no session), so it works inside any site's iframe.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from datetime import datetime, time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from locator import hours
from locator.config import service_area_bounds
from locator.core.coverage import find_subdistricts
from locator.core.snapshot import Snapshot
from locator.errors import InvalidParameter, UnknownParameter
from locator.maps import assets
from locator.maps.controls import add_controls, new_map
from locator.maps.coverage import (
    DEFAULT_BAND_EDGES_M,
    add_streets,
    add_subdistricts,
    streets_legend,
    subdistricts_legend,
)
from locator.maps.data import street_segments, subdistrict_table, with_amenities, within
from locator.maps.stations import add_booths, add_stations, station_legend
from locator.maps.tiles import parse_tiles, tile_system
from locator.model import parse_amenities
from locator.web import i18n

bp = Blueprint("maps", __name__)

LAYERS = ("stations", "booths", "streets", "subdistricts")
DEFAULT_THRESHOLD_M = 500.0

# key -> (Chinese, English): strings of these four pages (the courier page's live in locator.web.i18n).
PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "map_title": ("驿站与街道覆盖地图", "Map of stations and street coverage"),
    "planner_title": ("规划：各街道覆盖情况", "Planner: coverage by subdistrict"),
    "builder_title": ("嵌入地图", "Embed this map"),
    "nav_courier": ("找驿站", "Find a station"), "nav_map": ("地图", "Map"), "nav_planner": ("规划", "Planner"),
    "nav_embed": ("嵌入", "Embed"),
    "threshold": ("覆盖距离（米）", "Covered within (m)"),
    "time_of_day": ("时间（留空=按状态）", "Time of day (empty = by status)"),
    "apply": ("更新", "Update"), "download_csv": ("下载 CSV", "Download CSV"),
    "col_name": ("街道/乡镇", "Subdistrict"), "col_district": ("区", "District"),
    "col_share": ("覆盖率", "Covered share"), "col_street_km": ("道路长度（公里）", "Streets (km)"),
    "col_covered_km": ("已覆盖（公里）", "Covered (km)"), "col_stations": ("开放驿站", "Open stations"),
    "col_worst": ("最远的街道", "Worst-served streets"), "streets_link": ("街道图", "Street map"),
    "approximate": ("近似边界", "approximate boundary"),
    "sort_hint": ("点击表头排序", "Click a column heading to sort"),
    "siting_title": ("选址方案：下一批改建哪些采样亭", "Siting scenario: which booths to convert next"),
    "siting_p": ("新增站点数", "Stations to add (p)"), "siting_all": ("全部", "All"),
    "siting_run": ("计算", "Compute"), "siting_before": ("改建前覆盖率", "Covered before"),
    "siting_after": ("改建后覆盖率", "Covered after"),
    "siting_running": ("正在计算…", "Computing…"), "siting_failed": ("计算失败：", "Failed: "),
    "siting_done": ("已选 {n} 个采样亭（{quality}）", "{n} booths chosen ({quality})"),
    "siting_booth": ("采样亭", "Booth"),
    "siting_slot": ("放入方案", "Into scenario"), "siting_scenario": ("方案", "Scenario"),
    "siting_params": ("新增 {p} 个 · {threshold} 米内 · {area}", "{p} booths · within {threshold} m · {area}"),
    "siting_totals": ("覆盖率 {before} → {after}（新增 {km} 公里）", "Covered {before} → {after} (+{km} km)"),
    "siting_export_csv": ("下载 CSV", "Download CSV"), "siting_export_geojson": ("下载 GeoJSON", "Download GeoJSON"),
    "siting_compare": ("下载 A/B 对比 CSV", "Download A/B comparison (CSV)"),
    "no_subdistricts": ("数据中没有街道/乡镇边界。", "The data holds no subdistrict boundaries."),
    "builder_intro": ("选择设置，复制下面的代码粘贴到您的网页中。",
                      "Choose the settings, then copy the code below into your web page."),
    "center": ("中心（经度,纬度，WGS-84）", "Centre (lon,lat, WGS-84)"), "zoom": ("缩放级别", "Zoom"),
    "subdistrict": ("街道/乡镇（代码或名称）", "Subdistrict (code or name)"), "layers": ("图层", "Layers"),
    "amenity": ("服务项目筛选", "Amenity filter"), "language": ("语言", "Language"), "tiles": ("底图", "Base map"),
    "snippet": ("嵌入代码", "Embed code"), "preview": ("预览", "Preview"), "update": ("生成", "Make code"),
    "layer_stations": ("驿站", "Stations"), "layer_booths": ("采样亭", "Booths"),
    "layer_streets": ("街道覆盖", "Street coverage"), "layer_subdistricts": ("街道/乡镇覆盖率", "Subdistricts"),
    "full_map": ("在 locator 中打开", "Open in locator"),
}


def _t(key: str, lang: str) -> str:
    zh, en = PAGE_STRINGS[key]
    return en if lang == "en" else zh


# --------------------------------------------------------------------------------------------------------------
# Parameters


def _check_known(known: set[str]) -> None:
    for name in request.args:
        if name not in known:
            msg = f"unknown parameter {name!r}; valid: {', '.join(sorted(known))}"
            raise UnknownParameter(msg, param=name)


def _lang(*, strict: bool) -> str:
    raw = request.args.get("lang")
    if strict and raw is not None and raw not in i18n.LANGUAGES:
        raise InvalidParameter(f"lang must be one of {', '.join(i18n.LANGUAGES)} (got {raw[:20]!r})", param="lang")
    return i18n.choose_language(query=raw, accept_language=request.accept_languages,
                                default=current_app.config.get("LANGUAGE"))


def _float(name: str, default: float, *, low: float, high: float) -> float:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and low <= value <= high):
        raise InvalidParameter(f"{name} must be a number from {low:g} to {high:g} (got {raw[:20]!r})", param=name)
    return value


def _at() -> datetime | None:
    """``at=HH:MM`` today in Beijing time; None (no time filter: stations count by status) when absent."""
    raw = request.args.get("at", "")
    if not raw:
        return None
    try:
        clock = time.fromisoformat(raw)
    except ValueError:
        raise InvalidParameter(f"at must be a time of day HH:MM (got {raw[:20]!r})", param="at") from None
    return datetime.combine(datetime.now(hours.TZ).date(), clock, tzinfo=hours.TZ)


def _layers(default: tuple[str, ...]) -> tuple[str, ...]:
    raw = request.args.get("layers")
    if raw is None or raw == "":
        return default
    chosen = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    bad = [p for p in chosen if p not in LAYERS]
    if bad or not chosen:
        raise InvalidParameter(f"layers must be a comma-separated list of {', '.join(LAYERS)} (got {raw[:40]!r})",
                               param="layers", valid=list(LAYERS))
    return chosen


def _center() -> tuple[float, float] | None:
    raw = request.args.get("center")
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    try:
        lon, lat = (float(p) for p in parts) if len(parts) == 2 else (float("nan"), float("nan"))
    except ValueError:
        lon = lat = float("nan")
    minlon, minlat, maxlon, maxlat = service_area_bounds(current_app.config["SERVICE_AREA"])
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise InvalidParameter(f"center must be lon,lat in WGS-84 (got {raw[:40]!r})", param="center")
    if not (minlon <= lon <= maxlon and minlat <= lat <= maxlat):
        raise InvalidParameter(f"center {lon:g},{lat:g} is outside the service area", param="center")
    return lon, lat


def _tiles() -> str:
    raw = request.args.get("tiles")
    return parse_tiles(raw if raw is not None else str(current_app.config.get("TILES", "none")))


# --------------------------------------------------------------------------------------------------------------
# Data: coverage figures for a snapshot, cached per data version and parameters

_CACHE: OrderedDict[tuple, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def _cached(key: tuple, build):  # noqa: ANN001, ANN202
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = build()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


MAP_CACHE_ENTRIES = 4  # built pages kept per snapshot: each may be megabytes for a district's streets


class _PageCache:
    """A small LRU of built map pages for one snapshot (kept in ``snapshot.derived``, so a data change, which
    brings a new snapshot, starts empty and the old pages go with the old snapshot)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[tuple, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, build) -> dict[str, str]:  # noqa: ANN001 - () -> page parts
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        parts = build()  # outside the lock: two first requests may both build; neither waits on the other
        with self._lock:
            self._pages[key] = parts
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return parts


def _hours_signature(stations: gpd.GeoDataFrame, at: datetime | None) -> tuple:
    """What the drawn station states depend on besides the data: open or not, per distinct opening hours, at
    ``at`` or now (a page without ``at`` colours stations by the clock, so a cached one must match it)."""
    when = at or datetime.now(hours.TZ)
    if "opening_hours" not in stations or not len(stations):
        return ()
    distinct = sorted({str(h or "") for h in stations["opening_hours"].tolist()})
    return tuple(hours.is_open(h, when) for h in distinct)


def cached_parts(snapshot: Snapshot, key: tuple, build) -> dict[str, str]:  # noqa: ANN001
    """The page parts for ``key`` on this snapshot, built by ``build()`` on the first request only."""
    cache = snapshot.derived("web_map_pages", lambda _snap: _PageCache(MAP_CACHE_ENTRIES))
    signature = _hours_signature(snapshot.layer("stations"), key[-1] if isinstance(key[-1], datetime) else None)
    return cache.get((*key, signature), build)


def _map_parts(m) -> dict[str, str]:  # noqa: ANN001 - a folium.Map
    return {**assets.page_parts(m), "name": m.get_name()}


def build_map(snapshot: Snapshot, *, layers: tuple[str, ...], lang: str, tiles: str, at: datetime | None,
              threshold_m: float = DEFAULT_THRESHOLD_M, subdistrict: str | None = None, amenities: list[str] = (),
              center: tuple[float, float] | None = None, zoom: int | None = None, compact: bool = False):  # noqa: ANN201
    """The folium map for /map and /embed: the chosen layers, clipped to one subdistrict if asked."""
    system = tile_system(tiles)
    stations = with_amenities(snapshot.layer("stations"), list(amenities))
    booths, subs = snapshot.layer("booths"), snapshot.layer("subdistricts")
    edges = tuple(sorted({*DEFAULT_BAND_EDGES_M, float(threshold_m)}))
    segments = street_segments(snapshot, at=at) if "streets" in layers and len(snapshot.layer("streets")) else None
    table = subdistrict_table(snapshot, threshold_m=threshold_m, at=at) if "subdistricts" in layers else None
    if subdistrict:
        chosen = find_subdistricts(subs, subdistrict)
        polygon = shapely.union_all(chosen.geometry.to_numpy())
        stations, booths = within(stations, polygon), within(booths, polygon)
        if segments is not None:
            segments = within(segments, polygon)
        if table is not None:
            table = table[table["code"].astype(str).isin(chosen["code"].astype(str))]
    m = new_map(tiles=tiles, tiles_key=str(current_app.config.get("TIANDITU_KEY", "")), lang=lang)
    legends, extent = [], []
    if table is not None:
        link = None if compact else url_for("maps.full_map", lang=lang) + "&layers=streets,stations&subdistrict={code}"
        add_subdistricts(m, table, system=system, lang=lang, link_template=link)
        legends.append(subdistricts_legend(lang))
        extent.append(table)
    if segments is not None:
        add_streets(m, segments, system=system, lang=lang, edges_m=edges)
        legends.append(streets_legend(edges, lang))
        extent.append(segments)
    if "booths" in layers:
        add_booths(m, booths, system=system, lang=lang)
        extent.append(booths)
    if "stations" in layers:
        add_stations(m, stations, system=system, lang=lang, at=at)
        legends.append(station_legend(lang))
        extent.append(stations)
    from locator.maps.stations import bounds_of

    bounds = bounds_of(*[f[[f.geometry.name]] for f in extent], system=system)
    if center is not None:
        from locator.crs import from_wgs84

        lon, lat = (float(v) for v in from_wgs84(center[0], center[1], system))
        bounds = None
        m.location = [lat, lon]
    if zoom is not None:
        m.options["zoom"] = zoom
    add_controls(m, lang=lang, legends=[] if compact else legends, bounds=bounds, fullscreen=not compact)
    return m


def _page(template: str, *, lang: str, **context: object) -> Response:
    # base.html writes ``config`` as the page's JSON settings; Flask would otherwise hand it the app config
    context.setdefault("config", {"lang": lang})
    html = render_template(template, lang=lang, html_lang=i18n.html_lang(lang), t=lambda key: _t(key, lang),
                           **context)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Language"] = i18n.html_lang(lang)
    response.vary.add("Accept-Language")
    return response


def _switch_href(endpoint: str, lang: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"} | {"lang": i18n.other_language(lang)}
    return url_for(endpoint, **args)


# --------------------------------------------------------------------------------------------------------------
# Routes


@bp.get("/map")
def full_map() -> ResponseReturnValue:
    _check_known({"lang", "layers", "subdistrict", "at", "threshold_m", "tiles"})
    lang = _lang(strict=False)
    from locator.web import data_state

    snapshot = data_state().current()
    at, threshold_m = _at(), _float("threshold_m", DEFAULT_THRESHOLD_M, low=10, high=20_000)
    layers, tiles, subdistrict = _layers(LAYERS), _tiles(), request.args.get("subdistrict") or None
    key = ("map", layers, lang, tiles, str(current_app.config.get("TIANDITU_KEY", "")), threshold_m, subdistrict,
           request.script_root, at)
    parts = cached_parts(snapshot, key, lambda: _map_parts(build_map(
        snapshot, layers=layers, lang=lang, tiles=tiles, at=at, threshold_m=threshold_m, subdistrict=subdistrict)))
    return _page("map.html", lang=lang, parts=parts, switch_href=_switch_href("maps.full_map", lang),
                 other_lang=i18n.other_language(lang))


def _planner_rows(snapshot: Snapshot, *, threshold_m: float, at: datetime | None) -> gpd.GeoDataFrame:
    key = ("planner", snapshot.version, id(snapshot), threshold_m, at.strftime("%H:%M") if at else None)
    return _cached(key, lambda: subdistrict_table(snapshot, threshold_m=threshold_m, at=at))


@bp.get("/planner")
def planner() -> ResponseReturnValue:
    _check_known({"lang", "at", "threshold_m", "tiles"})
    lang = _lang(strict=False)
    from locator.web import data_state

    snapshot = data_state().current()
    at, threshold_m = _at(), _float("threshold_m", DEFAULT_THRESHOLD_M, low=10, high=20_000)
    tiles = _tiles()
    table = _planner_rows(snapshot, threshold_m=threshold_m, at=at)
    system = tile_system(tiles)
    m = new_map(tiles=tiles, tiles_key=str(current_app.config.get("TIANDITU_KEY", "")), lang=lang)
    link = url_for("maps.full_map", lang=lang) + "&layers=streets,stations&subdistrict={code}"
    add_subdistricts(m, table, system=system, lang=lang, link_template=link)
    from locator.maps.stations import bounds_of

    add_controls(m, lang=lang, legends=[subdistricts_legend(lang)],
                 bounds=bounds_of(table[[table.geometry.name]], system=system) if len(table) else None)
    rows = [{"code": str(r["code"]), "name": str(r["name"]), "district": str(r.get("district", "")),
             "approximate": bool(r.get("approximate", False)),
             "share": None if pd.isna(r["covered_share"]) else float(r["covered_share"]),
             "street_km": float(r["street_km"]), "covered_km": float(r["covered_km"]),
             "stations": int(r["station_count"]),
             "worst": "、".join(w["name"] for w in (r.get("worst_streets") or [])[:3]),
             "href": url_for("maps.full_map", lang=lang, layers="streets,stations", subdistrict=str(r["code"]),
                             threshold_m=f"{threshold_m:g}", **({"at": at.strftime("%H:%M")} if at else {}))}
            for _, r in table.iterrows()]
    csv_args = {"lang": lang, "threshold_m": f"{threshold_m:g}", **({"at": at.strftime("%H:%M")} if at else {})}
    return _page("planner.html", lang=lang, parts=assets.page_parts(m), rows=rows, threshold_m=threshold_m,
                 at=at.strftime("%H:%M") if at else "", csv_href=url_for("maps.planner_csv", **csv_args),
                 switch_href=_switch_href("maps.planner", lang), other_lang=i18n.other_language(lang),
                 page_config={"lang": lang, "map": m.get_name(), "crs": system,
                         "siting": request.script_root + "/api/v1/siting",
                         "strings": {k: _t(k, lang) for k in PAGE_STRINGS if k.startswith("siting")}})


@bp.get("/planner.csv")
def planner_csv() -> ResponseReturnValue:
    _check_known({"lang", "at", "threshold_m"})
    from locator.web import data_state

    snapshot = data_state().current()
    at, threshold_m = _at(), _float("threshold_m", DEFAULT_THRESHOLD_M, low=10, high=20_000)
    table = _planner_rows(snapshot, threshold_m=threshold_m, at=at)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "name", "district", "approximate", "threshold_m", "street_length_m", "covered_m",
                     "covered_share", "unreachable_m", "stations_open", "stations_counted"])
    for _, r in table.iterrows():
        share = "" if pd.isna(r["covered_share"]) else f"{float(r['covered_share']):.4f}"
        writer.writerow([r["code"], _csv_text(r["name"]), _csv_text(r.get("district", "")),
                         bool(r.get("approximate", False)), f"{threshold_m:g}", r["street_length_m"], r["covered_m"],
                         share, r.get("unreachable_m", ""), r.get("stations", ""), r.get("stations_counted", "")])
    # UTF-8 with BOM: Excel on Chinese Windows reads it as UTF-8 rather than GBK
    body = "\ufeff" + out.getvalue()
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=coverage.csv"
    return response


def _csv_text(value: object) -> str:
    text = "" if value is None else str(value)
    # a cell starting with = + - @ is a formula to a spreadsheet: keep user text as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.get("/embed")
def embed() -> ResponseReturnValue:
    _check_known({"center", "zoom", "subdistrict", "layers", "amenity", "lang", "tiles", "at"})
    lang = _lang(strict=True)
    center = _center()
    zoom = int(_float("zoom", 0, low=1, high=19)) if request.args.get("zoom") else None
    amenities = parse_amenities(request.args.get("amenity", ""), strict=True)[0]
    from locator.web import data_state

    snapshot = data_state().current()
    layers, tiles, at = _layers(("stations",)), _tiles(), _at()
    subdistrict = request.args.get("subdistrict") or None
    key = ("embed", layers, lang, tiles, str(current_app.config.get("TIANDITU_KEY", "")), subdistrict,
           tuple(amenities), center, zoom, request.script_root, at)
    parts = cached_parts(snapshot, key, lambda: _map_parts(build_map(
        snapshot, layers=layers, lang=lang, tiles=tiles, at=at, subdistrict=subdistrict, amenities=amenities,
        center=center, zoom=zoom, compact=True)))
    full = url_for("maps.full_map", lang=lang, _external=False)
    return _page("embed.html", lang=lang, parts=parts, full_href=full)


@bp.get("/embed/builder")
def embed_builder() -> ResponseReturnValue:
    _check_known({"lang"})
    lang = _lang(strict=False)
    from locator.model import AMENITIES

    amenities = [{"key": a.key, "label": a.en if lang == "en" else a.zh} for a in AMENITIES]
    return _page("embed_builder.html", lang=lang, layers=LAYERS, amenities=amenities,
                 embed_url=url_for("maps.embed", _external=True), switch_href=_switch_href("maps.embed_builder", lang),
                 other_lang=i18n.other_language(lang), page_config={"lang": lang, "embed": url_for("maps.embed")})
