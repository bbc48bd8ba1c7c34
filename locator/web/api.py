"""The JSON API, version 1: nearest stations, station and booth listings, single records.

Handlers read their parameters through ``params.parse_query`` (the same declarations make the OpenAPI
document), take the worker's current Snapshot and its prebuilt indexes, and raise ``locator.errors`` on bad
input; ``problems`` turns those into ``application/problem+json``. ``OPENAPI_PATHS`` is this module's part of
``/api/v1/openapi.json``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from locator.config import service_area_bounds
from locator.core.navigation import NAV_APPS, NAV_SYSTEMS
from locator.core.nearest import (
    Hit,
    PointIndex,
    distance_outside_m,
    nearest,
    result_card,
    ride_min,
    select_rows,
    walk_min,
)
from locator.core.network import DEFAULT_MAX_SNAP_M, StreetGraph, get_profile, nearest_by_network
from locator.crs import geodesic_bearing_deg, geodesic_distance_m, point_to_wgs84, point_to_work_xy
from locator.errors import InvalidParameter, NotFound, NotRoutable, OutsideServiceArea
from locator.hours import TZ
from locator.model import BOOTHS, STATIONS, Layer, split_amenities
from locator.web import openapi
from locator.web.params import parse_query

bp = Blueprint("api", __name__)

GEOJSON = "application/geo+json"
# A point this far outside SERVICE_AREA is a mistake (swapped lon/lat, wrong crs), not a courier at the edge.
FAR_OUTSIDE_M = 50_000.0


def _state():  # noqa: ANN202 - DataState; imported late because locator.web imports this module
    from locator.web import data_state

    return data_state()


def _meta(state, snapshot) -> dict[str, Any]:  # noqa: ANN001
    meta: dict[str, Any] = {"data_version": snapshot.version, "stale": bool(state.stale)}
    if state.stale:
        meta["stale_reason"] = "the data store can't be reached; answering from the last data loaded"
    return meta


def _round(value: float, places: int) -> float:
    return round(float(value), places)


# ---------------------------------------------------------------------------------------------------------------
# /api/v1/nearest


@bp.get("/api/v1/nearest")
def nearest_stations() -> ResponseReturnValue:
    query = parse_query("nearest", request.args)
    if query["open_now"] and query["open_at"] is not None:
        raise InvalidParameter("give open_now=true or open_at, not both", param="open_at")
    system = str(query["crs"])
    lon_w, lat_w = point_to_wgs84(query["lon"], query["lat"], system)  # type: ignore[arg-type]
    box = service_area_bounds(current_app.config["SERVICE_AREA"])
    outside_m = distance_outside_m(lon_w, lat_w, box)
    if outside_m > FAR_OUTSIDE_M:
        raise OutsideServiceArea(
            f"the point ({query['lon']}, {query['lat']}) in {system} is {outside_m / 1000:.0f} km outside the "
            f"service area {','.join(f'{v:g}' for v in box)} (WGS-84); check the order of lon and lat and the crs",
            param="lon,lat", service_area=list(box), distance_outside_m=round(outside_m))
    state = _state()
    snapshot = state.current()
    index: PointIndex = snapshot.derived("station_index")
    at: datetime = query["open_at"] or datetime.now(TZ)  # type: ignore[assignment]
    filter_at = at if (query["open_now"] or query["open_at"] is not None) else None
    mask = index.mask(amenities=query["amenity"], statuses=query["status"], open_at=filter_at)  # type: ignore[arg-type]
    x, y = point_to_work_xy(lon_w, lat_w, work=index.work)
    if query["mode"] == "network":
        hits, extra = _network_hits(snapshot.derived("street_graph"), index, mask, lon_w, lat_w, x, y, query)
    else:
        hits = nearest(index, lon_w, lat_w, x, y, k=int(query["k"]), radius_m=query["radius_m"], mask=mask)  # type: ignore[arg-type,call-overload]
        extra = [{} for _ in hits]
    results = []
    for hit, more in zip(hits, extra, strict=True):
        # the station's static part (names, coordinates in `system`, nav links) is built once per snapshot
        card = result_card(index, hit.pos, system)
        open_now, change = index.hours_state(hit.pos, at)
        results.append({
            "id": card["id"], "name": card["name"], "address": card["address"], "lon": card["lon"],
            "lat": card["lat"], "distance_m": round(hit.distance_m, 1), "bearing_deg": round(hit.bearing_deg, 1),
            "walk_min": round(walk_min(hit.distance_m), 1), "ride_min": round(ride_min(hit.distance_m), 1), **more,
            "open_now": open_now, "next_change": change, "opening_hours": card["opening_hours"],
            "amenities": card["amenities"], "status": card["status"], "source": card["source"], "nav": card["nav"],
        })
    echo = {"lon": query["lon"], "lat": query["lat"], "crs": system, "k": query["k"],
            "radius_m": query["radius_m"], "amenity": list(query["amenity"]),  # type: ignore[call-overload]
            "status": list(query["status"]), "open_now": query["open_now"],  # type: ignore[call-overload]
            "open_at": None if query["open_at"] is None else at.isoformat(), "mode": query["mode"],
            "profile": query["profile"] if query["mode"] == "network" else None}
    body = {**_meta(state, snapshot), "crs": system, "at": at.isoformat(timespec="seconds"), "query": echo,
            "count": len(results)}
    if query["format"] == "geojson":
        features = [_feature(r, r["lon"], r["lat"]) for r in results]
        return _geojson({"type": "FeatureCollection", **body, "features": features})
    # one json.dumps, keys in the order written above (jsonify would sort every key of every nav dict)
    return Response(json.dumps({**body, "results": results}, ensure_ascii=False, separators=(",", ":")),
                    mimetype="application/json")


def _network_hits(graph: StreetGraph, index: PointIndex, mask: np.ndarray | None, lon: float, lat: float,
                  x: float, y: float, query: dict[str, Any]) -> tuple[list[Hit], list[dict[str, Any]]]:
    """The k stations passing ``mask`` quickest to reach along the streets for ``query["profile"]``.

    Each hit carries the network distance (so walk_min and ride_min follow the streets); the extra fields
    are the ground distance and the minutes along the quickest path for the profile (the ranking key).
    """
    if graph.n_segments == 0:
        raise NotRoutable("mode=network needs streets and this data has none; use mode=straight (or import a "
                          "streets layer)", param="mode")
    profile = get_profile(str(query["profile"]))
    snap_m = float(graph.snap(np.array([x]), np.array([y]), profile=profile)["snap_m"].iloc[0])
    if not snap_m <= DEFAULT_MAX_SNAP_M:
        where = f"the nearest street is {snap_m:.0f} m away" if np.isfinite(snap_m) else "there is no street"
        raise NotRoutable(f"the point is not on the street network for {profile.name}: {where}, more than "
                          f"{DEFAULT_MAX_SNAP_M:g} m; use mode=straight", param="lon,lat",
                          snap_m=round(snap_m, 1) if np.isfinite(snap_m) else None, max_snap_m=DEFAULT_MAX_SNAP_M)
    positions = np.flatnonzero(mask) if mask is not None else np.arange(len(index.ids))
    ranked = nearest_by_network(graph, index.frame.iloc[positions], x, y, k=int(query["k"]), profile=profile,
                                max_distance_m=query["radius_m"])  # type: ignore[arg-type]
    pos = positions[ranked["station_idx"].to_numpy(dtype=np.int64)]
    lon_all, lat_all = index.lonlat["wgs84"]
    ground = np.atleast_1d(geodesic_distance_m(lon, lat, lon_all[pos], lat_all[pos]))
    bearing = np.atleast_1d(geodesic_bearing_deg(lon, lat, lon_all[pos], lat_all[pos]))
    hits = [Hit(int(p), index.id_list[int(p)], float(d), float(b))
            for p, d, b in zip(pos, ranked["distance_m"], bearing, strict=True)]
    extra = [{"straight_m": round(float(g), 1), "time_min": round(float(t), 1)}
             for g, t in zip(ground, ranked["time_min"], strict=True)]
    return hits, extra


# ---------------------------------------------------------------------------------------------------------------
# /api/v1/stations, /api/v1/booths


def _record(index: PointIndex, pos: int, system: str) -> dict[str, Any]:
    row = index.frame.iloc[pos]
    lon, lat = index.lonlat[system]
    record: dict[str, Any] = {}
    for column in index.frame.columns:
        if column == index.frame.geometry.name:
            continue
        value = row[column]
        record[column] = split_amenities(value) if column == "amenities" else (
            bool(value) if isinstance(value, bool) else str(value))
    record["lon"], record["lat"] = _round(lon[pos], 7), _round(lat[pos], 7)
    return record


def _feature(record: dict[str, Any], lon: float, lat: float) -> dict[str, Any]:
    properties = {k: v for k, v in record.items() if k not in ("lon", "lat")}
    return {"type": "Feature", "id": record["id"], "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": properties}


def _geojson(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.mimetype = GEOJSON
    return response


def _page_link(offset: int) -> str:
    args = request.args.to_dict(flat=True)
    args["offset"] = str(offset)
    return f"{request.path}?{urlencode(args)}"


def _listing(endpoint: str, key: str) -> Response:
    query = parse_query(endpoint, request.args)
    system = str(query["crs"])
    state = _state()
    snapshot = state.current()
    index: PointIndex = snapshot.derived(key)
    rows = select_rows(index, system=system, bbox=query["bbox"], statuses=query["status"],  # type: ignore[arg-type]
                       amenities=query.get("amenity") or (), subdistricts=query["subdistrict"])  # type: ignore[arg-type]
    limit, offset = int(query["limit"]), int(query["offset"])  # type: ignore[call-overload]
    page = rows[offset:offset + limit]
    records = [_record(index, int(p), system) for p in page]
    links = {"self": f"{request.path}?{urlencode(request.args.to_dict(flat=True))}".rstrip("?")}
    if offset + limit < len(rows):
        links["next"] = _page_link(offset + limit)
    if offset > 0:
        links["prev"] = _page_link(max(0, offset - limit))
    meta = {**_meta(state, snapshot), "crs": system, "total": len(rows), "count": len(records),
            "limit": limit, "offset": offset, "links": links}
    if query["format"] == "csv":
        response = Response(_csv(index, records), mimetype="text/csv")
        response.headers["X-Total-Count"] = str(len(rows))
    elif query["format"] == "geojson":
        features = [_feature(r, r["lon"], r["lat"]) for r in records]
        response = _geojson({"type": "FeatureCollection", **meta, "features": features})
    else:
        response = jsonify({**meta, "items": records})
    if "next" in links:
        response.headers["Link"] = f'<{links["next"]}>; rel="next"'
    response.headers["X-Data-Version"] = str(snapshot.version)
    return response


def _csv(index: PointIndex, records: list[dict[str, Any]]) -> str:
    columns = [c for c in index.frame.columns if c != index.frame.geometry.name] + ["lon", "lat"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([";".join(record[c]) if c == "amenities" else record[c] for c in columns])
    return out.getvalue()


def _one(endpoint: str, key: str, record_id: str, what: str, id_name: str) -> Response:
    query = parse_query(endpoint, request.args)
    system = str(query["crs"])
    state = _state()
    snapshot = state.current()
    index: PointIndex = snapshot.derived(key)
    pos = index.by_id.get(record_id)
    if pos is None:
        raise NotFound(f"no {what} with id {record_id[:100]!r}", param=id_name)
    record = _record(index, pos, system)
    if query["format"] == "geojson":
        return _geojson({**_feature(record, record["lon"], record["lat"]), **_meta(state, snapshot), "crs": system})
    return jsonify({**_meta(state, snapshot), "crs": system, "item": record})


@bp.get("/api/v1/stations")
def stations() -> ResponseReturnValue:
    return _listing("stations", "station_index")


@bp.get("/api/v1/stations/<station_id>")
def station(station_id: str) -> ResponseReturnValue:
    return _one("station", "station_index", station_id, "station", "station_id")


@bp.get("/api/v1/booths")
def booths() -> ResponseReturnValue:
    return _listing("booths", "booth_index")


@bp.get("/api/v1/booths/<booth_id>")
def booth(booth_id: str) -> ResponseReturnValue:
    return _one("booth", "booth_index", booth_id, "booth", "booth_id")


openapi.add_routes(bp)

# ---------------------------------------------------------------------------------------------------------------
# This module's part of the OpenAPI document (merged by openapi.build_document)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _record_schema(layer: Layer) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for column in layer.columns:
        if column.name == "amenities":
            props[column.name] = {"type": "array", "items": {"type": "string"}, "description": column.description}
        elif column.kind == "bool":
            props[column.name] = {"type": "boolean", "description": column.description}
        else:
            props[column.name] = {"type": "string", "description": column.description}
    props["lon"] = {"type": "number", "description": "Longitude in `crs`."}
    props["lat"] = {"type": "number", "description": "Latitude in `crs`."}
    return {"type": "object", "required": list(props), "properties": props}


_META = {
    "data_version": {"type": "integer", "description": "Version of the data the answer comes from."},
    "stale": {"type": "boolean", "description": "True when the store can't be reached and the answer comes from "
                                                "the last data loaded."},
    "stale_reason": {"type": "string"},
    "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "description": "System of every coordinate."},
}
_META_REQUIRED = ["data_version", "stale", "crs"]
_LINKS = {"type": "object", "required": ["self"],
          "properties": {"self": {"type": "string"}, "next": {"type": "string"}, "prev": {"type": "string"}}}
_POINT = {"type": "object", "required": ["type", "coordinates"],
          "properties": {"type": {"type": "string", "enum": ["Point"]},
                         "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}


def _feature_schema(properties_ref: str) -> dict[str, Any]:
    return {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
                           "geometry": _POINT, "properties": {"$ref": properties_ref}}}


_NEAREST_RESULT = {
    "type": "object",
    "required": ["id", "name", "address", "lon", "lat", "distance_m", "bearing_deg", "walk_min", "ride_min",
                 "open_now", "next_change", "opening_hours", "amenities", "status", "source", "nav"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "address": {"type": "string"},
        "lon": {"type": "number"}, "lat": {"type": "number"},
        "distance_m": {"type": "number", "minimum": 0, "description": "Geodesic (ground) distance in metres; "
                       "with mode=network, metres along the quickest path by the streets (the walks between the "
                       "street and the point and the station included)."},
        "bearing_deg": {"type": "number", "minimum": 0, "maximum": 360,
                        "description": "Direction from the query point, degrees clockwise from north."},
        "walk_min": {"type": "number", "description": "Minutes on foot at 4.5 km/h over distance_m (a straight "
                                                     "line, or the streets with mode=network)."},
        "ride_min": {"type": "number", "description": "Minutes by e-bike at 15 km/h over distance_m."},
        "straight_m": {"type": "number", "minimum": 0,
                       "description": "mode=network only: the geodesic (ground) distance in metres."},
        "time_min": {"type": "number", "minimum": 0,
                     "description": "mode=network only: minutes along the quickest path at the `profile`'s "
                                    "speeds per street class (the order of the results)."},
        "open_now": _nullable({"type": "boolean", "description": "Open at `at`; null when the hours are unknown. "
                                                                 "Never true unless status is open."}),
        "next_change": _nullable({"type": "string", "description": "When open_now next changes (ISO 8601)."}),
        "opening_hours": {"type": "string", "description": "OpenStreetMap opening_hours syntax; empty if unknown."},
        "amenities": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string"}, "source": {"type": "string"},
        "nav": {"$ref": "#/components/schemas/NavLinks"},
    },
}
_NEAREST_PROPS = {k: v for k, v in _NEAREST_RESULT["properties"].items() if k not in ("lon", "lat")}
_NEAREST_HEAD = {**_META, "at": {"type": "string", "description": "Time open_now refers to (ISO 8601)."},
                 "query": {"type": "object"}, "count": {"type": "integer"}}

OPENAPI_COMPONENTS: dict[str, dict[str, Any]] = {"schemas": {
    "NavLinks": {
        "type": "object", "required": list(NAV_APPS),
        "description": "Links that open the station in each app, in the system it expects: "
                       + ", ".join(f"{app} {system}" for app, system in NAV_SYSTEMS.items())
                       + " (Apple Maps uses GCJ-02 inside mainland China).",
        "properties": {app: {"type": "string"} for app in NAV_APPS},
    },
    "NearestResult": _NEAREST_RESULT,
    "NearestAnswer": {"type": "object", "required": [*_META_REQUIRED, "at", "query", "count", "results"],
                      "properties": {**_NEAREST_HEAD, "results": {
                          "type": "array", "items": {"$ref": "#/components/schemas/NearestResult"}}}},
    "NearestFeatureCollection": {
        "type": "object", "required": ["type", "features", "data_version", "stale"],
        "properties": {**_NEAREST_HEAD, "type": {"type": "string", "enum": ["FeatureCollection"]},
                       "features": {"type": "array", "items": _feature_schema(
                           "#/components/schemas/NearestProperties")}}},
    "NearestProperties": {"type": "object", "required": list(_NEAREST_PROPS), "properties": _NEAREST_PROPS},
    "Station": _record_schema(STATIONS),
    "Booth": _record_schema(BOOTHS),
}}
for _name in ("Station", "Booth"):
    _props = {k: v for k, v in OPENAPI_COMPONENTS["schemas"][_name]["properties"].items() if k not in ("lon", "lat")}
    OPENAPI_COMPONENTS["schemas"][f"{_name}Properties"] = {"type": "object", "required": list(_props),
                                                            "properties": _props}
    _page_head = {**_META, "total": {"type": "integer"}, "count": {"type": "integer"},
                  "limit": {"type": "integer"}, "offset": {"type": "integer"}, "links": _LINKS}
    OPENAPI_COMPONENTS["schemas"][f"{_name}Page"] = {
        "type": "object", "required": [*_META_REQUIRED, "total", "count", "limit", "offset", "links", "items"],
        "properties": {**_page_head, "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{_name}"}}}}
    OPENAPI_COMPONENTS["schemas"][f"{_name}FeatureCollection"] = {
        "type": "object", "required": ["type", "features", "total", "links"],
        "properties": {**_page_head, "type": {"type": "string", "enum": ["FeatureCollection"]},
                       "features": {"type": "array", "items": _feature_schema(
                           f"#/components/schemas/{_name}Properties")}}}
    OPENAPI_COMPONENTS["schemas"][f"{_name}One"] = {
        "type": "object", "required": [*_META_REQUIRED, "item"],
        "properties": {**_META, "item": {"$ref": f"#/components/schemas/{_name}"}}}
    OPENAPI_COMPONENTS["schemas"][f"{_name}Feature"] = {
        **_feature_schema(f"#/components/schemas/{_name}Properties"),
        "required": ["type", "geometry", "properties", "data_version", "stale", "crs"]}
    OPENAPI_COMPONENTS["schemas"][f"{_name}Feature"]["properties"] = {
        **_feature_schema(f"#/components/schemas/{_name}Properties")["properties"], **_META}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _listing_op(endpoint: str, name: str, what: str) -> dict[str, Any]:
    return openapi.operation(
        endpoint, summary=f"List {what}",
        description=f"{what.capitalize()} filtered by bbox, status and subdistrict, ordered by id, a page at a "
                    "time; `links.next` (and the Link header) give the next page.",
        responses={"200": {"description": f"A page of {what}.", "content": {
            "application/json": {"schema": _ref(f"{name}Page")},
            GEOJSON: {"schema": _ref(f"{name}FeatureCollection")},
            "text/csv": {"schema": {"type": "string"}}}}})


def _one_op(endpoint: str, name: str, what: str, id_name: str) -> dict[str, Any]:
    return openapi.operation(
        endpoint, summary=f"One {what}", description=f"The {what} with this id.", errors=("400", "404", "503"),
        path_params=({"name": id_name, "in": "path", "required": True, "schema": {"type": "string"},
                      "description": f"The {what}'s id."},),
        responses={"200": {"description": f"The {what}.", "content": {
            "application/json": {"schema": _ref(f"{name}One")}, GEOJSON: {"schema": _ref(f"{name}Feature")}}}})


OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/nearest": {"get": openapi.operation(
        "nearest", summary="Nearest stations",
        description="The k stations nearest to a point among those passing every filter, by ground (geodesic) "
                    "distance, or with mode=network the k quickest to reach along the streets for `profile`; "
                    "with walking and riding times and links into map apps. mode=network answers 422 "
                    "(not-routable) where the data has no streets or the point is over 150 m from any.",
        errors=("400", "422", "503"),
        responses={"200": {"description": "Stations, nearest first.", "content": {
            "application/json": {"schema": _ref("NearestAnswer")},
            GEOJSON: {"schema": _ref("NearestFeatureCollection")}}}})},
    "/api/v1/stations": {"get": _listing_op("stations", "Station", "stations")},
    "/api/v1/stations/{station_id}": {"get": _one_op("station", "Station", "station", "station_id")},
    "/api/v1/booths": {"get": _listing_op("booths", "Booth", "booths")},
    "/api/v1/booths/{booth_id}": {"get": _one_op("booth", "Booth", "booth", "booth_id")},
    "/api/v1/openapi.json": {"get": openapi.operation(
        "openapi", summary="This document", description="The OpenAPI 3 description of the API.", errors=("400",),
        tags=("meta",), responses={"200": {"description": "OpenAPI document.",
                                           "content": {"application/json": {"schema": {"type": "object"}}}}})},
}
