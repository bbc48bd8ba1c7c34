"""The four layers locator keeps (stations, booths, subdistricts, streets): their columns and validation.

A schema is data: each column has a type, a default and a description, so that the importer, the
stores and the documentation all read the same list. ``conform`` gives any frame the layer's exact
columns and dtypes; ``validate`` finds what breaks the rules, row by row, without raising.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import pandas as pd

from locator.errors import InvalidParameter


@dataclass(frozen=True)
class Amenity:
    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


# The fixed vocabulary. Aliases are the words real station lists use in their 服务项目 column.
AMENITIES: tuple[Amenity, ...] = (
    Amenity("drinking_water", "饮用水", "Drinking water",
            ("饮水", "喝水", "开水", "直饮水", "饮水机", "茶水", "water")),
    Amenity("hot_water", "热水", "Hot water", ("热水器", "热饮", "hot water")),
    Amenity("microwave", "微波炉", "Microwave", ("热饭", "加热", "微波", "microwave oven")),
    Amenity("phone_charging", "手机充电", "Phone charging", ("充电", "手机充电器", "充电宝", "charging")),
    Amenity("ebike_charging", "电动车充电", "E-bike battery charging",
            ("电瓶车充电", "电动车换电", "换电", "电池充电")),
    Amenity("toilet", "卫生间", "Toilet", ("厕所", "如厕", "洗手间", "公厕", "toilets", "wc")),
    Amenity("air_conditioning", "空调", "Air conditioning", ("冷气", "纳凉", "避暑", "降温")),
    Amenity("heating", "暖气", "Heating", ("取暖", "供暖", "暖风")),
    Amenity("seating", "座椅", "Seating", ("休息", "歇脚", "桌椅", "休息座椅", "座位", "seats")),
    Amenity("wifi", "无线网络", "Wi-Fi", ("wifi", "wi-fi", "无线网", "上网")),
    Amenity("first_aid", "急救箱", "First aid kit", ("医药箱", "药箱", "应急药品", "急救", "常用药品")),
    Amenity("umbrella_loan", "雨具借用", "Umbrella/raincoat loan", ("雨伞", "雨衣", "借伞", "雨具")),
    Amenity("repair_tools", "维修工具", "Repair tools", ("打气筒", "维修", "工具箱", "修车", "打气")),
    Amenity("refrigerator", "冰箱", "Refrigerator", ("冷藏",)),
    Amenity("reading_corner", "阅读角", "Reading corner", ("书报", "图书", "阅读", "书籍")),
)
AMENITY_KEYS: tuple[str, ...] = tuple(a.key for a in AMENITIES)
_AMENITY_LOOKUP: dict[str, str] = {}
for _amenity in AMENITIES:
    for _word in (_amenity.key, _amenity.zh, _amenity.en, *_amenity.aliases):
        _AMENITY_LOOKUP[_word.lower()] = _amenity.key

STATION_STATUSES = ("open", "temporarily_closed", "closed", "planned")
BOOTH_STATUSES = ("candidate", "planned", "converted", "removed")
KNOWN_SOURCES = ("public-report", "demo", "import")
STREET_ACCESS = ("", "foot", "bicycle")

_LIST_SPLIT = re.compile(r"[;,，、；/|\s]+")


def parse_amenities(value: object, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """Split a list or free text into vocabulary keys and the words that matched nothing.

    Accepts keys (``microwave``), Chinese and English labels and common aliases, separated by any
    of ``; , ， 、 ； / |`` or spaces. With ``strict`` an unknown word raises ``InvalidParameter``.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return [], []
    words = value if isinstance(value, list | tuple) else _LIST_SPLIT.split(str(value))
    found: set[str] = set()
    unknown: list[str] = []
    for raw in words:
        word = str(raw).strip()
        if not word:
            continue
        key = _AMENITY_LOOKUP.get(word.lower()) or _match_inside(word)
        if key:
            found.add(key)
        else:
            unknown.append(word)
    if strict and unknown:
        msg = f"unknown amenity {', '.join(unknown)}; valid: {', '.join(AMENITY_KEYS)}"
        raise InvalidParameter(msg, param="amenity", valid=list(AMENITY_KEYS))
    return [k for k in AMENITY_KEYS if k in found], unknown


def _match_inside(word: str) -> str | None:
    """Free text like ``提供微波炉热饭`` names an amenity inside a longer phrase: take the longest label."""
    best: tuple[int, str] | None = None
    for label, key in _AMENITY_LOOKUP.items():
        if len(label) >= 2 and not label.isascii() and label in word and (best is None or len(label) > best[0]):
            best = (len(label), key)
    return best[1] if best else None


