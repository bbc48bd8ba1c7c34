"""Import a file into a layer: read, recognise columns, place, validate, drop duplicates, report, write.

Every step is column-wise (``gpd.points_from_xy``, vectorised coordinate conversion, a k-d tree for
duplicates); only the per-value vocabularies (hours, amenities) loop, once per distinct value. Rows
are never dropped silently: each one is imported or rejected with a reason, and the report says which.
The store's write is all-or-nothing, so an import that fails while writing leaves the store as it was.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from locator import crs, model
from locator.errors import ImportFailed, LocatorError
from locator.io import columns, duplicates, osm, readers
from locator.io.places import Places, place_rows
from locator.io.report import Entry, ImportReport
from locator.io.values import Caches, field_values

__all__ = ["ImportReport", "import_file", "DEFAULT_SERVICE_AREA"]

DEFAULT_SERVICE_AREA = (115.4, 39.4, 117.6, 41.1)
CHUNK_ROWS = 5000
ID_PREFIXES = {"stations": "st", "booths": "bo", "streets": "rd"}
POINT_LAYERS = ("stations", "booths")


@dataclass
class _Prepared:
    frame: gpd.GeoDataFrame  # layer columns plus ``name``, geometry in the work CRS
    generated_id: np.ndarray  # True where the id was made here, not read from the file


def import_file(store, layer: str, path: str | Path, *, system: str | None = None,
                mapping: dict[str, str] | None = None, dry_run: bool = False, strict: bool = False,
                service_area: tuple[float, float, float, float] = DEFAULT_SERVICE_AREA,
                progress: bool = False, source: str | None = None,
                scope: dict[str, str] | None = None) -> ImportReport:
    """Import ``path`` into ``layer`` of ``store``; upsert by key unless ``dry_run`` or ``strict`` forbids.

    Parameters
    ----------
    store : Store
        Where the layer lives (``read`` / ``write``); read for duplicates, written once at the end.
    layer : str
        ``stations``, ``booths``, ``subdistricts`` or ``streets``.
    path : str or Path
        A CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX, GeoJSON, GeoPackage or Shapefile.
    system : str, optional
        The lon/lat system of the coordinates (``wgs84``, ``gcj02``, ``bd09``). Required unless the file
        states it: a projected CRS in a vector file, a ``crs``/``坐标系`` column, or a header qualifier
        such as ``lng_gcj02``. A lon/lat label in a vector file is not proof (Amap data is labelled
        EPSG:4326 but is GCJ-02).
    mapping : dict, optional
        Source header -> field, overriding recognition; an empty field ignores the column.
    dry_run, strict : bool
        ``dry_run`` writes nothing; ``strict`` writes nothing if any row is rejected.
    service_area : tuple of float
        (minlon, minlat, maxlon, maxlat) in WGS-84; rows outside are rejected.
    progress : bool
        Show a tqdm progress bar on stderr.
    source : str, optional
        Value of the ``source`` column where the file has none (default ``import``).
    scope : dict, optional
        For an editor: ``{"district": ..., "subdistrict": ...}`` (empty values allow any). Rows outside it,
        or replacing a stored record outside it, are rejected.

    Returns
    -------
    ImportReport
        Counts, the reason for every rejected row, warnings, and whether and at which version it was written.
    """
    model.layer_schema(layer)
    path = Path(path)
    readers.file_format(path)
    stated = crs.parse_coord_system(system, param="crs") if system is not None else None
    src = readers.read_source(path, layer=layer)
    if src.format == "osm":  # OpenStreetMap is WGS-84 by definition: the file states its system
        stated = osm.stated_system(stated, file=path.name)
        source = source or "osm"
    src.frame.columns = [str(c) for c in src.frame.columns]
    match = columns.recognise(list(src.frame.columns), layer=layer, mapping=mapping)
    keep = _non_empty(src.frame)
    cells = src.frame.loc[keep].reset_index(drop=True)
    numbers = np.flatnonzero(keep) + 1
    geometry = src.geometry.loc[keep].reset_index(drop=True) if src.geometry is not None else None
    report = ImportReport(file=path.name, layer=layer, format=src.format, encoding=src.encoding,
                          rows_total=len(cells), columns=dict(match.fields), ignored_columns=match.ignored,
                          dry_run=dry_run, strict=strict, osm_ways_read=src.ways_read, osm_dropped=dict(src.dropped))
    bar = tqdm(total=len(cells), unit="row", desc=f"import {path.name}", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    with bar:
        places = place_rows(cells, geometry, src, match, stated=stated, numbers=numbers, area=service_area,
                            file=path.name, work_crs=store.work_crs)
        report.system, report.system_source = places.system, places.system_source
        if src.format == "osm" and system is None:
            report.system_source = "file (OpenStreetMap: WGS-84)"
        entries = list(places.rejections)
        prepared = _prepare(cells, numbers, places, match, layer, source or "import", report, bar)
        bar.set_postfix_str("validating")
        entries += _validate(prepared, numbers, match, layer, path.name, rejected={e.problem.row for e in entries})
        bar.set_postfix_str("duplicates")
        rejected_rows = {e.problem.row for e in entries}
        ok = ~np.isin(numbers, list(rejected_rows))
        entries += _duplicates(store, prepared.frame, numbers, ok, match, layer, path.name)
        if scope:
            ok = ~np.isin(numbers, [e.problem.row for e in entries])
            entries += _outside_scope(store, prepared.frame, numbers, ok, layer, path.name, scope)
        report.rejections = sorted(entries, key=lambda e: e.problem.row)
        kept = ~np.isin(numbers, [e.problem.row for e in report.rejections])
        report.rows_imported = int(kept.sum())
        if not dry_run and not (strict and report.rejections) and report.rows_imported:
            bar.set_postfix_str("writing")
            report.data_version = _write(store, layer, prepared.frame.loc[kept])
            report.written = True
    return report


def _non_empty(frame: pd.DataFrame) -> np.ndarray:
    """Rows with any non-blank cell. A blank row is no record and is not counted, but it keeps its number, so
    that the numbers of the rows after it still match the spreadsheet."""
    if frame.empty:
        return np.zeros(len(frame), dtype=bool)
    blank = frame.apply(lambda col: col.map(lambda v: v is None or (isinstance(v, str) and not v.strip())))
    return ~blank.all(axis=1).to_numpy()


def _prepare(cells: pd.DataFrame, numbers: np.ndarray, places: Places, match: columns.ColumnMatch, layer: str,
             source: str, report: ImportReport, bar: tqdm) -> _Prepared:
    """Field values, ids and work geometry, chunk by chunk so that the progress bar moves."""
    caches = Caches()
    parts, generated = [], []
    for start in range(0, len(cells), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(cells))
        values, warnings = field_values(cells.iloc[start:stop], numbers[start:stop], match, layer=layer,
                                        source=source, caches=caches)
        report.warnings += [Entry(replace(w.problem, file=report.file), w.kind) for w in warnings]
        made = values["id"].to_numpy() == "" if "id" in values else np.ones(stop - start, dtype=bool)
        if layer in ID_PREFIXES:
            values["id"] = _ids(values, places, slice(start, stop), layer, made)
        parts.append(values)
        generated.append(made)
        bar.update(stop - start)
    values = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(index=range(0))
    frame = gpd.GeoDataFrame(values, geometry=places.work, crs=places.work.crs)
    return _Prepared(frame, np.concatenate(generated) if generated else np.zeros(0, dtype=bool))


def _ids(values: pd.DataFrame, places: Places, rows: slice, layer: str, made: np.ndarray) -> pd.Series:
    """The file's ids; where it has none, ``stable_id`` of name, address and WGS-84 lon/lat to 5 decimals."""
    ids = values["id"].copy() if "id" in values else pd.Series("", index=values.index, dtype=object)
    if not made.any():
        return ids
    prefix = ID_PREFIXES[layer]
    names = values.get("name", pd.Series("", index=values.index)).tolist()
    if layer == "streets":
        shapes = shapely.to_wkt(places.wgs84[rows], rounding_precision=6).tolist()
        keys = [(n, s) for n, s in zip(names, shapes, strict=True)]
    else:
        addresses = values.get("address", pd.Series("", index=values.index)).tolist()
        lon = np.round(places.lon[rows], 5).tolist()
        lat = np.round(places.lat[rows], 5).tolist()
        keys = [(n, a, f"{x:.5f}", f"{y:.5f}") for n, a, x, y in zip(names, addresses, lon, lat, strict=True)]
    for position in np.flatnonzero(made):
        ids.iloc[position] = model.stable_id(prefix, *keys[position])
    return ids


