"""The only module that transforms coordinates.

China uses three lon/lat systems: WGS-84 (GPS, OpenStreetMap), GCJ-02 (Amap, Tencent; WGS-84 plus a
published obfuscation offset of a few hundred metres) and BD-09 (Baidu; GCJ-02 plus a second offset).
Analysis runs in one metric work CRS (``WORK_CRS``, UTM 50N by default); everything else converts at the
edges through the functions here. Every function that takes coordinates is told their system: nothing guesses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Literal, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer

from locator.config import SETTINGS
from locator.errors import InvalidParameter

CoordSystem = Literal["wgs84", "gcj02", "bd09"]
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
WGS84 = "EPSG:4326"

_ALIASES: dict[str, CoordSystem] = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "epsg:4326": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09",  # bd09ll is what Baidu's own APIs call it
}

# GCJ-02 is defined on the Krasovsky 1940 ellipsoid; these constants are part of the published algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
# 1e-11 degrees is about a micrometre; both inverses get there in 6-7 steps because the offsets vary slowly.
_TOL_DEG = 1e-11
_MAX_ITER = 30

_GEOD = Geod(ellps="WGS84")
_WORK_CRS_SETTING = next(s for s in SETTINGS if s.name == "WORK_CRS")

Geoms = TypeVar("Geoms")
Array = np.ndarray


def parse_coord_system(value: str, *, param: str = "crs") -> CoordSystem:
    """Read a user-supplied coordinate system name (case-insensitive); raise InvalidParameter otherwise."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key in _ALIASES:
        return _ALIASES[key]
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    msg = f"{param} must be one of {', '.join(COORD_SYSTEMS)} (got {shown})"
    raise InvalidParameter(msg, param=param)


def _xy(lon, lat) -> tuple[Array, Array]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon.copy(), lat.copy()


def out_of_china(lon, lat) -> Array:
    """True where a point lies outside the rough rectangle in which GCJ-02 applies an offset."""
    lon, lat = _xy(lon, lat)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon: Array, lat: Array) -> tuple[Array, Array]:
    """The GCJ-02 offset (degrees) to add to a WGS-84 point inside China."""
    x, y = lon - 105.0, lat - 35.0
    shared = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + shared
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + shared
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _gcj_forward(lon: Array, lat: Array) -> tuple[Array, Array]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: Array, lat: Array) -> tuple[Array, Array]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(forward: Callable[[Array, Array], tuple[Array, Array]], lon: Array, lat: Array,
            ) -> tuple[Array, Array]:
    """Solve forward(x) == (lon, lat) by fixed-point iteration from x = (lon, lat).

    Both forward maps are the identity plus an offset whose derivative is below ~1e-2, so each step shrinks
    the error at least a hundredfold. The usual closed-form inverses stop after one step: up to ~5 m off for
    GCJ-02 and ~0.2 m for BD-09.
    """
    x, y = lon.copy(), lat.copy()
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x -= ex
        y -= ey
        err = np.abs(np.concatenate([ex.ravel(), ey.ravel()]))
        if np.max(err, initial=0.0, where=np.isfinite(err)) < _TOL_DEG:
            break
    return x, y


def _apply(fn, lon, lat, *, china_only: bool) -> tuple[Array, Array]:
    """Apply fn to finite points (inside China if china_only); return the others unchanged.

    GCJ-02 itself leaves points outside China alone. Non-finite input is held back so that it raises no
    floating-point warnings (the test suite turns warnings into errors) and stays what it was.
    """
    lon, lat = _xy(lon, lat)
    skip = ~(np.isfinite(lon) & np.isfinite(lat))
    if china_only:
        skip |= out_of_china(lon, lat)
    tx, ty = fn(np.where(skip, 105.0, lon), np.where(skip, 35.0, lat))
    return np.where(skip, lon, tx), np.where(skip, lat, ty)


