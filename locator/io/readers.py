"""Read a file of any supported format into one frame of raw cells, plus its geometry if it has any.

Tables (CSV, TSV, XLSX) give cells only; vector files (GeoJSON, GeoPackage, Shapefile) also give
their geometry and the CRS they declare. Nothing is interpreted here: cells stay text (or the
spreadsheet's own numbers and dates) and a declared CRS is reported, not trusted; the importer
decides what a CRS label proves.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from locator.errors import ImportFailed, InvalidParameter
from locator.io import osm

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".shp": "shapefile",
           ".zip": "shapefile", ".osm": "osm", ".pbf": "osm"}
_DELIMITERS = (",", "\t", ";", "|")


@dataclass
class Source:
    """What a file holds, before any interpretation.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per record in file order, one column per header; cells as read (text for CSV).
    geometry : geopandas.GeoSeries or None
        The geometry of vector files, aligned with ``frame``; None for tables.
    declared_crs : pyproj.CRS or None
        The CRS the file declares (vector files only); a label, not a proof.
    format : str
        ``csv``, ``xlsx``, ``geojson``, ``gpkg`` or ``shapefile``.
    encoding : str or None
        The text encoding a CSV was decoded with (``utf-8``, ``utf-8-sig``, ``gb18030``, ...).
    ways_read : int or None
        OpenStreetMap files only: the highway ways read, kept and dropped (None for other formats).
    dropped : dict
        OpenStreetMap files only: ways the street rules dropped, by reason (``locator.io.osm.DROP_REASONS``).
    """

    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None
    declared_crs: CRS | None
    format: str
    encoding: str | None = None
    sublayer: str | None = None
    ways_read: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)


def file_format(path: Path) -> str:
    """The format named by a file's suffix; ``InvalidParameter`` for one we do not read."""
    suffix = path.suffix.lower()
    if osm.is_osm_file(path):  # .osm, .osm.pbf, .pbf, .osm.gz, .osm.bz2
        return "osm"
    if suffix == ".xls":
        msg = f"{path.name}: old .xls workbooks are not read; save it as .xlsx or .csv"
        raise InvalidParameter(msg, param="path")
    if suffix not in FORMATS:
        msg = f"{path.name}: unknown file type {suffix or '(none)'}; use one of {', '.join(sorted(FORMATS))}"
        raise InvalidParameter(msg, param="path")
    return FORMATS[suffix]


def read_source(path: str | Path, *, layer: str) -> Source:
    """Read ``path`` by its suffix; ``layer`` picks the sheet or GeoPackage layer of that name if present."""
    path = Path(path)
    fmt = file_format(path)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise InvalidParameter(msg, param="path")
    if fmt == "csv":
        text, encoding = decode(path.read_bytes(), name=path.name)
        return Source(read_csv_text(text, tab=path.suffix.lower() == ".tsv"), None, None, fmt, encoding)
    if fmt == "xlsx":
        return _read_excel(path, layer=layer)
    if fmt == "osm":
        return _read_osm(path, layer=layer)
    return _read_vector(path, fmt, layer=layer)


def decode(data: bytes, *, name: str = "") -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), then GB18030 (a superset of GBK), then by detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes  # only for the rare file that is neither

    best = from_bytes(data).best()
    if best is None:
        msg = f"{name}: cannot tell the text encoding; save the file as UTF-8"
        raise ImportFailed(msg)
    return str(best), best.encoding


def read_csv_text(text: str, *, tab: bool = False) -> pd.DataFrame:
    """Parse delimited text with every cell kept as text (no NA guessing: ``NA`` may be a name)."""
    first_line = text.split("\n", 1)[0]
    sep = "\t" if tab else max(_DELIMITERS, key=first_line.count)
    if not tab and first_line.count(sep) == 0:
        sep = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, quoting=csv.QUOTE_MINIMAL)
    except pd.errors.ParserError as exc:
        msg = f"cannot read the table: {exc}"
        raise ImportFailed(msg) from exc
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    return _drop_blank(frame.astype(object))


def _read_excel(path: Path, *, layer: str) -> Source:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # openpyxl: "no default style", data validation
        try:
            sheets = pd.ExcelFile(path, engine="openpyxl")
        except Exception as exc:  # zipfile/openpyxl raise many kinds for a damaged workbook
            msg = f"{path.name}: cannot open the workbook: {exc}"
            raise ImportFailed(msg) from exc
        with sheets:
            names = [str(n) for n in sheets.sheet_names]
            sheet = layer if layer in names else names[0]
            frame = pd.read_excel(sheets, sheet_name=sheet, dtype=object, keep_default_na=False,
                                  na_filter=False)
    frame.columns = [str(c) for c in frame.columns]
    return Source(_drop_blank(frame), None, None, "xlsx", None, sheet)


def _read_vector(path: Path, fmt: str, *, layer: str) -> Source:
    sublayer = None
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
        if len(names) > 1:
            if layer not in names:
                msg = f"{path.name} holds several layers ({', '.join(names)}) and none is called {layer!r}"
                raise InvalidParameter(msg, param="path")
            sublayer = layer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes, e.g. on mixed field types
            frame = pyogrio.read_dataframe(path, layer=sublayer)
    except pyogrio.errors.DataSourceError as exc:
        msg = f"{path.name}: cannot read it as {fmt}: {exc}"
        raise ImportFailed(msg) from exc
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geometry = frame.geometry.reset_index(drop=True)
        cells = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
        declared = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    else:  # an attribute-only table in a GeoPackage
        geometry, cells, declared = None, pd.DataFrame(frame).reset_index(drop=True), None
    cells = cells.astype(object).where(cells.notna(), "")
    return Source(cells, geometry, declared, fmt, None, sublayer)


def _read_osm(path: Path, *, layer: str) -> Source:
    """OpenStreetMap streets by ``locator.io.osm``'s rules; WGS-84 by definition (the importer states it)."""
    if layer != "streets":
        msg = f"{path.name} is an OpenStreetMap file: it can be imported into the streets layer only"
        raise InvalidParameter(msg, param="layer")
    streets = osm.read_osm_streets(path)
    frame = streets.frame
    cells = pd.DataFrame(frame.drop(columns=[frame.geometry.name, "source"])).astype(object)
    return Source(cells, frame.geometry.reset_index(drop=True), CRS.from_user_input(osm.WGS84), "osm", None,
                  None, streets.ways_read, dict(streets.dropped))


def _drop_blank(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop unnamed empty columns (trailing commas, spreadsheet padding); keep row numbering intact."""
    keep = []
    for position, name in enumerate(frame.columns):
        unnamed = str(name).startswith("Unnamed:") or not str(name).strip()
        column = frame.iloc[:, position]
        empty = column.map(lambda v: v is None or (isinstance(v, str) and not v.strip())).all()
        if not (unnamed and empty):
            keep.append(position)
    return frame.iloc[:, keep].reset_index(drop=True)
