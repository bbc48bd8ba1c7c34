"""Export a stored layer as GeoJSON, CSV or GeoPackage, its coordinates in a chosen lon/lat system.

Coordinates leave the work CRS through ``crs.from_work`` only. Every exported row carries a ``crs``
column naming its system, because no file label can say GCJ-02 or BD-09 (they have no EPSG code; a
GCJ-02 GeoPackage is labelled EPSG:4326 like WGS-84). ``import_file`` reads that column back, so an
export imports again without ``--crs`` and without guessing. Files are written beside the target and
moved into place, so a failed export never leaves half a file.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from locator import crs, model
from locator.errors import InvalidParameter

FORMATS = ("geojson", "csv", "gpkg")
STDOUT = "-"
COORDINATE_DECIMALS = 7  # 1e-7 degrees is about 1 cm


def export_layer(store, layer: str, path_or_dash: str | Path, *, fmt: str = "geojson",
                 system: str = "wgs84") -> int:
    """Write ``layer`` to ``path_or_dash`` (``-`` is stdout, for geojson and csv) and return the row count.

    Parameters
    ----------
    store : Store
        Where the layer is read from (in the work CRS).
    layer : str
        ``stations``, ``booths``, ``subdistricts`` or ``streets``.
    path_or_dash : str or Path
        The file to write (replaced if it exists), or ``-`` for stdout.
    fmt : str
        ``geojson``; ``csv`` (all fields, then ``lon``/``lat`` for points or ``wkt`` otherwise, then
        ``crs``); or ``gpkg``.
    system : str
        ``wgs84``, ``gcj02`` or ``bd09``: the system of the written coordinates.
    """
    schema = model.layer_schema(layer)
    if fmt not in FORMATS:
        msg = f"format must be one of {', '.join(FORMATS)} (got {fmt!r})"
        raise InvalidParameter(msg, param="format", valid=list(FORMATS))
    system = crs.parse_coord_system(system, param="crs")
    to_stdout = str(path_or_dash) == STDOUT
    if to_stdout and fmt == "gpkg":
        msg = "a GeoPackage cannot be written to stdout; give a file name"
        raise InvalidParameter(msg, param="path")
    frame = store.read(layer)
    out = crs.from_work(frame, system=system) if len(frame) else frame.set_crs(crs.WGS84, allow_override=True)
    out["crs"] = system
    if fmt == "csv":
        text = _csv_text(out, points=schema.geometry == ("Point",))
        _emit(text.encode("utf-8"), path_or_dash, to_stdout, bom=not to_stdout)
    elif fmt == "geojson":
        buffer = io.BytesIO()
        _write_vector(out, buffer, layer=layer, driver="GeoJSON", schema=schema)
        _emit(buffer.getvalue(), path_or_dash, to_stdout)
    else:
        _write_gpkg(out, Path(path_or_dash), layer=layer, schema=schema)
    return len(out)


def _csv_text(frame: gpd.GeoDataFrame, *, points: bool) -> str:
    """Fields, then lon/lat (points) or WKT (lines, polygons), then the system, as CSV text."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geoms = frame.geometry.to_numpy()
    system = table.pop("crs")
    if points:
        table["lon"] = shapely.get_x(geoms).round(COORDINATE_DECIMALS)
        table["lat"] = shapely.get_y(geoms).round(COORDINATE_DECIMALS)
    else:
        table["wkt"] = shapely.to_wkt(geoms, rounding_precision=COORDINATE_DECIMALS)
    table["crs"] = system
    return table.to_csv(index=False, lineterminator="\n")


def _write_vector(frame: gpd.GeoDataFrame, target, *, layer: str, driver: str, schema: model.Layer) -> None:
    geometry_type = "Point" if schema.geometry == ("Point",) else "Unknown"
    options = {"RFC7946": "YES"} if driver == "GeoJSON" else {}  # no "crs" member claiming CRS84
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL notes, e.g. on empty layers
        pyogrio.write_dataframe(frame, target, layer=layer, driver=driver, geometry_type=geometry_type,
                                layer_options=options)


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, *, layer: str, schema: model.Layer) -> None:
    tmp = _temp_beside(path)
    try:
        tmp.unlink()  # GDAL creates the GeoPackage itself
        _write_vector(frame, tmp, layer=layer, driver="GPKG", schema=schema)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _emit(data: bytes, path_or_dash: str | Path, to_stdout: bool, *, bom: bool = False) -> None:
    if to_stdout:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
        return
    path = Path(path_or_dash)
    tmp = _temp_beside(path)
    try:
        with open(tmp, "wb") as handle:
            if bom:
                handle.write(b"\xef\xbb\xbf")  # so that Excel reads the Chinese text as UTF-8
            handle.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)