def format_amenities(keys: list[str] | tuple[str, ...]) -> str:
    """Store amenities as ``;``-joined keys in vocabulary order, as OpenStreetMap joins lists."""
    wanted = set(keys)
    return ";".join(k for k in AMENITY_KEYS if k in wanted)


def split_amenities(stored: object) -> list[str]:
    """The inverse of ``format_amenities`` for a stored value."""
    if not isinstance(stored, str) or not stored:
        return []
    return [k for k in stored.split(";") if k]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "bool", "date"
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    default: object = ""


@dataclass(frozen=True)
class Layer:
    name: str
    geometry: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str
    key: str = "id"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, description: str, **kw: object) -> Column:
    return Column(name, kw.pop("kind", "str"), description, **kw)  # type: ignore[arg-type]


STATIONS = Layer(
    "stations",
    ("Point",),
    (
        _c("id", "Stable identifier; made from name and address where the source has none.", required=True),
        _c("name", "Station name as the operator writes it (user text: always escaped when shown).", required=True),
        _c("address", "Street address."),
        _c("district", "District (区), e.g. 顺义区."),
        _c("subdistrict", "12-digit statistical code of the subdistrict (街道/乡镇), where known."),
        _c("operator", "Who runs it: a trade union, a company, a community."),
        _c("amenities", "';'-joined keys from the amenity vocabulary (model.AMENITY_KEYS)."),
        _c("opening_hours", "OpenStreetMap opening_hours syntax; empty when unknown or not understood."),
        _c("opening_hours_raw", "The hours exactly as the source gave them (kept when not understood)."),
        _c("phone", "Contact phone number."),
        _c("status", "open, temporarily_closed, closed or planned.", choices=STATION_STATUSES, default="open"),
        _c("converted_from_booth", "Id of the testing booth this station was converted from, if any."),
        _c("source", "Where the record comes from: public-report, demo, or the imported file.", default="import"),
        _c("verified_at", "Date (YYYY-MM-DD) the record was last checked.", kind="date"),
    ),
    "Rest stations for outdoor workers (户外劳动者服务站点, 暖心驿站).",
)

BOOTHS = Layer(
    "booths",
    ("Point",),
    (
        _c("id", "Stable identifier.", required=True),
        _c("address", "Street address of the booth."),
        _c("district", "District (区)."),
        _c("subdistrict", "12-digit statistical code of the subdistrict."),
        _c("status", "candidate, planned, converted or removed.", choices=BOOTH_STATUSES, default="candidate"),
        _c("station_id", "Id of the station it became, once converted."),
        _c("notes", "Free notes."),
        _c("source", "Where the record comes from: public-report, demo, or the imported file.", default="import"),
    ),
    "Former nucleic-acid testing booths (核酸采样亭), candidates for conversion into stations.",
)

SUBDISTRICTS = Layer(
    "subdistricts",
    ("Polygon", "MultiPolygon"),
    (
        _c("code", "12-digit statistical code (统计用区划代码).", required=True),
        _c("name", "Name, e.g. 空港街道.", required=True),
        _c("district", "District (区)."),
        _c("approximate", "True where the polygon is a stand-in (Voronoi cell of the centre point).",
           kind="bool", default=False),
        _c("source", "Where the record comes from.", default="import"),
    ),
    "Subdistricts and towns (街道/乡镇).",
    key="code",
)

STREETS = Layer(
    "streets",
    ("LineString", "MultiLineString"),
    (
        _c("id", "Stable identifier (e.g. the OSM way id).", required=True),
        _c("name", "Street name (name:zh preferred)."),
        _c("highway", "OpenStreetMap highway class, e.g. residential.", default="unclassified"),
        _c("oneway", "True where traffic may only go in the drawn direction.", kind="bool", default=False),
        _c("access", "Who may use it where not both walkers and riders: foot (walkers; riders push), "
                     "bicycle (riders, e-bikes included; no walking); empty for both.",
           choices=STREET_ACCESS, default=""),
        _c("source", "Where the record comes from.", default="import"),
    ),
    "Streets that couriers walk and ride.",
)

LAYERS: dict[str, Layer] = {layer.name: layer for layer in (STATIONS, BOOTHS, SUBDISTRICTS, STREETS)}


