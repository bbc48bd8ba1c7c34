"""Which source column feeds which field: Chinese and English headers, recognised case-insensitively.

A header is matched in three passes, strongest first: the caller's ``mapping``; the header equal to a
field's name or alias (after NFKC folding, lower-casing and dropping a coordinate-system qualifier such
as ``_gcj02`` or ``(WGS-84)``); then one word of the header (``stop_name`` -> name) or, for Chinese, its
ending (``驿站地址`` -> address). A field goes to the first header of the strongest pass; every other
column is ignored and listed. A qualifier naming a coordinate system is the file stating its system.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from locator import model
from locator.errors import InvalidParameter

# Fields that are not layer columns but feed them: coordinates, the per-row system, a WKT geometry.
COORDINATE_FIELDS = ("lon", "lat", "lnglat", "crs", "wkt")

_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "站点编号", "驿站编号"),
    "name": ("name", "名称", "站点名称", "驿站名称", "服务站名称", "站名", "name_zh", "name:zh"),
    "address": ("address", "addr", "地址", "详细地址", "站点地址", "驿站地址"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "lnglat": ("lnglat", "lonlat", "lng_lat", "lon_lat", "location", "经纬度", "坐标", "经纬度坐标"),
    "crs": ("crs", "coord_system", "coordinate_system", "坐标系", "坐标系统"),
    "wkt": ("wkt", "geometry_wkt", "geom_wkt", "geometry", "geom", "the_geom", "几何"),
    "opening_hours": ("opening_hours", "hours", "open_hours", "开放时间", "营业时间", "工作时间", "时间",
                      "服务时间", "开放时段"),
    "amenities": ("amenities", "amenity", "services", "服务项目", "服务内容", "设施", "配套设施", "服务功能"),
    "district": ("district", "区", "所属区", "所在区", "区县", "行政区"),
    "subdistrict": ("subdistrict", "街道", "所属街道", "街乡", "街道乡镇", "乡镇"),
    "phone": ("phone", "tel", "telephone", "电话", "联系电话", "联系方式", "手机"),
    "status": ("status", "状态", "运营状态", "开放状态"),
    "operator": ("operator", "运营", "运营单位", "运营方", "管理单位", "建设单位"),
    "notes": ("notes", "note", "备注", "说明"),
    "source": ("source", "来源", "数据来源"),
    "verified_at": ("verified_at", "核实日期", "更新日期"),
    "code": ("code", "代码", "区划代码", "统计用区划代码", "编码"),
    "highway": ("highway", "道路等级", "道路类型"),
    "oneway": ("oneway", "单行", "单行道"),
    "station_id": ("station_id",),
    "converted_from_booth": ("converted_from_booth",),
    "approximate": ("approximate",),
}
# In a subdistricts file the 街道 column is the subdistrict's own name, not a reference to one.
_LAYER_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "subdistricts": {"name": ("name", "名称", "街道", "街道名称", "乡镇", "街乡", "subdistrict")},
    "streets": {"name": ("name", "名称", "道路名称", "路名", "街道名称")},
}
# Chinese endings worth matching on their own; 时间 is not one (更新时间 is no opening time).
_ENDINGS = {"名称": "name", "地址": "address", "经度": "lon", "纬度": "lat", "经纬度": "lnglat",
            "电话": "phone", "状态": "status", "备注": "notes", "营业时间": "opening_hours",
            "开放时间": "opening_hours", "服务项目": "amenities"}
_SYSTEM_WORDS = {"wgs84": "wgs84", "wgs": "wgs84", "gps": "wgs84", "gcj02": "gcj02", "gcj": "gcj02",
                 "bd09": "bd09", "bd09ll": "bd09"}
_QUALIFIER = re.compile(r"[(\[{（【](.*?)[)\]}）】]")
_WORD_SPLIT = re.compile(r"[\s_\-.:/]+")

STATUS_WORDS: dict[str, dict[str, str]] = {
    "stations": {"开放": "open", "正常": "open", "运营": "open", "运营中": "open", "开放中": "open",
                 "营业": "open", "营业中": "open", "正常营业": "open",
                 "暂停": "temporarily_closed", "暂时关闭": "temporarily_closed", "暂停开放": "temporarily_closed",
                 "暂停营业": "temporarily_closed", "暂停服务": "temporarily_closed", "装修中": "temporarily_closed",
                 "关闭": "closed", "已关闭": "closed", "停用": "closed", "停业": "closed", "已停业": "closed",
                 "歇业": "closed",
                 "计划": "planned", "筹建": "planned", "规划": "planned", "在建": "planned"},
    "booths": {"候选": "candidate", "备选": "candidate", "计划": "planned", "规划": "planned",
               "已改造": "converted", "已转换": "converted", "已转为驿站": "converted",
               "拆除": "removed", "已拆除": "removed", "移除": "removed"},
}


@dataclass
class ColumnMatch:
    """The outcome of header recognition.

    Attributes
    ----------
    fields : dict
        Field -> source header, for every field some column feeds.
    ignored : list of str
        Source headers that feed nothing, in file order.
    systems : dict
        Source header -> coordinate system its qualifier names (``lng_gcj02`` -> gcj02).
    """

    fields: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    systems: dict[str, str] = field(default_factory=dict)

    def stated_systems(self) -> set[str]:
        """The coordinate systems named in the headers of the coordinate columns actually used."""
        used = {self.fields.get(f) for f in ("lon", "lat", "lnglat", "wkt")}
        return {system for header, system in self.systems.items() if header in used}


def targets(layer: str) -> tuple[str, ...]:
    """Every field a column may feed in ``layer``: its columns, ``name`` and the coordinate fields."""
    names = model.layer_schema(layer).column_names
    return tuple(dict.fromkeys([*names, "name", *COORDINATE_FIELDS]))


def fold(header: object) -> str:
    """NFKC-fold (full-width to half-width), lower-case and trim a header, dropping a leading BOM."""
    return unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip().strip("*#").strip().lower()


def _split_system(folded: str) -> tuple[str, str | None]:
    """``lng_gcj02`` -> (``lng``, gcj02); ``经度(wgs-84)`` -> (``经度``, wgs84)."""
    system = None
    for inner in _QUALIFIER.findall(folded):
        key = inner.replace("-", "").replace(" ", "")
        system = _SYSTEM_WORDS.get(key, system)
    base = _QUALIFIER.sub("", folded).strip()
    words = [w for w in _WORD_SPLIT.split(base) if w]
    kept = []
    for word in words:
        key = word.replace("-", "")
        if key in _SYSTEM_WORDS and len(words) > 1:
            system = _SYSTEM_WORDS[key]
        else:
            kept.append(word)
    joined = "_".join(kept) if kept and kept[0].isascii() else "".join(kept)
    return joined or base, system


def recognise(headers: list[str], *, layer: str, mapping: dict[str, str] | None = None) -> ColumnMatch:
    """Match source headers to fields; ``mapping`` (source header -> field) comes first and must fit."""
    allowed = targets(layer)
    aliases = {f: _LAYER_ALIASES.get(layer, {}).get(f, a) for f, a in _ALIASES.items() if f in allowed}
    exact = {alias: f for f, names in aliases.items() for alias in names}
    exact.update({f: f for f in allowed})  # every field by its own name: opening_hours_raw is not opening_hours
    match = ColumnMatch()
    claims: dict[str, tuple[int, int, str]] = {}  # field -> (strength, position, header)

    for position, header in enumerate(headers):
        base, system = _split_system(fold(header))
        if system:
            match.systems[header] = system
        candidate = _candidate(base, exact, aliases)
        if candidate:
            strength, target = candidate
            if target not in claims or claims[target][:2] > (strength, position):
                claims[target] = (strength, position, header)
    for header, target in _mapped(headers, mapping, allowed):
        claims = {f: c for f, c in claims.items() if c[2] != header}
        if target:
            claims[target] = (0, headers.index(header), header)
    match.fields = {f: c[2] for f, c in sorted(claims.items(), key=lambda item: item[1][1:])}
    if "lon" in match.fields and "lat" in match.fields:
        match.fields.pop("lnglat", None)
    used = set(match.fields.values())
    match.ignored = [h for h in headers if h not in used]
    return match


def _candidate(base: str, exact: dict[str, str], aliases: dict[str, tuple[str, ...]],
               ) -> tuple[int, str] | None:
    if base in exact:
        return 1, exact[base]
    words = [w for w in _WORD_SPLIT.split(base) if len(w) > 1]
    hits = {exact[w] for w in words if w in exact and w.isascii()}
    if len(hits) == 1:
        return 2, hits.pop()
    for ending, target in sorted(_ENDINGS.items(), key=lambda item: -len(item[0])):
        if base.endswith(ending) and target in aliases:
            return 3, target
    return None


def _mapped(headers: list[str], mapping: dict[str, str] | None, allowed: tuple[str, ...],
            ) -> list[tuple[str, str]]:
    """Check ``mapping`` against the file's headers and the layer's fields: (header, field or "")."""
    out: list[tuple[str, str]] = []
    by_fold = {fold(h): h for h in headers}
    for source, target in (mapping or {}).items():
        header = source if source in headers else by_fold.get(fold(source))
        if header is None:
            msg = f"--map {source}={target}: the file has no column {source!r}; it has {', '.join(headers)}"
            raise InvalidParameter(msg, param="map")
        wanted = (target or "").strip()
        if wanted and wanted not in allowed:
            msg = f"--map {source}={target}: {target!r} is not a field; valid: {', '.join(allowed)}"
            raise InvalidParameter(msg, param="map", valid=list(allowed))
        out.append((header, wanted))
    return out
