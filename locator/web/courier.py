"""The courier page ``/`` and the two small API routes it needs: place search and point conversion.

Coordinates on the page (see README "Courier page"): the page works in one *display* system, the
system of its map tiles: GCJ-02 under Amap tiles, WGS-84 otherwise (OSM, Tianditu's CGCS2000, none).
Every point the page holds, sends and shows is in that system, and every request says so with
``crs=``; the API answers in the system it was asked in. The one point that arrives in another system
is the browser's geolocation fix (always WGS-84): under GCJ-02 tiles the page converts it once with
``GET /api/v1/convert``, so that no coordinate arithmetic ever happens in JavaScript and
``locator.crs`` stays the only converter.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from locator.config import service_area_bounds
from locator.core.snapshot import Snapshot, register_builder
from locator.crs import COORD_SYSTEMS, CoordSystem, convert, from_wgs84, parse_coord_system, work_xy_to_lonlat
from locator.errors import InvalidParameter
from locator.maps.tiles import TILE_NAMES, TILE_SOURCES, TileSource
from locator.web import i18n, openapi, params
from locator.web.params import Param

log = logging.getLogger(__name__)

bp = Blueprint("courier", __name__)


NEAREST_PATH = "/api/v1/nearest"
STATIONS_PATH = "/api/v1/stations"
NEAREST_K = 10
PLACES_LIMIT_DEFAULT, PLACES_LIMIT_MAX = 8, 20
QUERY_MAX_CHARS = 100


def tile_layer(settings: dict) -> TileSource | None:
    """The configured tile source (from ``locator.maps.tiles``, shared with the folium maps), its key filled
    in; None for ``TILES=none``, an unknown name, or Tianditu without a key (each logged)."""
    name = str(settings.get("TILES", "none")).strip().lower()
    if name == "none":
        return None
    source = TILE_SOURCES.get(name)
    if source is None:
        log.warning("unknown TILES=%r; drawing no base map (valid: %s)", name, ", ".join(TILE_NAMES))
        return None
    key = str(settings.get("TIANDITU_KEY", ""))
    if source.needs_key and not key:
        log.warning("TILES=%s needs a key (TIANDITU_KEY); drawing no base map", name)
        return None
    return replace(source, url=source.url.replace("{key}", key), overlay_url=source.overlay_url.replace("{key}", key))


def display_system(settings: dict) -> CoordSystem:
    """The coordinate system the page draws in: the tiles' system, WGS-84 without tiles."""
    layer = tile_layer(settings)
    return layer.system if layer else "wgs84"


# --------------------------------------------------------------------------------------------------
# The page