def layer_schema(name: str) -> Layer:
    """The schema of a layer by name; ``InvalidParameter`` for an unknown one."""
    try:
        return LAYERS[name]
    except KeyError:
        msg = f"unknown layer {name!r}; valid: {', '.join(LAYERS)}"
        raise InvalidParameter(msg, param="layer") from None


def empty(name: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """An empty frame with the layer's columns."""
    schema = layer_schema(name)
    frame = pd.DataFrame({c.name: pd.Series(dtype=_dtype(c)) for c in schema.columns})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _dtype(column: Column) -> str:
    return "bool" if column.kind == "bool" else "object"


def conform(name: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give ``frame`` exactly the layer's columns, in order, with defaults filled and dtypes fixed."""
    schema = layer_schema(name)
    out = {}
    for column in schema.columns:
        values = frame[column.name] if column.name in frame.columns else pd.Series(
            [column.default] * len(frame), index=frame.index
        )
        if column.kind == "bool":
            out[column.name] = values.map(_to_bool).fillna(bool(column.default)).astype(bool)
        else:
            out[column.name] = values.map(_to_text).astype(object)
            if column.default:
                out[column.name] = out[column.name].where(out[column.name] != "", column.default)
    result = gpd.GeoDataFrame(pd.DataFrame(out, index=frame.index), geometry=frame.geometry.values,
                              crs=frame.crs)
    return result.reset_index(drop=True)


def _to_text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 12-digit codes read from a spreadsheet arrive as floats
    if isinstance(value, pd.Timestamp | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


def _to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _to_text(value).lower()
    if text in {"1", "true", "yes", "y", "是", "t", "-1"}:
        return True  # OSM writes reversed one-ways as -1; both directions stay restricted
    if text in {"0", "false", "no", "n", "否", "f", ""}:
        return False
    return None


@dataclass(frozen=True)
class Problem:
    """One rejected row: where it is and why. ``row`` counts from 1 like a spreadsheet's data rows."""

    row: int
    column: str
    reason: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}row {self.row}, column {self.column}: {self.reason}"


def validate(name: str, frame: gpd.GeoDataFrame, *, rows: list[int] | None = None) -> list[Problem]:
    """Every rule a conformed layer breaks, one Problem per row and column; an empty list means valid.

    ``rows`` gives each frame row's number in the source file, for the report.
    """
    schema = layer_schema(name)
    numbers = rows if rows is not None else list(range(1, len(frame) + 1))
    problems: list[Problem] = []
    geometries = frame.geometry.tolist()  # one list, not a GeoSeries lookup per row
    geom_types = frame.geometry.geom_type.tolist() if len(frame) else []
    for pos, row_number in enumerate(numbers):
        geom = geometries[pos]
        if geom is None or geom.is_empty:
            problems.append(Problem(row_number, "geometry", "no coordinates"))
        elif geom_types[pos] not in schema.geometry:
            problems.append(Problem(row_number, "geometry", f"{geom_types[pos]} is not {'/'.join(schema.geometry)}"))
    for column in schema.columns:
        values = frame[column.name].tolist()
        for pos, value in enumerate(values):
            reason = _check(column, value)
            if reason:
                problems.append(Problem(numbers[pos], column.name, reason))
    key_values = frame[schema.key]
    for pos in [i for i, dup in enumerate(key_values.duplicated(keep="first")) if dup]:
        problems.append(Problem(numbers[pos], schema.key, f"duplicate {schema.key} {key_values.iloc[pos]!r}"))
    return problems


def _check(column: Column, value: object) -> str:
    if column.required and (value is None or value == ""):
        return "required value is empty"
    if column.choices and value not in column.choices:
        return f"{value!r} is not one of {', '.join(column.choices)}"
    if column.kind == "date" and value:
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return f"{value!r} is not a date (YYYY-MM-DD)"
    if column.name == "code" and value and not re.fullmatch(r"\d{12}", str(value)):
        return f"{value!r} is not a 12-digit statistical code"
    if column.name == "amenities" and value:
        unknown = [k for k in str(value).split(";") if k and k not in AMENITY_KEYS]
        if unknown:
            return f"unknown amenity {', '.join(unknown)}"
    return ""


def stable_id(prefix: str, *parts: object) -> str:
    """An id that stays the same when the same record is imported again."""
    digest = hashlib.sha1("|".join(_to_text(p) for p in parts).encode("utf-8")).hexdigest()[:10]
    return f"{prefix}-{digest}"