def _validate(prepared: _Prepared, numbers: np.ndarray, match: columns.ColumnMatch, layer: str, file: str,
              *, rejected: set[int]) -> list[Entry]:
    """``model.validate`` on the conformed rows; no second geometry complaint for rows already rejected."""
    schema = model.layer_schema(layer)
    conformed = model.conform(layer, prepared.frame)
    generated = set(numbers[prepared.generated_id].tolist())
    entries = []
    for problem in model.validate(layer, conformed, rows=numbers.tolist()):
        if problem.column == "geometry" and problem.row in rejected:
            continue
        if problem.column == schema.key and problem.row in generated and problem.reason.startswith("duplicate"):
            continue  # a made id repeats when name, address and place do: the duplicate rules say it better
        column = match.fields.get(problem.column, problem.column)
        entries.append(Entry(model.Problem(problem.row, column, problem.reason, file), "invalid"))
    return entries


def _outside_scope(store, frame: gpd.GeoDataFrame, numbers: np.ndarray, ok: np.ndarray, layer: str, file: str,
                   scope: dict[str, str]) -> list[Entry]:
    """Rows an editor may not write: outside their district/subdistrict, or replacing a record outside it."""
    wanted = {field: value for field, value in scope.items() if value}
    key = model.layer_schema(layer).key
    stored = store.read(layer)
    stored_fields = stored.set_index(key)[list(wanted)] if len(stored) else None
    entries = []
    for pos in np.flatnonzero(ok):
        row = frame.iloc[pos]
        for field, value in wanted.items():
            if str(row.get(field, "")) != value:
                reason = f"{field} {row.get(field, '')!r} is outside your area ({value})"
                entries.append(Entry(model.Problem(int(numbers[pos]), field, reason, file), "outside_scope"))
                break
        else:
            record_id = row.get(key)
            if stored_fields is not None and record_id in stored_fields.index and any(
                    str(stored_fields.at[record_id, field]) != value for field, value in wanted.items()):
                reason = f"would replace stored record {record_id} of another area"
                entries.append(Entry(model.Problem(int(numbers[pos]), key, reason, file), "outside_scope"))
    return entries