@bp.get("/")
def page() -> ResponseReturnValue:
    lang = i18n.choose_language(query=request.args.get("lang"), accept_language=request.accept_languages,
                                default=current_app.config.get("LANGUAGE"))
    from locator.web import data_state

    snapshot = data_state().current()
    settings = current_app.config
    system = display_system(settings)
    layer = tile_layer(settings)
    config = {
        "lang": lang,
        "strings": i18n.strings(lang),
        "amenities": [{"key": key, "label": label, "icon": url_for("static", filename=f"icons/{key}.svg")}
                      for key, label in i18n.amenity_labels(lang).items()],
        "crs": system,
        "bounds": _initial_bounds(snapshot, settings, system),
        "tiles": None if layer is None else {
            "url": layer.url, "overlay_url": layer.overlay_url, "subdomains": layer.subdomains,
            "attribution": layer.attribution, "max_zoom": layer.max_zoom,
        },
        "api": {
            # The API's public paths (views in api.py); script_root keeps them right under a prefix.
            "nearest": request.script_root + NEAREST_PATH,
            "stations": request.script_root + STATIONS_PATH,
            "places": url_for("courier.places"),
            "convert": url_for("courier.convert_point"),
        },
        "k": NEAREST_K,
        "data_version": snapshot.version,
    }
    other = i18n.other_language(lang)
    switch_args = {k: v for k, v in request.args.items() if k != "lang"} | {"lang": other}
    html = render_template(
        "courier.html", lang=lang, html_lang=i18n.html_lang(lang), t=lambda key: i18n.t(key, lang),
        page_config=config, switch_href=url_for("courier.page", **switch_args), other_lang=other,
        amenities=config["amenities"],
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Language"] = i18n.html_lang(lang)
    response.vary.add("Accept-Language")
    return response


def _initial_bounds(snapshot: Snapshot, settings: dict, system: CoordSystem) -> list[list[float]]:
    """``[[south, west], [north, east]]`` around the stations (the service area when there are none)."""
    stations = snapshot.layer("stations")
    geoms = stations.geometry[~stations.geometry.is_empty & stations.geometry.notna()] if len(stations) else None
    if geoms is not None and len(geoms):
        minx, miny, maxx, maxy = geoms.total_bounds
        lon, lat = work_xy_to_lonlat([minx, maxx], [miny, maxy], system=system, work=str(stations.crs))
    else:
        minlon, minlat, maxlon, maxlat = service_area_bounds(settings["SERVICE_AREA"])
        lon, lat = from_wgs84([minlon, maxlon], [minlat, maxlat], system)
    return [[float(lat[0]), float(lon[0])], [float(lat[1]), float(lon[1])]]


# --------------------------------------------------------------------------------------------------
# Place search: station names and addresses, subdistrict names


_SPACE = re.compile(r"\s+")


def normalise_text(text: object) -> str:
    """Fold text for matching: NFKC (full-width -> half-width), case-folded, spaces collapsed."""
    if not isinstance(text, str):
        return ""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


@register_builder("courier.places", layers=("stations", "subdistricts"))
def build_places(snapshot: Snapshot) -> pd.DataFrame:
    """One row per searchable place (stations, subdistricts) with its point in the work CRS."""
    frames = []
    stations = snapshot.layer("stations")
    if len(stations):
        frames.append(_place_rows(stations, kind="station", key="id", address=stations["address"],
                                  extra=stations["district"]))
    subdistricts = snapshot.layer("subdistricts")
    if len(subdistricts):
        frames.append(_place_rows(subdistricts, kind="subdistrict", key="code",
                                  address=subdistricts["district"], extra=subdistricts["district"]))
    columns = ["kind", "id", "name", "address", "x", "y", "name_key", "text_key"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


def _place_rows(layer: gpd.GeoDataFrame, *, kind: str, key: str, address: pd.Series,
                extra: pd.Series) -> pd.DataFrame:
    usable = layer.geometry.notna() & ~layer.geometry.is_empty
    layer, address, extra = layer[usable], address[usable], extra[usable]
    # A polygon's representative point lies inside it, unlike a centroid of a crescent-shaped town.
    points = layer.geometry if kind == "station" else layer.geometry.representative_point()
    names = layer["name"].astype(str)
    return pd.DataFrame({
        "kind": kind, "id": layer[key].astype(str), "name": names, "address": address.astype(str),
        "x": points.x.to_numpy(), "y": points.y.to_numpy(),
        "name_key": names.map(normalise_text),
        "text_key": (names + " " + address.astype(str) + " " + extra.astype(str)).map(normalise_text),
    })


def search_places(places: pd.DataFrame, query: str, *, limit: int) -> pd.DataFrame:
    """Places whose name or address contains every word of ``query``, best first.

    Order: exact name, name starting with the query, name containing it, then address only; within
    each, subdistricts before stations (a typed area name means the area), then shorter names.
    """
    folded = normalise_text(query)
    words = folded.split(" ")
    if not len(places) or not folded:
        return places.iloc[0:0]
    text = places["text_key"]
    mask = np.ones(len(places), dtype=bool)
    for word in words:
        mask &= text.str.contains(word, regex=False).to_numpy()
    found = places[mask]
    name = found["name_key"]
    score = np.select([name == folded, name.str.startswith(folded), name.str.contains(folded, regex=False)],
                      [0, 1, 2], default=3)
    ordered = found.assign(_score=score, _kind=(found["kind"] != "subdistrict").astype(int),
                           _len=name.str.len())
    return ordered.sort_values(["_score", "_kind", "_len", "name"], kind="stable").head(limit)


def _read_query_text(raw: str, name: str) -> str:
    if len(raw) > QUERY_MAX_CHARS:
        raise InvalidParameter(f"{name}: longer than {QUERY_MAX_CHARS} characters", param=name)
    if not normalise_text(raw):
        raise InvalidParameter(f"{name}: must name a place (a station, subdistrict or address)", param=name)
    return raw


def _read_places_limit(raw: str, name: str) -> int:
    text = raw.strip()
    if not text.isdigit() or len(text) > 6 or not 1 <= int(text) <= PLACES_LIMIT_MAX:
        raise InvalidParameter(f"{name}: must be a whole number from 1 to {PLACES_LIMIT_MAX} (got {raw[:40]!r})",
                               param=name)
    return int(text)


Q = Param("q", "Words to look for in station names and addresses and in subdistrict names; partial words "
          "match (空港 finds 空港街道). Full-width characters and case do not matter.",
          {"type": "string", "minLength": 1, "maxLength": QUERY_MAX_CHARS}, _read_query_text, "空港", required=True)
PLACES_LIMIT = Param("limit", f"How many places to return (1-{PLACES_LIMIT_MAX}).",
                     {"type": "integer", "minimum": 1, "maximum": PLACES_LIMIT_MAX, "default": PLACES_LIMIT_DEFAULT},
                     _read_places_limit, "5", default=PLACES_LIMIT_DEFAULT)
FROM = Param("from", "Coordinate system of lon/lat: wgs84, gcj02 or bd09.",
             {"type": "string", "enum": list(COORD_SYSTEMS)}, params.read_crs, "wgs84", required=True)
TO = Param("to", "Coordinate system to answer in: wgs84, gcj02 or bd09.",
           {"type": "string", "enum": list(COORD_SYSTEMS)}, params.read_crs, "gcj02", required=True)
POINT_LON = Param("lon", "Longitude in `from`.", params.LON.schema, params.read_lon, "116.4074", required=True)
POINT_LAT = Param("lat", "Latitude in `from`.", params.LAT.schema, params.read_lat, "39.9042", required=True)

params.ENDPOINTS["places"] = (Q, params.CRS, PLACES_LIMIT)
params.ENDPOINTS["convert"] = (POINT_LON, POINT_LAT, FROM, TO)


@bp.get("/api/v1/places")
def places() -> ResponseReturnValue:
    """``GET /api/v1/places?q=空港&crs=wgs84&limit=8``: places to measure from, best match first."""
    query = params.parse_query("places", request.args)
    system = parse_coord_system(str(query["crs"]))
    from locator.web import data_state

    snapshot = data_state().current()
    found = search_places(snapshot.derived("courier.places"), str(query["q"]), limit=int(query["limit"]))
    work = str(snapshot.layer("stations").crs or current_app.config["WORK_CRS"])
    lon, lat = work_xy_to_lonlat(found["x"].to_numpy(dtype=float), found["y"].to_numpy(dtype=float),
                                 system=system, work=work)
    results = [
        {"kind": row.kind, "id": row.id, "name": row.name, "address": row.address,
         "lon": round(float(x), 7), "lat": round(float(y), 7)}
        for row, x, y in zip(found.itertuples(index=False), lon, lat, strict=True)
    ]
    return jsonify(results=results, crs=system, data_version=snapshot.version)


@bp.get("/api/v1/convert")
def convert_point() -> ResponseReturnValue:
    """``GET /api/v1/convert?lon=&lat=&from=wgs84&to=gcj02``: one point between coordinate systems."""
    query = params.parse_query("convert", request.args)
    src, dst = parse_coord_system(str(query["from"])), parse_coord_system(str(query["to"]))
    out_lon, out_lat = convert(float(query["lon"]), float(query["lat"]), src=src, dst=dst)
    return jsonify(lon=round(float(out_lon), 7), lat=round(float(out_lat), 7), crs=dst)


def _json_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_PLACE = _json_schema({
    "kind": {"type": "string", "enum": ["station", "subdistrict"]}, "id": {"type": "string"},
    "name": {"type": "string"}, "address": {"type": "string"}, "lon": {"type": "number"}, "lat": {"type": "number"},
}, ["kind", "id", "name", "address", "lon", "lat"])

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/places": {"get": openapi.operation(
        "places", summary="Find a place by name or address (station, subdistrict)",
        description="For a courier whose position is unknown: places whose name or address contains every word "
                    "of `q`, best first (exact name, name starting with `q`, name containing it, address only; "
                    "subdistricts before stations). A subdistrict's point lies inside it. Coordinates in `crs`.",
        responses={"200": {"description": "Matching places (possibly none)", "content": {"application/json": {
            "schema": _json_schema({"results": {"type": "array", "items": _PLACE},
                                    "crs": {"type": "string", "enum": list(COORD_SYSTEMS)},
                                    "data_version": {"type": "integer"}},
                                   ["results", "crs", "data_version"])}}}},
        tags=("courier",))},
    "/api/v1/convert": {"get": openapi.operation(
        "convert", summary="Convert one point between WGS-84, GCJ-02 and BD-09",
        description="The courier page uses it for the browser's geolocation fix (always WGS-84) when its map "
                    "draws in GCJ-02 (Amap tiles). All conversion is done by locator.crs.",
        responses={"200": {"description": "The point in `to`", "content": {"application/json": {
            "schema": _json_schema({"lon": {"type": "number"}, "lat": {"type": "number"},
                                    "crs": {"type": "string", "enum": list(COORD_SYSTEMS)}},
                                   ["lon", "lat", "crs"])}}}},
        errors=("400",), tags=("courier",))},
}
