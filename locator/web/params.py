"""Query parameters as data: one declaration per endpoint, read by the handlers and by the OpenAPI document.

``ENDPOINTS`` names every parameter an endpoint accepts, with its OpenAPI schema, an example and the function
that reads it. ``parse_query`` reports anything else as an unknown parameter (400), a parameter given twice,
and every bad value, as ``InvalidParameter`` naming the parameter; ``openapi_parameters`` turns the same
declaration into the OpenAPI ``parameters`` list. One source of truth, so the document can't drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from locator.crs import COORD_SYSTEMS, parse_coord_system
from locator.errors import InvalidParameter, UnknownParameter
from locator.hours import TZ
from locator.model import AMENITY_KEYS, BOOTH_STATUSES, STATION_STATUSES, parse_amenities

DEFAULT_K = 5
MAX_K = 50
MAX_RADIUS_M = 50_000.0  # a courier rides at most a few kilometres to rest; 50 km covers any sane question
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
MAX_VALUE_CHARS = 1000  # no parameter needs more (50 subdistrict codes take 649); longer ones are refused unread
MAX_LIST_ITEMS = 50


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    read: Callable[[str, str], object]  # (raw value, parameter name) -> value; raises InvalidParameter
    example: str
    required: bool = False
    default: object = None
    explode: bool | None = None  # False for comma-separated arrays (OpenAPI style=form, explode=false)
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(name: str, detail: str) -> InvalidParameter:
    return InvalidParameter(f"{name}: {detail}", param=name)


def _number(raw: str, name: str, low: float, high: float, *, low_open: bool = False) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, f"must be a number (got {raw[:40]!r})") from None
    if not math.isfinite(value):
        raise _bad(name, "must be a finite number")
    if value < low or value > high or (low_open and value == low):
        opening = "(" if low_open else "["
        raise _bad(name, f"must be in {opening}{low:g}, {high:g}] (got {value:g})")
    return value


def _integer(raw: str, name: str, low: int, high: int) -> int:
    text = raw.strip()
    if not text.lstrip("+-").isdigit() or len(text) > 12:
        raise _bad(name, f"must be a whole number (got {raw[:40]!r})")
    value = int(text)
    if value < low or value > high:
        raise _bad(name, f"must be between {low} and {high} (got {value})")
    return value


def _items(raw: str, name: str) -> list[str]:
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if not items:
        raise _bad(name, "needs at least one value")
    if len(items) > MAX_LIST_ITEMS:
        raise _bad(name, f"at most {MAX_LIST_ITEMS} values")
    return items


def read_lon(raw: str, name: str) -> float:
    return _number(raw, name, -180.0, 180.0)


def read_lat(raw: str, name: str) -> float:
    return _number(raw, name, -90.0, 90.0)


def read_crs(raw: str, name: str) -> str:
    return parse_coord_system(raw, param=name)


def read_k(raw: str, name: str) -> int:
    return _integer(raw, name, 1, MAX_K)


def read_radius(raw: str, name: str) -> float:
    return _number(raw, name, 0.0, MAX_RADIUS_M, low_open=True)


def read_amenity(raw: str, name: str) -> list[str]:
    keys, _unknown = parse_amenities(_items(raw, name), strict=True)  # the 400 lists the valid names
    return keys


def read_bool(raw: str, name: str) -> bool:
    text = raw.strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise _bad(name, f"must be true or false (got {raw[:40]!r})")


def read_datetime(raw: str, name: str) -> datetime:
    """ISO 8601 date and time; without an offset it is Asia/Shanghai time."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(name, f"must be an ISO 8601 date and time such as 2026-11-02T12:30 (got {raw[:40]!r})") from None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def read(raw: str, name: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise InvalidParameter(f"{name} must be one of {', '.join(choices)} (got {raw[:40]!r})",
                                   param=name, valid=list(choices))
        return value

    return read


def _choices(choices: tuple[str, ...]) -> Callable[[str, str], list[str]]:
    def read(raw: str, name: str) -> list[str]:
        values = _items(raw, name)
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise InvalidParameter(f"unknown {name} {', '.join(unknown)}; valid: {', '.join(choices)}",
                                   param=name, valid=list(choices))
        return list(dict.fromkeys(values))

    return read


def read_subdistricts(raw: str, name: str) -> list[str]:
    values = _items(raw, name)
    bad = [v for v in values if not (len(v) == 12 and v.isdigit())]
    if bad:
        raise _bad(name, f"not 12-digit statistical codes: {', '.join(bad[:5])}")
    return values


