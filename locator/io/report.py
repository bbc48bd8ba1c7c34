"""What an import did: counts, one line per rejected row, warnings; as text (zh or en) and as JSON.

Row numbers count data records from 1: the header is not a row, so row 1 is the line (spreadsheet
row 2, GeoJSON feature 1) right after the header. The text report says so.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from locator.model import Problem

# Why a row was rejected, for the summary; every rejection has exactly one kind.
KINDS = ("no_coordinates", "no_system", "outside_area", "invalid", "duplicate_near",
         "duplicate_name_address", "duplicate_stored", "outside_scope")
_KIND_LABELS = {
    "en": {"no_coordinates": "no coordinates", "no_system": "no coordinate system",
           "outside_area": "outside the service area", "invalid": "invalid values",
           "duplicate_near": "duplicate (within 30 m)", "duplicate_name_address": "duplicate (same name and address)",
           "duplicate_stored": "duplicate of a stored record", "hours": "opening hours not understood",
           "amenities": "unknown amenity words", "outside_scope": "outside your area"},
    "zh": {"no_coordinates": "无坐标", "no_system": "无坐标系", "outside_area": "超出服务范围",
           "invalid": "数值无效", "duplicate_near": "重复（30 米内）",
           "duplicate_name_address": "重复（名称和地址相同）",
           "duplicate_stored": "与已有记录重复", "hours": "开放时间无法识别", "amenities": "未知的服务项目",
           "outside_scope": "超出您的管辖范围"},
}
# Why the OpenStreetMap reader dropped a way (keys of ``locator.io.osm.DROP_REASONS``, whose docstring has the
# rules); short, for the report's one line of counts.
_DROP_LABELS = {
    "en": {"motorway": "motorway or motorroad", "not_a_street": "not a street (construction, proposed, ...)",
           "area": "areas (not lines)", "private_service": "private service road",
           "no_access": "closed to walkers and riders", "missing_nodes": "nodes missing from the file"},
    "zh": {"motorway": "高速公路或机动车专用路", "not_a_street": "非通行道路（在建、规划等）", "area": "面状要素",
           "private_service": "私有服务道路", "no_access": "禁止步行和骑行", "missing_nodes": "节点不在文件中"},
}
_ROW_NUMBERING = {
    "zh": "行号从第一条数据记录起算为第 1 行（表头不计：第 1 行即电子表格的第 2 行、GeoJSON 的第 1 个要素）。",
    "en": "Row numbers count data records from 1, the header not counted: row 1 is spreadsheet row 2, "
          "or the first GeoJSON feature.",
}
# Reasons (English, from model.validate and the importer) as Chinese: (pattern, replacement).
_ZH = (
    (r"^required value is empty$", "必填值为空"),
    (r"^(.*) is not one of (.*)$", r"\1 不是以下之一：\2"),
    (r"^(.*) is not a date \(YYYY-MM-DD\)$", r"\1 不是日期（YYYY-MM-DD）"),
    (r"^(.*) is not a 12-digit statistical code$", r"\1 不是 12 位统计用区划代码"),
    (r"^unknown amenity (.*)$", r"未知的服务项目 \1"),
    (r"^duplicate (\w+) (.*)$", r"重复的 \1 \2"),
    (r"^no coordinates$", "无坐标"),
    (r"^cannot read (?:the )?coordinates? (.*)$", r"无法读取坐标 \1"),
    (r"^cannot read longitude (.*)$", r"无法读取经度 \1"),
    (r"^cannot read latitude (.*)$", r"无法读取纬度 \1"),
    (r"^cannot read the WKT geometry (.*)$", r"无法读取 WKT 几何 \1"),
    (r"^(\w+) is not (.*)$", r"几何类型 \1 不是 \2"),
    (r"^outside the service area \(([-\d.]+), ([-\d.]+) in WGS-84 is not within lon (\S+), lat (\S+)\)"
     r" — are longitude and latitude swapped\?$",
     r"超出服务范围（WGS-84 坐标 \1, \2 不在经度 \3、纬度 \4 之内），经纬度是否颠倒？"),
    (r"^outside the service area \(([-\d.]+), ([-\d.]+) in WGS-84 is not within lon (\S+), lat (\S+)\)$",
     r"超出服务范围（WGS-84 坐标 \1, \2 不在经度 \3、纬度 \4 之内）"),
    (r"^outside the service area \(lon (\S+), lat (\S+)\)$", r"超出服务范围（经度 \1、纬度 \2）"),
    (r"^unknown coordinate system (.*)$", r"未知的坐标系 \1"),
    (r"^no coordinate system: (.*)$", r"没有坐标系：该行 crs 为空，且未给出 --crs"),
    (r"^([\d.]+) m from row (\d+)(.*)$", r"与第 \2 行相距 \1 米\3"),
    (r"^([\d.]+) m from stored record (.*)$", r"与已有记录 \2 相距 \1 米"),
    (r"^same name and address as row (\d+)$", r"名称和地址与第 \1 行相同"),
    (r"^(\w+) (.*) is outside your area \((.*)\)$", r"\1 \2 超出您的管辖范围（\3）"),
    (r"^would replace stored record (.*) of another area$", r"会覆盖其他区域的已有记录 \1"),
    (r"^same name and address as stored record (.*)$", r"名称和地址与已有记录 \1 相同"),
    (r"^opening hours not understood, kept as given: (.*)$", r"开放时间无法识别，已保留原文：\1"),
    (r"^unknown amenity words left out: (.*)$", r"未知的服务项目词（未导入）：\1"),
)
_ZH_COMPILED = tuple((re.compile(p), r) for p, r in _ZH)


@dataclass(frozen=True)
class Entry:
    """One rejection or warning: the Problem (file, row, column, reason) and its kind."""

    problem: Problem
    kind: str


@dataclass
class ImportReport:
    """The outcome of ``import_file``.

    ``rows_imported`` counts the rows accepted for import; ``written`` says whether they were stored
    (not in a dry run, nor in strict mode with rejected rows, nor when no row was accepted).
    For an OpenStreetMap file, ``osm_ways_read`` counts the highway ways read and ``osm_dropped`` those the
    street rules dropped, by reason: the kept ways are the rows (``rows_total``).
    """

    file: str
    layer: str
    format: str = ""
    encoding: str | None = None
    system: str | None = None
    system_source: str = ""
    rows_total: int = 0
    rows_imported: int = 0
    rejections: list[Entry] = field(default_factory=list)
    warnings: list[Entry] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    strict: bool = False
    written: bool = False
    data_version: int | None = None
    osm_ways_read: int | None = None
    osm_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> list[Problem]:
        """Every reason a row was rejected, in row order."""
        return [e.problem for e in self.rejections]

    @property
    def rows_rejected(self) -> int:
        return len({e.problem.row for e in self.rejections})

    def rejected_by_reason(self) -> dict[str, int]:
        """Rejected rows per kind (a row counts once, under its first reason)."""
        first: dict[int, str] = {}
        for entry in self.rejections:
            first.setdefault(entry.problem.row, entry.kind)
        return dict(Counter(first.values()))

    def to_dict(self) -> dict[str, object]:
        """JSON-able: counts, settings, columns, and every rejection and warning."""

        def rows(entries: list[Entry]) -> list[dict[str, object]]:
            return [{"file": e.problem.file, "row": e.problem.row, "column": e.problem.column,
                     "reason": e.problem.reason, "kind": e.kind} for e in entries]

        return {
            "file": self.file, "layer": self.layer, "format": self.format, "encoding": self.encoding,
            "crs": self.system, "crs_source": self.system_source,
            "rows_total": self.rows_total, "rows_imported": self.rows_imported,
            "rows_rejected": self.rows_rejected, "rejected_by_reason": self.rejected_by_reason(),
            "row_numbering": "data records from 1; the header is not counted",
            "columns": dict(self.columns), "ignored_columns": list(self.ignored_columns),
            "dry_run": self.dry_run, "strict": self.strict, "written": self.written,
            "data_version": self.data_version,
            "osm_ways": None if self.osm_ways_read is None else {
                "read": self.osm_ways_read, "dropped": sum(self.osm_dropped.values()),
                "dropped_by_reason": dict(sorted(self.osm_dropped.items()))},
            "problems": rows(self.rejections), "warnings": rows(self.warnings),
        }

    def to_text(self, lang: str = "zh") -> str:
        """A human summary, then one line per rejected row (file, row, column, reason), then warnings."""
        zh = lang == "zh"
        labels = _KIND_LABELS["zh" if zh else "en"]
        by_reason = ", ".join(f"{labels[k]} {n}" for k, n in self.rejected_by_reason().items())
        lines = [self._headline(zh)]
        if self.osm_ways_read is not None:
            lines.append(self._osm_ways(zh))
        if zh:
            lines.append(f"共 {self.rows_total} 行：可导入 {self.rows_imported} 行，拒绝 {self.rows_rejected} 行"
                         + (f"（{by_reason}）" if by_reason else "") + f"；提示 {len(self.warnings)} 条。")
        else:
            lines.append(f"{self.rows_total} rows: {self.rows_imported} accepted, {self.rows_rejected} rejected"
                         + (f" ({by_reason})" if by_reason else "") + f"; {len(self.warnings)} warnings.")
        lines.append(self._outcome(zh))
        used = ", ".join(f"{h}→{f}" for f, h in self.columns.items())
        lines.append(("列：" if zh else "Columns: ") + (used or "-"))
        if self.ignored_columns:
            lines.append(("忽略的列：" if zh else "Ignored columns: ") + ", ".join(self.ignored_columns))
        lines.append(_ROW_NUMBERING["zh" if zh else "en"])
        if self.rejections:
            lines.append("被拒绝的行：" if zh else "Rejected rows:")
            lines.extend(_grouped(self.rejections, zh))
        if self.warnings:
            lines.append("提示（不影响导入）：" if zh else "Warnings (rows still imported):")
            lines.extend(_grouped(self.warnings, zh))
        return "\n".join(lines)

    def _headline(self, zh: bool) -> str:
        how = f"{self.system or '-'}" + (f", {self.system_source}" if self.system_source else "")
        enc = f", {self.encoding}" if self.encoding else ""
        if zh:
            return f"导入 {self.file} → 图层 {self.layer}（{self.format}{enc}；坐标系 {how}）"
        return f"Import {self.file} -> layer {self.layer} ({self.format}{enc}; coordinates {how})"

    def _osm_ways(self, zh: bool) -> str:
        """How many highway ways the OpenStreetMap reader read and dropped, and why; the kept ones are the rows."""
        labels = _DROP_LABELS["zh" if zh else "en"]
        dropped = sum(self.osm_dropped.values())
        kept = self.osm_ways_read - dropped
        parts = [f"{labels.get(k, k)} {n}" for k, n in sorted(self.osm_dropped.items(), key=lambda kv: (-kv[1], kv[0]))]
        if zh:
            why = f"（{'，'.join(parts)}）" if parts else ""
            return (f"OpenStreetMap：读取道路 {self.osm_ways_read} 条，按道路规则舍弃 {dropped} 条{why}，"
                    f"其余 {kept} 条为下列数据行。")
        why = f" ({', '.join(parts)})" if parts else ""
        return (f"OpenStreetMap: {self.osm_ways_read} highway ways read, {dropped} dropped by the street rules{why}; "
                f"the other {kept} are the rows below.")

    def _outcome(self, zh: bool) -> str:
        if self.written:
            return (f"已写入，数据版本 {self.data_version}。" if zh
                    else f"Written; data version {self.data_version}.")
        if self.dry_run:
            return "试运行：未写入任何内容。" if zh else "Dry run: nothing was written."
        if self.strict and self.rejections:
            return ("严格模式：有被拒绝的行，未写入任何内容。" if zh
                    else "Strict: some rows were rejected, so nothing was written.")
        return "没有可导入的行，未写入任何内容。" if zh else "No row to import; nothing was written."


def translate(reason: str, zh: bool) -> str:
    """A reason in the report's language (reasons are kept in English in the Problems)."""
    if not zh:
        return reason
    for pattern, replacement in _ZH_COMPILED:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    return reason


def _grouped(entries: list[Entry], zh: bool) -> list[str]:
    """One line per row: ``file, row N, column C: reason; column D: reason``."""
    by_row: dict[tuple[str, int], list[Problem]] = {}
    for entry in entries:
        by_row.setdefault((entry.problem.file, entry.problem.row), []).append(entry.problem)
    lines = []
    for (file, row), problems in sorted(by_row.items(), key=lambda item: item[0][1]):
        parts = [(f"列 {p.column}：" if zh else f"column {p.column}: ") + translate(p.reason, zh) for p in problems]
        where = f"{file}，第 {row} 行，" if zh else f"{file}, row {row}, "
        lines.append(where + ("；" if zh else "; ").join(parts))
    return lines
