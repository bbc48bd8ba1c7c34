"""Where each row is: its coordinate system, its coordinates read and converted to WGS-84, the area check.

Nothing is guessed. Lon/lat need a stated system: ``--crs``, a ``crs``/``坐标系`` column, or a header
qualifier (``lng_gcj02``). A vector file's lon/lat label is not enough (Amap-derived files say EPSG:4326
and are GCJ-02); a projected (metric) CRS is taken as stated, since no GCJ-02 data is projected.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from locator import crs
from locator.errors import InvalidParameter
from locator.io.columns import ColumnMatch
from locator.io.readers import Source
from locator.io.report import Entry
from locator.model import Problem

_NUMBER = r"[-+]?\d+(?:\.\d*)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})\s*$")
_SYSTEMS_HELP = "wgs84, gcj02 or bd09"


@dataclass
class Places:
    """Per row: WGS-84 lon/lat (NaN where none), WGS-84 and work-CRS geometry (None where rejected)."""

    lon: np.ndarray
    lat: np.ndarray
    wgs84: np.ndarray
    work: gpd.GeoSeries
    system: str | None = None
    system_source: str = ""
    rejections: list[Entry] = field(default_factory=list)


def place_rows(cells: pd.DataFrame, geometry: gpd.GeoSeries | None, src: Source, match: ColumnMatch, *,
               stated: str | None, numbers: np.ndarray, area: tuple[float, float, float, float], file: str,
               work_crs: str) -> Places:
    """Read, check and convert every row's position; rows that fail get one rejection each.

    ``numbers`` are the rows' numbers in the file, for the report.
    """
    n = len(cells)
    mode, column = _mode(geometry, match, file)
    geoms, reasons = _read(cells, geometry, match, mode)
    systems, system, how = _systems(cells, src, match, stated=stated, mode=mode, file=file)
    entries: list[Entry] = []
    for position in np.flatnonzero(reasons != ""):
        problem = Problem(int(numbers[position]), column, str(reasons[position]), file)
        entries.append(Entry(problem, "no_coordinates"))
    placed = reasons == ""
    for position in np.flatnonzero(placed & ~np.isin(systems, [*crs.COORD_SYSTEMS, "projected"])):
        value = str(systems[position])
        reason = (f"unknown coordinate system {value[1:]!r}" if value.startswith("?")
                  else "no coordinate system: its crs cell is empty and --crs was not given")
        problem = Problem(int(numbers[position]), match.fields.get("crs", "crs"), reason, file)
        entries.append(Entry(problem, "no_system"))
        placed[position] = False
    wgs84 = np.full(n, None, dtype=object)
    for name in sorted(set(systems[placed].tolist())):
        mask = placed & (systems == name)
        part = gpd.GeoSeries(geoms[mask], crs=src.declared_crs if mode == "vector" else None)
        if name == "projected":
            wgs84[mask] = part.to_crs(crs.WGS84).to_numpy()
        else:
            if part.crs is not None and not part.crs.is_geographic:
                part = part.set_crs(None, allow_override=True)
            wgs84[mask] = crs.geometry_to_wgs84(part, name).to_numpy()
    lon, lat = _point_xy(wgs84)
    inside = shapely.intersects(wgs84, shapely.box(*area)) & placed
    for position in np.flatnonzero(placed & ~inside):
        reason = _outside(lon[position], lat[position], area)
        entries.append(Entry(Problem(int(numbers[position]), column, reason, file), "outside_area"))
    wgs84[~inside] = None
    work = crs.to_work(gpd.GeoSeries(wgs84, crs=crs.WGS84), work=work_crs)
    return Places(lon, lat, wgs84, work, system, how, entries)


def _mode(geometry: gpd.GeoSeries | None, match: ColumnMatch, file: str) -> tuple[str, str]:
    """Where the positions come from, and the column to name in the report."""
    fields = match.fields
    if geometry is not None and geometry.notna().any():
        return "vector", "geometry"
    if "lon" in fields and "lat" in fields:
        return "lonlat", f"{fields['lon']}/{fields['lat']}"
    if "lnglat" in fields:
        return "lnglat", fields["lnglat"]
    if "wkt" in fields:
        return "wkt", fields["wkt"]
    msg = (f"{file}: no coordinate columns found (looked for 经度/纬度, lon/lat, 经纬度, wkt); "
           "name them with --map column=lon --map column=lat (or =lnglat, =wkt)")
    raise InvalidParameter(msg, param="map")


def _read(cells: pd.DataFrame, geometry: gpd.GeoSeries | None, match: ColumnMatch, mode: str,
          ) -> tuple[np.ndarray, np.ndarray]:
    """Geometries in the source's own system, and a reason (or "") per row."""
    n = len(cells)
    reasons = np.full(n, "", dtype=object)
    if mode == "vector":
        geoms = geometry.to_numpy()
        reasons[shapely.is_missing(geoms) | shapely.is_empty(geoms)] = "no coordinates"
        return geoms, reasons
    if mode == "wkt":
        text = _coordinate_text(cells[match.fields["wkt"]])
        geoms = shapely.from_wkt(text.where(text != "", None).to_numpy(), on_invalid="ignore")
        bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        reasons[bad] = [f"cannot read the WKT geometry {t[:40]!r}" if t else "no coordinates"
                        for t in text[bad].tolist()]
        return geoms, reasons
    if mode == "lonlat":
        lon_text = _coordinate_text(cells[match.fields["lon"]])
        lat_text = _coordinate_text(cells[match.fields["lat"]])
        lon, lat = _to_float(lon_text), _to_float(lat_text)
        blank = (lon_text == "") | (lat_text == "")
        reasons[blank.to_numpy()] = "no coordinates"
        for label, values, text in (("longitude", lon, lon_text), ("latitude", lat, lat_text)):
            bad = ~np.isfinite(values) & (reasons == "")
            reasons[bad] = [f"cannot read {label} {t!r}" for t in text[bad].tolist()]
    else:
        text = _coordinate_text(cells[match.fields["lnglat"]])
        pairs = text.str.extract(_PAIR)
        lon, lat = _to_float(pairs[0]), _to_float(pairs[1])
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        reasons[bad] = [f"cannot read coordinates {t!r}" if t else "no coordinates" for t in text[bad].tolist()]
    ok = reasons == ""
    geoms = np.full(n, None, dtype=object)
    geoms[ok] = gpd.points_from_xy(lon[ok], lat[ok])
    return geoms, reasons


