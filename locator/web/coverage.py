"""Blueprint `coverage`: how well the streets are covered, per subdistrict and per street segment.

``GET /api/v1/coverage`` gives one row per subdistrict (covered street length and share per threshold, station
counts, worst-served streets); ``GET /api/v1/coverage/streets`` the segments in a box with their distance
band, as GeoJSON in the requested ``crs``, a page at a time. Both are computed once per data snapshot and
set of counted stations (see ``core.coverage.snapshot_coverage``) and say ``computed_at`` and ``data_version``.
Parameters are declared as data in ``params.ENDPOINTS`` (added here for this blueprint's two endpoints).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from locator import crs as crs_mod
from locator.core.coverage import (
    DEFAULT_THRESHOLDS_M,
    MODES,
    coverage_by_subdistrict,
    distance_bands,
    make_thresholds,
    open_mask,
    snapshot_coverage,
)
from locator.core.network import PROFILES
from locator.hours import TZ
from locator.web import openapi, params
from locator.web.params import BBOX, CRS, OFFSET, Param, _bad, _choice, _integer, _items, _number, read_datetime

bp = Blueprint("coverage", __name__)

GEOJSON = "application/geo+json"
MAX_THRESHOLD_M = 50_000.0
MAX_THRESHOLD_MIN = 180.0
DEFAULT_STREETS_LIMIT = 1000
MAX_STREETS_LIMIT = 5000


def _read_list(high: float):  # noqa: ANN202
    def read(raw: str, name: str) -> list[float]:
        return [_number(v, name, 0.0, high, low_open=True) for v in _items(raw, name)]

    return read


def _read_text(raw: str, name: str) -> str:
    text = raw.strip()
    if len(text) > 100:
        raise _bad(name, "at most 100 characters")
    return text


def _read_streets_limit(raw: str, name: str) -> int:
    return _integer(raw, name, 1, MAX_STREETS_LIMIT)


THRESHOLD_M = Param("threshold_m", "Network distances (metres) to report coverage at; comma-separated or "
                    f"repeated. Default {', '.join(f'{v:g}' for v in DEFAULT_THRESHOLDS_M)} when neither this nor "
                    "threshold_min is given.",
                    {"type": "array", "items": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                                "maximum": MAX_THRESHOLD_M}, "minItems": 1},
                    _read_list(MAX_THRESHOLD_M), "500,1000,2000", explode=False, default=())
THRESHOLD_MIN = Param("threshold_min", "Travel times (minutes, by the profile) to report coverage at.",
                      {"type": "array", "items": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                                  "maximum": MAX_THRESHOLD_MIN}, "minItems": 1},
                      _read_list(MAX_THRESHOLD_MIN), "5,10", explode=False, default=())
PROFILE = Param("profile", "Travel profile: walk (ignores one-way) or ebike (obeys one-way, pushed on footways).",
                {"type": "string", "enum": list(PROFILES), "default": "walk"}, _choice(tuple(PROFILES)), "ebike",
                default="walk")
AT = Param("at", "Count only stations open at this ISO 8601 time (Asia/Shanghai without an offset); default: "
           "every station whose status is open, whatever its hours.", {"type": "string", "format": "date-time"},
           read_datetime, "2026-11-02T23:00:00+08:00")
SUBDISTRICT_ONE = Param("subdistrict", "One subdistrict by 12-digit code or by name (街道 name, with or without "
                        "办事处); default all.", {"type": "string", "maxLength": 100}, _read_text, "110105001000")
MODE = Param("mode", "network: along the streets; straight: straight lines (no street data needed).",
             {"type": "string", "enum": list(MODES), "default": "network"}, _choice(MODES), "network",
             default="network")
STREETS_LIMIT = Param("limit", f"Page size (1-{MAX_STREETS_LIMIT} segments).",
                      {"type": "integer", "minimum": 1, "maximum": MAX_STREETS_LIMIT,
                       "default": DEFAULT_STREETS_LIMIT}, _read_streets_limit, "500", default=DEFAULT_STREETS_LIMIT)
BBOX_REQUIRED = Param(BBOX.name, BBOX.description, BBOX.schema, BBOX.read, BBOX.example, required=True,
                      explode=False)

params.ENDPOINTS["coverage"] = (THRESHOLD_M, THRESHOLD_MIN, PROFILE, AT, SUBDISTRICT_ONE, MODE)
params.ENDPOINTS["coverage_streets"] = (BBOX_REQUIRED, CRS, THRESHOLD_M, THRESHOLD_MIN, PROFILE, AT, MODE,
                                        STREETS_LIMIT, OFFSET)
_REPEATABLE = ("threshold_m", "threshold_min")


def _query(endpoint: str) -> dict[str, object]:
    # thresholds may be repeated as well as comma-separated: join them before the one-value-per-name parser
    args = MultiDict(request.args)
    for name in _REPEATABLE:
        if len(args.getlist(name)) > 1:
            args.setlist(name, [",".join(args.getlist(name))])
    return params.parse_query(endpoint, args)


def _finite(value: float, places: int = 1) -> float | None:
    return round(float(value), places) if value is not None and math.isfinite(value) else None


def _compute(query: dict[str, object]):  # noqa: ANN202
    from locator.web import data_state

    state = data_state()
    snapshot = state.current()
    thresholds = make_thresholds(metres=query["threshold_m"], minutes=query["threshold_min"])  # type: ignore[arg-type]
    at: datetime | None = query["at"]  # type: ignore[assignment]
    cov, counted = snapshot_coverage(snapshot, profile=str(query["profile"]), at=at, mode=str(query["mode"]))
    meta = {"data_version": snapshot.version, "stale": bool(state.stale),
            "computed_at": cov.computed_at.isoformat(timespec="seconds"), "profile": cov.profile.name,
            "mode": cov.mode, "at": None if at is None else at.isoformat(timespec="seconds"),
            "thresholds": [{"value": t.value, "unit": t.unit, "label": t.label} for t in thresholds]}
    return snapshot, cov, counted, thresholds, meta


@bp.get("/api/v1/coverage")
def coverage() -> ResponseReturnValue:
    query = _query("coverage")
    snapshot, cov, counted, thresholds, meta = _compute(query)
    stations = snapshot.layer("stations")
    now = datetime.now(TZ)
    table = coverage_by_subdistrict(cov, snapshot.derived("street_graph"), subdistricts=snapshot.layer("subdistricts"),
                                    stations=stations, counted=counted, open_now=open_mask(stations, at=now),
                                    thresholds=thresholds, subdistrict=query["subdistrict"])  # type: ignore[arg-type]
    rows = []
    for record in table.to_dict(orient="records"):
        row = {k: (_finite(v, 4) if isinstance(v, float) else v) for k, v in record.items()}
        rows.append(row)
    far = cov.stations[cov.stations["far"]]
    return jsonify({
        **meta, "open_now_at": now.isoformat(timespec="seconds"),
        "approximate": bool(table["approximate"].any()) if len(table) else False,
        "stations_counted": int(counted.sum()),
        "far_stations": [{"id": r.id, "name": r.name, "snap_m": _finite(r.snap_m)} for r in far.itertuples()],
        "subdistricts": rows,
    })


def _segment_tree(snapshot) -> shapely.STRtree:  # noqa: ANN001
    graph = snapshot.derived("street_graph")
    return shapely.STRtree(graph.segment_geometries())


def _bbox_in_work(bbox: tuple[float, float, float, float], system: str, work: str) -> shapely.Geometry:
    """The box drawn in lon/lat of ``system``, as a polygon in the work CRS (densified: it is not a box there)."""
    minlon, minlat, maxlon, maxlat = bbox
    # Streets lie in the service area: clip the box to it (1 degree of margin covers GCJ-02/BD-09 offsets), so a
    # box reaching where the work CRS can't draw (another hemisphere: inf) still finds the streets inside it.
    from locator.config import service_area_bounds

    area = service_area_bounds(current_app.config["SERVICE_AREA"])
    minlon, minlat = max(minlon, area[0] - 1.0), max(minlat, area[1] - 1.0)
    maxlon, maxlat = min(maxlon, area[2] + 1.0), min(maxlat, area[3] + 1.0)
    if minlon > maxlon or minlat > maxlat:
        return shapely.Polygon()
    # a box of zero width or height (a point, a line) is widened to ~1 cm: GEOS can't densify a degenerate polygon
    bbox = (minlon, minlat, max(maxlon, minlon + 1e-7), max(maxlat, minlat + 1e-7))
    box = shapely.segmentize(shapely.box(*bbox), max((bbox[2] - bbox[0]), (bbox[3] - bbox[1])) / 16)
    ring = shapely.get_coordinates(box)
    x, y = crs_mod.lonlat_to_work_xy(ring[:, 0], ring[:, 1], system=system, work=work)  # type: ignore[arg-type]
    return shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))


@bp.get("/api/v1/coverage/streets")
def coverage_streets() -> ResponseReturnValue:
    query = _query("coverage_streets")
    snapshot, cov, _counted, thresholds, meta = _compute(query)
    graph = snapshot.derived("street_graph")
    system = str(query["crs"])
    work = graph.crs or str(current_app.config["WORK_CRS"])
    area = _bbox_in_work(query["bbox"], system, work)  # type: ignore[arg-type]
    hits = np.sort(snapshot.derived("segment_tree", _segment_tree).query(area, predicate="intersects"))
    offset, limit = int(query["offset"]), int(query["limit"])  # type: ignore[call-overload]
    page = hits[offset:offset + limit]
    segs = cov.segments.iloc[page]
    band_thresholds = [t for t in thresholds if t.unit == "m"] or thresholds
    unit = band_thresholds[0].unit
    measure = segs["distance_m" if unit == "m" else "time_min"].to_numpy(dtype=float)
    bands = distance_bands(measure, [t.value for t in band_thresholds if t.unit == unit])
    geoms = crs_mod.from_work(_series(graph.segment_geometries(page), work), system=system)  # type: ignore[arg-type]
    features = []
    for geom, band, rec in zip(geoms, bands, segs.to_dict(orient="records"), strict=True):
        coords = np.round(shapely.get_coordinates(geom), 7).tolist()
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                         "properties": {
                             "segment": int(rec["segment"]), "street_id": rec["street_id"], "name": rec["name"],
                             "highway": rec["highway"], "length_m": _finite(rec["length_m"]),
                             "distance_m": _finite(rec["distance_m"]), "time_min": _finite(rec["time_min"], 2),
                             "station_id": rec["station_id"], "second_distance_m": _finite(rec["second_distance_m"]),
                             "second_station_id": rec["second_station_id"], "band": str(band)}})
    links = []
    if offset + limit < len(hits):
        args = MultiDict(request.args)
        args["offset"] = str(offset + limit)
        links.append({"rel": "next", "href": f"{request.path}?{_encode(args)}"})
    body: dict[str, Any] = {"type": "FeatureCollection", **meta, "crs": system, "band_unit": unit,
                            "numberMatched": int(len(hits)), "numberReturned": len(features), "links": links,
                            "features": features}
    return Response(current_app.json.dumps(body), mimetype=GEOJSON)


def _series(geoms: np.ndarray, work: str):  # noqa: ANN202
    import geopandas as gpd

    return gpd.GeoSeries(geoms, crs=work)


def _encode(args: MultiDict) -> str:
    from urllib.parse import urlencode

    return urlencode(list(args.items(multi=True)))


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/coverage": {"get": openapi.operation(
        "coverage", summary="Street coverage per subdistrict",
        description="Per subdistrict: street length, length and share within each threshold of the nearest "
                    "counted station (along the streets, from each segment's midpoint), station counts and the "
                    "worst-served named streets. `approximate` marks stand-in (Voronoi) subdistrict polygons.",
        responses={"200": {"description": "Coverage table", "content": {"application/json": {"schema": {
            "type": "object"}}}}}, errors=("400", "404", "503"), tags=("coverage",))},
    "/api/v1/coverage/streets": {"get": openapi.operation(
        "coverage_streets", summary="Street segments with their distance band (GeoJSON)",
        description="Segments intersecting `bbox`, with distance, time and second-nearest distance and a band "
                    "label; paged by `limit`/`offset`, `links.next` gives the next page.",
        responses={"200": {"description": "GeoJSON FeatureCollection", "content": {GEOJSON: {"schema": {
            "type": "object"}}}}}, tags=("coverage",))},
}