def _duplicates(store, frame: gpd.GeoDataFrame, numbers: np.ndarray, ok: np.ndarray,
                match: columns.ColumnMatch, layer: str, file: str) -> list[Entry]:
    """Within 30 m of, or with the same name and address as, an earlier row or a stored record."""
    if layer not in POINT_LAYERS or not ok.any():
        return []
    name_required = layer == "stations"
    positions = np.flatnonzero(ok)
    rows = frame.iloc[positions]
    x_m, y_m = shapely.get_x(rows.geometry.values), shapely.get_y(rows.geometry.values)
    names = rows["name"] if "name" in rows else pd.Series("", index=rows.index)
    found = duplicates.near_in_file(x_m, y_m)
    remaining = np.array([p for p in range(len(positions)) if p not in found], dtype=int)
    for p, dup in duplicates.same_name_address(names.iloc[remaining], rows["address"].iloc[remaining],
                                               name_required=name_required).items():
        found[int(remaining[p])] = replace(dup, position=int(remaining[p]), of=int(remaining[dup.of]))
    stored = store.read(layer)
    stored = stored[~stored["id"].isin(rows["id"])]  # records this import replaces are not duplicates of it
    if len(stored):
        left = np.array([p for p in range(len(positions)) if p not in found], dtype=int)
        near = duplicates.near_stored(x_m[left], y_m[left], shapely.get_x(stored.geometry.values),
                                      shapely.get_y(stored.geometry.values), stored["id"].tolist())
        for p, dup in near.items():
            found[int(left[p])] = replace(dup, position=int(left[p]))
        left = np.array([p for p in range(len(positions)) if p not in found], dtype=int)
        same = duplicates.same_name_address(names.iloc[left], rows["address"].iloc[left], stored=stored,
                                            name_required=name_required)
        for p, dup in same.items():
            if dup.stored:
                found[int(left[p])] = replace(dup, position=int(left[p]))
    coordinate_column = "/".join(match.fields[f] for f in ("lon", "lat") if f in match.fields) or match.fields.get(
        "lnglat", "geometry")
    labels = names.tolist()
    return [_duplicate_entry(dup, numbers[positions[p]], numbers, positions, labels, match, coordinate_column, file)
            for p, dup in sorted(found.items())]


def _duplicate_entry(dup: duplicates.Duplicate, row: int, numbers: np.ndarray, positions: np.ndarray,
                     names: list[str], match: columns.ColumnMatch, coordinate_column: str, file: str) -> Entry:
    if dup.stored:
        kind = "duplicate_stored"
        if dup.rule == "near":
            return Entry(model.Problem(int(row), coordinate_column,
                                       f"{dup.distance_m:.1f} m from stored record {dup.of}", file), kind)
        column = match.fields.get("name", match.fields.get("address", "address"))
        return Entry(model.Problem(int(row), column, f"same name and address as stored record {dup.of}", file),
                     kind)
    first_row = int(numbers[positions[int(dup.of)]])
    if dup.rule == "near":
        label = f" ({names[int(dup.of)]})" if names[int(dup.of)] else ""
        return Entry(model.Problem(int(row), coordinate_column,
                                   f"{dup.distance_m:.1f} m from row {first_row}{label}", file), "duplicate_near")
    column = match.fields.get("name", match.fields.get("address", "address"))
    return Entry(model.Problem(int(row), column, f"same name and address as row {first_row}", file),
                 "duplicate_name_address")


def _write(store, layer: str, frame: gpd.GeoDataFrame) -> int:
    """Upsert by key, all or nothing; any failure leaves the store as it was and says so."""
    try:
        return int(store.write({layer: frame}, mode="upsert"))  # the store conforms it
    except LocatorError:
        raise
    except Exception as exc:
        msg = f"writing layer {layer} failed, nothing was written (the store is unchanged): {exc}"
        raise ImportFailed(msg) from exc