def wgs84_to_gcj02(lon, lat) -> tuple[Array, Array]:
    """WGS-84 -> GCJ-02; vectorised; points outside China are returned unchanged."""
    return _apply(_gcj_forward, lon, lat, china_only=True)


def gcj02_to_wgs84(lon, lat) -> tuple[Array, Array]:
    """GCJ-02 -> WGS-84 by iteration, exact to well under a millimetre inside China."""
    return _apply(lambda x, y: _invert(_gcj_forward, x, y), lon, lat, china_only=True)


def gcj02_to_bd09(lon, lat) -> tuple[Array, Array]:
    """GCJ-02 -> BD-09 (Baidu's offset applies everywhere, not only inside China)."""
    return _apply(_bd_forward, lon, lat, china_only=False)


def bd09_to_gcj02(lon, lat) -> tuple[Array, Array]:
    """BD-09 -> GCJ-02 by iteration; the usual closed-form inverse is off by up to ~0.2 m."""
    return _apply(lambda x, y: _invert(_bd_forward, x, y), lon, lat, china_only=False)


def wgs84_to_bd09(lon, lat) -> tuple[Array, Array]:
    """WGS-84 -> BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[Array, Array]:
    """BD-09 -> WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {"wgs84": _xy, "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"wgs84": _xy, "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def _lookup(table: dict, system: str):
    try:
        return table[system]
    except KeyError:
        msg = f"unknown coordinate system {system!r}; use parse_coord_system() on user input"
        raise ValueError(msg) from None


def to_wgs84(lon, lat, system: CoordSystem) -> tuple[Array, Array]:
    """Lon/lat in ``system`` -> WGS-84 lon/lat."""
    return _lookup(_TO_WGS84, system)(lon, lat)


def from_wgs84(lon, lat, system: CoordSystem) -> tuple[Array, Array]:
    """WGS-84 lon/lat -> lon/lat in ``system``."""
    return _lookup(_FROM_WGS84, system)(lon, lat)


def convert(lon, lat, *, src: CoordSystem, dst: CoordSystem) -> tuple[Array, Array]:
    """Lon/lat from ``src`` to ``dst``; GCJ-02 <-> BD-09 goes direct, not through WGS-84."""
    if (src, dst) == ("gcj02", "bd09"):
        return gcj02_to_bd09(lon, lat)
    if (src, dst) == ("bd09", "gcj02"):
        return bd09_to_gcj02(lon, lat)
    _lookup(_FROM_WGS84, dst)  # fail on a bad dst before doing any work
    return from_wgs84(*to_wgs84(lon, lat, src), dst)


def _coords_fn(fn) -> Callable[[Array], Array]:
    def transform(coords: Array) -> Array:
        out = coords.copy()  # keeps z (column 2) as it was
        out[:, 0], out[:, 1] = fn(coords[:, 0], coords[:, 1])
        return out

    return transform


def _check_lonlat(crs: CRS | None) -> None:
    if crs is not None and not crs.is_geographic:
        msg = f"expected lon/lat geometries, got the projected CRS {crs.to_string()}"
        raise ValueError(msg)


def _convert_geoms(geoms: Geoms, fn, system: str) -> Geoms:
    if isinstance(geoms, gpd.GeoDataFrame):
        out = geoms.copy()
        out[geoms.geometry.name] = _convert_geoms(geoms.geometry, fn, system)
        return out.set_crs(WGS84, allow_override=True)
    if isinstance(geoms, gpd.GeoSeries):
        _check_lonlat(geoms.crs)
        if system == "wgs84":
            # to_crs also honours a lon/lat CRS such as CGCS2000 (EPSG:4490)
            return geoms.set_crs(WGS84) if geoms.crs is None else geoms.to_crs(WGS84)
        data = shapely.transform(geoms.to_numpy(), _coords_fn(fn), include_z=True)
        return gpd.GeoSeries(data, index=geoms.index, crs=WGS84, name=geoms.name)
    return shapely.transform(geoms, _coords_fn(fn), include_z=True)


def geometry_to_wgs84(geoms: Geoms, system: CoordSystem) -> Geoms:
    """Shapely geometries (one, an array, a GeoSeries or GeoDataFrame) from ``system`` to WGS-84.

    GeoSeries and GeoDataFrames keep their index and come back labelled EPSG:4326, whatever label they had:
    Amap data is GCJ-02 even where the file says EPSG:4326.
    """
    return _convert_geoms(geoms, _lookup(_TO_WGS84, system), system)


def geometry_from_wgs84(geoms: Geoms, system: CoordSystem) -> Geoms:
    """Shapely geometries from WGS-84 to ``system``; frames and series stay labelled EPSG:4326."""
    return _convert_geoms(geoms, _lookup(_FROM_WGS84, system), system)


def work_crs(settings: dict | None = None) -> str:
    """The metric CRS analysis runs in: ``settings["WORK_CRS"]``, else LOCATOR_WORK_CRS, else EPSG:32650."""
    if settings and settings.get("WORK_CRS"):
        return str(settings["WORK_CRS"])
    return os.environ.get(_WORK_CRS_SETTING.env) or str(_WORK_CRS_SETTING.default)


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> Transformer:
    # Building a Transformer costs ~1 ms; query points come one request at a time.
    return Transformer.from_crs(src, dst, always_xy=True)


def to_work(gdf, *, system: CoordSystem = "wgs84", work: str | None = None):
    """A GeoDataFrame or GeoSeries of lon/lat in ``system`` -> the metric work CRS.

    Parameters
    ----------
    gdf
        Lon/lat geometries in ``system``, whatever their CRS label says (Amap files claim EPSG:4326), or
        no CRS at all. A frame in a projected CRS is simply reprojected (``system`` must then be wgs84).
    system
        The lon/lat system of the coordinates.
    work
        Target CRS; defaults to :func:`work_crs`.
    """
    work = work or work_crs()
    if gdf.crs is not None and not gdf.crs.is_geographic:
        if system != "wgs84":
            msg = f"system={system!r} needs lon/lat geometries, got the projected CRS {gdf.crs.to_string()}"
            raise ValueError(msg)
        return gdf.to_crs(work)
    if gdf.crs is None and len(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            msg = "geometries without a CRS are not lon/lat (coordinates beyond +-180/+-90); set their CRS"
            raise ValueError(msg)
    return geometry_to_wgs84(gdf, system).to_crs(work)


def from_work(gdf, *, system: CoordSystem = "wgs84"):
    """A GeoDataFrame or GeoSeries in a metric CRS -> lon/lat in ``system``, labelled EPSG:4326."""
    if gdf.crs is None:
        msg = "from_work needs a frame with its CRS set"
        raise ValueError(msg)
    return geometry_from_wgs84(gdf.to_crs(WGS84), system)


def _transform(src: str, dst: str, x, y) -> tuple[Array, Array]:
    x, y = _xy(x, y)
    tx, ty = _transformer(src, dst).transform(x.ravel(), y.ravel())
    return np.asarray(tx).reshape(x.shape), np.asarray(ty).reshape(y.shape)


def lonlat_to_work_xy(lon, lat, *, system: CoordSystem = "wgs84", work: str | None = None,
                      ) -> tuple[Array, Array]:
    """Lon/lat in ``system`` -> x, y (metres) in the work CRS; the fast path for query points."""
    return _transform(WGS84, work or work_crs(), *to_wgs84(lon, lat, system))


def work_xy_to_lonlat(x, y, *, system: CoordSystem = "wgs84", work: str | None = None,
                      ) -> tuple[Array, Array]:
    """x, y (metres) in the work CRS -> lon/lat in ``system``."""
    return from_wgs84(*_transform(work or work_crs(), WGS84, x, y), system)


def _geod_inv(lon1, lat1, lon2, lat2) -> tuple[Array, Array]:
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    shape = arrays[0].shape
    az, _, dist = _GEOD.inv(*(a.ravel() for a in arrays))
    return np.asarray(az, dtype=float).reshape(shape), np.asarray(dist, dtype=float).reshape(shape)


def geodesic_distance_m(lon1, lat1, lon2, lat2) -> Array:
    """Distance in metres on the WGS-84 ellipsoid between WGS-84 lon/lat points (broadcasts)."""
    return _geod_inv(lon1, lat1, lon2, lat2)[1]


def geodesic_bearing_deg(lon1, lat1, lon2, lat2) -> Array:
    """Forward azimuth from point 1 to point 2 in degrees clockwise from north, in [0, 360)."""
    bearing = np.mod(_geod_inv(lon1, lat1, lon2, lat2)[0], 360.0)
    # np.mod(-1e-17, 360.0) rounds to 360.0, which is outside the promised range.
    return np.where(bearing >= 360.0, 0.0, bearing)


# ---------------------------------------------------------------------------------------------------------------
# One point at a time: a request's query point. The functions above broadcast numpy arrays, which costs ~100 us
# for a single GCJ-02 point (30-odd ufunc calls per iteration); the same formulas in ``math`` cost a few us.
# Same algorithm, same constants and tolerance: results agree with the array versions to ~1e-12 degrees.


def _gcj_forward_point(lon: float, lat: float) -> tuple[float, float]:
    pi, sin = math.pi, math.sin
    x, y = lon - 105.0, lat - 35.0
    shared = (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + shared
            + (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + shared
            + (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = math.radians(lat)
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * math.cos(rad) * pi)
    return lon + dlon, lat + dlat


def _bd_forward_point(lon: float, lat: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _invert_point(forward: Callable[[float, float], tuple[float, float]], lon: float, lat: float,
                  ) -> tuple[float, float]:
    x, y = lon, lat  # fixed-point iteration as in _invert
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x -= ex
        y -= ey
        if max(abs(ex), abs(ey)) < _TOL_DEG:
            break
    return x, y


def _out_of_china_point(lon: float, lat: float) -> bool:
    return lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271


def point_to_wgs84(lon: float, lat: float, system: CoordSystem) -> tuple[float, float]:
    """One lon/lat point in ``system`` -> WGS-84, as ``to_wgs84`` but for plain floats (the fast path)."""
    lon, lat = float(lon), float(lat)
    if system == "wgs84" or not (math.isfinite(lon) and math.isfinite(lat)):
        _lookup(_TO_WGS84, system)
        return lon, lat
    if system == "bd09":
        lon, lat = _invert_point(_bd_forward_point, lon, lat)
    elif system != "gcj02":
        _lookup(_TO_WGS84, system)  # raises ValueError for an unknown system
    if _out_of_china_point(lon, lat):
        return lon, lat
    return _invert_point(_gcj_forward_point, lon, lat)


def point_from_wgs84(lon: float, lat: float, system: CoordSystem) -> tuple[float, float]:
    """One WGS-84 point -> lon/lat in ``system``, as ``from_wgs84`` but for plain floats."""
    lon, lat = float(lon), float(lat)
    if system == "wgs84" or not (math.isfinite(lon) and math.isfinite(lat)):
        _lookup(_FROM_WGS84, system)
        return lon, lat
    _lookup(_FROM_WGS84, system)
    if not _out_of_china_point(lon, lat):
        lon, lat = _gcj_forward_point(lon, lat)
    return _bd_forward_point(lon, lat) if system == "bd09" else (lon, lat)


def point_to_work_xy(lon: float, lat: float, *, work: str | None = None) -> tuple[float, float]:
    """One WGS-84 point -> x, y (metres) in the work CRS, as ``lonlat_to_work_xy`` but for plain floats."""
    x, y = _transformer(WGS84, work or work_crs()).transform(float(lon), float(lat))
    return float(x), float(y)