def read_bbox(raw: str, name: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    if len(parts) != 4:
        raise _bad(name, "must be minlon,minlat,maxlon,maxlat")
    minlon, maxlon = (_number(parts[i], name, -180.0, 180.0) for i in (0, 2))
    minlat, maxlat = (_number(parts[i], name, -90.0, 90.0) for i in (1, 3))
    if minlon > maxlon or minlat > maxlat:
        raise _bad(name, "needs minlon <= maxlon and minlat <= maxlat")
    return minlon, minlat, maxlon, maxlat


def read_limit(raw: str, name: str) -> int:
    return _integer(raw, name, 1, MAX_LIMIT)


def read_offset(raw: str, name: str) -> int:
    return _integer(raw, name, 0, MAX_OFFSET)


# ---------------------------------------------------------------------------------------------------------------
# The declarations

CRS = Param("crs", "Coordinate system of every coordinate in the request and in the answer: wgs84 (GPS), "
            "gcj02 (Amap, Tencent) or bd09 (Baidu).",
            {"type": "string", "enum": list(COORD_SYSTEMS), "default": "wgs84"}, read_crs, "gcj02",
            default="wgs84")
LON = Param("lon", "Longitude of the query point, in `crs`.",
            {"type": "number", "minimum": -180, "maximum": 180}, read_lon, "116.4074", required=True)
LAT = Param("lat", "Latitude of the query point, in `crs`.",
            {"type": "number", "minimum": -90, "maximum": 90}, read_lat, "39.9042", required=True)
K = Param("k", f"How many stations to return (1-{MAX_K}).",
          {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K}, read_k, "3", default=DEFAULT_K)
RADIUS = Param("radius_m", f"Leave out stations farther than this many metres (ground distance; along the "
               f"streets with mode=network; at most {MAX_RADIUS_M:g}).",
               {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": MAX_RADIUS_M}, read_radius, "2000")
AMENITY = Param("amenity", "Comma-separated amenities a station must all have; unknown names are a 400 that "
                "lists the valid ones (Chinese labels such as 微波炉 are accepted too).",
                {"type": "array", "items": {"type": "string", "enum": list(AMENITY_KEYS)}, "minItems": 1,
                 "maxItems": len(AMENITY_KEYS)}, read_amenity, "microwave,toilet", explode=False, default=())
OPEN_NOW = Param("open_now", "true: only stations open now (status open and opening hours say open; unknown "
                 "hours do not count).", {"type": "boolean", "default": False}, read_bool, "true", default=False)
OPEN_AT = Param("open_at", "Only stations open at this ISO 8601 date and time (Asia/Shanghai when it has no "
                "offset); also the time `open_now` and `next_change` in the answer refer to. Not with open_now=true.",
                {"type": "string", "format": "date-time"}, read_datetime, "2026-11-02T12:30:00+08:00")
NEAREST_STATUS = Param("status", "Comma-separated station statuses to consider (default: open and "
                       "temporarily_closed; closed and planned stations are not places to go).",
                       {"type": "array", "items": {"type": "string", "enum": list(STATION_STATUSES)}, "minItems": 1},
                       _choices(STATION_STATUSES), "open", explode=False,
                       default=("open", "temporarily_closed"))
STATION_STATUS = Param("status", "Comma-separated station statuses to keep.",
                       {"type": "array", "items": {"type": "string", "enum": list(STATION_STATUSES)}, "minItems": 1},
                       _choices(STATION_STATUSES), "open,planned", explode=False)
BOOTH_STATUS = Param("status", "Comma-separated booth statuses to keep.",
                     {"type": "array", "items": {"type": "string", "enum": list(BOOTH_STATUSES)}, "minItems": 1},
                     _choices(BOOTH_STATUSES), "candidate", explode=False)
SUBDISTRICT = Param("subdistrict", "Comma-separated 12-digit subdistrict codes (街道/乡镇 统计用区划代码).",
                    {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{12}$"}, "minItems": 1,
                     "maxItems": MAX_LIST_ITEMS}, read_subdistricts, "110105001000", explode=False)
BBOX = Param("bbox", "minlon,minlat,maxlon,maxlat in `crs`.",
             {"type": "array", "items": {"type": "number", "minimum": -180, "maximum": 180}, "minItems": 4,
              "maxItems": 4}, read_bbox,
             "116.3,39.8,116.5,40.0", explode=False)
LIMIT = Param("limit", f"Page size (1-{MAX_LIMIT}).",
              {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, read_limit, "50",
              default=DEFAULT_LIMIT)
OFFSET = Param("offset", "Rows to skip (rows are ordered by id); follow `links.next` rather than counting.",
               {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}, read_offset, "0", default=0)


NEAREST_MODE = Param("mode", "How stations are ranked: straight (ground distance) or network (along the streets "
                     "for `profile`: quickest first, one-way streets obeyed by e-bike; needs a streets layer, and "
                     "the point within 150 m of a street).",
                     {"type": "string", "enum": ["straight", "network"], "default": "straight"},
                     _choice(("straight", "network")), "straight", default="straight")
NEAREST_PROFILE = Param("profile", "With mode=network: who travels, walk or ebike (speeds by street class; "
                        "motorways never). Ignored with mode=straight.",
                        {"type": "string", "enum": ["walk", "ebike"], "default": "walk"},
                        _choice(("walk", "ebike")), "ebike", default="walk")


def _format(choices: tuple[str, ...], default: str) -> Param:
    return Param("format", f"Answer format: {', '.join(choices)}.",
                 {"type": "string", "enum": list(choices), "default": default}, _choice(choices), choices[-1],
                 default=default)


ENDPOINTS: dict[str, tuple[Param, ...]] = {
    "nearest": (LON, LAT, CRS, K, RADIUS, AMENITY, OPEN_NOW, OPEN_AT, NEAREST_STATUS, NEAREST_MODE,
                NEAREST_PROFILE, _format(("json", "geojson"), "json")),
    "stations": (BBOX, CRS, AMENITY, STATION_STATUS, SUBDISTRICT, LIMIT, OFFSET,
                 _format(("json", "geojson", "csv"), "json")),
    "station": (CRS, _format(("json", "geojson"), "json")),
    "booths": (BBOX, CRS, BOOTH_STATUS, SUBDISTRICT, LIMIT, OFFSET, _format(("json", "geojson", "csv"), "json")),
    "booth": (CRS, _format(("json", "geojson"), "json")),
    "openapi": (),
}


def parse_query(endpoint: str, args: Mapping[str, Any]) -> dict[str, object]:
    """Read a request's query string for ``endpoint``: every declared parameter (defaults filled in).

    ``args`` is a werkzeug MultiDict (anything with ``getlist`` and ``keys``). Raises UnknownParameter
    naming parameters the endpoint does not take, InvalidParameter for repeated or bad values.
    """
    declared = {p.name: p for p in ENDPOINTS[endpoint]}
    unknown = [name for name in args if name not in declared]
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:10])
        raise UnknownParameter(f"unknown parameter {shown}; valid: {', '.join(declared) or '(none)'}",
                               param=unknown[0][:100], unknown=[n[:100] for n in unknown[:10]], valid=list(declared))
    values: dict[str, object] = {}
    for name, param in declared.items():
        raw_values = args.getlist(name) if name in args else []
        if len(raw_values) > 1:
            raise _bad(name, "given more than once")
        if not raw_values:
            if param.required:
                raise _bad(name, "is required")
            values[name] = param.default
            continue
        raw = raw_values[0]
        if len(raw) > MAX_VALUE_CHARS:
            raise _bad(name, f"longer than {MAX_VALUE_CHARS} characters")
        if not raw.strip():
            raise _bad(name, "is empty")
        values[name] = param.read(raw, name)
    return values


def openapi_parameters(endpoint: str) -> list[dict[str, Any]]:
    """The OpenAPI 3 ``parameters`` list of an endpoint's query parameters."""
    out = []
    for param in ENDPOINTS[endpoint]:
        item: dict[str, Any] = {"name": param.name, "in": "query", "required": param.required,
                                "description": param.description, "schema": dict(param.schema),
                                "example": _example(param)}
        if param.explode is not None:
            item["style"], item["explode"] = "form", param.explode
        out.append(item)
    return out


def _example(param: Param) -> object:
    if param.schema.get("type") == "array":
        kind = param.schema["items"].get("type")
        return [float(v) if kind == "number" else v for v in param.example.split(",")]
    if param.schema.get("type") == "number":
        return float(param.example)
    if param.schema.get("type") == "integer":
        return int(param.example)
    if param.schema.get("type") == "boolean":
        return param.example == "true"
    return param.example