def _coordinate_text(series: pd.Series) -> pd.Series:
    """Cells as trimmed text, full-width digits and commas folded, degree signs dropped."""
    def one(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        return text.replace("°", "").strip()

    return pd.Series([one(v) for v in series.tolist()], index=series.index, dtype=object)


def _to_float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _systems(cells: pd.DataFrame, src: Source, match: ColumnMatch, *, stated: str | None, mode: str,
             file: str) -> tuple[np.ndarray, str | None, str]:
    """Each row's system ("" none stated, "?x" unknown x), the system to report, and who stated it."""
    n = len(cells)
    declared = src.declared_crs
    if mode == "vector" and declared is not None and not declared.is_geographic:
        name = declared.to_string()
        if stated not in (None, "wgs84"):
            msg = f"{file} is in the projected CRS {name} (metres); --crs {stated} names lon/lat and does not apply"
            raise InvalidParameter(msg, param="crs")
        return np.full(n, "projected", dtype=object), name, f"file ({name}, projected)"
    if mode == "vector" and declared is None and geometry_looks_metric(src.geometry):
        msg = f"{file} has no CRS (a shapefile without its .prj?) and its coordinates are not lon/lat"
        raise InvalidParameter(msg, param="crs")
    named = match.stated_systems()
    if len(named) > 1:
        msg = f"{file}: the coordinate headers name different systems ({', '.join(sorted(named))})"
        raise InvalidParameter(msg, param="crs")
    header = named.pop() if named else None
    if stated and header and stated != header:
        msg = f"--crs {stated} contradicts the file, whose headers say {header}"
        raise InvalidParameter(msg, param="crs")
    default = stated or header
    how = "--crs" if stated else ("file (column header)" if header else "")
    systems = np.full(n, default or "", dtype=object)
    if "crs" in match.fields:
        text = cells[match.fields["crs"]].map(lambda v: str(v).strip() if v is not None else "")
        for value in sorted(set(text.tolist()) - {""}):
            try:
                parsed: str = crs.parse_coord_system(value)
            except InvalidParameter:
                parsed = f"?{value}"
            if default and not parsed.startswith("?") and parsed != default:
                msg = f"--crs {default} contradicts the file's {match.fields['crs']} column, which says {value}"
                raise InvalidParameter(msg, param="crs")
            systems[(text == value).to_numpy()] = parsed
        how = how or f"file ({match.fields['crs']} column)"
    if not default and not (systems != "").any():
        raise InvalidParameter(_missing_system(file, src, mode), param="crs")
    found = sorted({s for s in systems.tolist() if s in crs.COORD_SYSTEMS})
    return systems, "+".join(found) or default, how


def geometry_looks_metric(geometry: gpd.GeoSeries | None) -> bool:
    """True where coordinates go beyond +-180/+-90, so they cannot be lon/lat."""
    if geometry is None or not geometry.notna().any():
        return False
    minx, miny, maxx, maxy = geometry.total_bounds
    return bool(min(minx, miny) < -180 or maxx > 180 or maxy > 90)


def _missing_system(file: str, src: Source, mode: str) -> str:
    if src.format == "geojson":
        return (f"{file}: a GeoJSON file is not proof of WGS-84 (Amap-derived data says WGS-84 but is GCJ-02); "
                f"say which system its coordinates are in with --crs {_SYSTEMS_HELP}")
    if mode == "vector" and src.declared_crs is not None:
        return (f"{file} is labelled {src.declared_crs.to_string()} (lon/lat), which Amap-derived data is too "
                f"while being GCJ-02; say which system it is in with --crs {_SYSTEMS_HELP}")
    return (f"{file}: the coordinates' system is not stated; pass --crs {_SYSTEMS_HELP} "
            "(or add a 坐标系/crs column)")


def _point_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of Points; NaN for anything else (lines, polygons, missing)."""
    is_point = shapely.get_type_id(geoms) == 0
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    lon[is_point] = shapely.get_x(geoms[is_point])
    lat[is_point] = shapely.get_y(geoms[is_point])
    return lon, lat


def _outside(lon: float, lat: float, area: tuple[float, float, float, float]) -> str:
    minlon, minlat, maxlon, maxlat = area
    box = f"lon {minlon}–{maxlon}, lat {minlat}–{maxlat}"
    if not np.isfinite(lon):
        return f"outside the service area ({box})"
    swapped = minlon <= lat <= maxlon and minlat <= lon <= maxlat
    hint = " — are longitude and latitude swapped?" if swapped else ""
    return f"outside the service area ({lon:.5f}, {lat:.5f} in WGS-84 is not within {box}){hint}"
