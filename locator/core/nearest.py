"""Nearest stations: an in-memory index per point layer, filters as boolean masks, geodesic answers.

The index is built once per snapshot (``@register_builder``), never per request. A query
1. turns the filters into one boolean mask over the layer (amenity bitmask, status, open-at evaluated once per
   distinct opening_hours string; masks are cached, so repeated filters cost a dictionary look-up),
2. finds candidates by work-CRS (UTM) distance: from the query point's grid cell's precomputed neighbour list
   when that list provably holds them (``core.cells``), else a k-d tree queried with a growing k until k
   stations pass the mask, or a brute-force pass over the few stations that pass when the mask is very
   selective, so the answer is the k nearest *among the stations that pass*, however many nearer ones fail,
3. re-ranks the candidates by geodesic distance (WGS-84 ellipsoid) and reports that distance.

UTM distances differ from geodesic ones by the grid scale factor (0.9996 on the central meridian, within
0.9996-1.0001 across Beijing and 50 km around it in zone 50N, i.e. < 0.05 %). Step 2 keeps every candidate
whose UTM distance is within ``(1 + e) / (1 - e)`` of the k-th, where ``e`` bounds the relative scale error
(``SCALE_MARGIN`` or twice the worst scale error measured over the layer's extent, whichever is larger):
a station that is among the k geodesic-nearest can't be left out, so ties at the k-th place come out right.

Walking and riding times are straight-line distance divided by a documented speed (``WALK_M_PER_MIN``,
``RIDE_M_PER_MIN``): a lower bound for the real trip, which follows streets.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
from pyproj import Geod, Proj
from scipy.spatial import cKDTree

from locator.core.cells import CellLists, build_levels, level_candidates
from locator.core.navigation import nav_links_many
from locator.core.snapshot import Snapshot, register_builder
from locator.crs import COORD_SYSTEMS, CoordSystem, from_wgs84, geodesic_distance_m, work_xy_to_lonlat
from locator.hours import TZ, is_open, next_change
from locator.model import AMENITY_KEYS, split_amenities

# Walking: 4.5 km/h = 75 m/min. Between the 1.2 m/s (4.3 km/h) that the US Highway Capacity Manual uses for
# pedestrian design and the ~1.4 m/s (5 km/h) average preferred walking speed of adults (Browning et al. 2006,
# J. Appl. Physiol. 100:390); a courier on foot often carries a load, so we take the lower half.
WALK_M_PER_MIN = 4500.0 / 60.0
# E-bike: 15 km/h = 250 m/min. Our assumption for an average urban trip with junctions and traffic lights;
# GB 17761-2018 caps an electric bicycle's design speed at 25 km/h, which riders rarely hold in the city.
RIDE_M_PER_MIN = 15000.0 / 60.0

# Relative UTM-vs-geodesic scale error assumed at least (see module docstring); 0.2 % is four times the worst
# case in Beijing, so the candidate margin also covers a query point 50 km outside the service area.
SCALE_MARGIN = 2e-3
# Up to this many stations passing the filters, one numpy pass over them beats probing the tree with a k large
# enough to find k passing ones (about k * n / passing); above it the tree with a growing k wins.
BRUTE_FORCE_MAX = 1024
# Below this share of stations passing the filters, a cell's short neighbour list rarely holds k passing ones:
# go straight to the tree.
CELL_MIN_SHARE = 0.5
# Distinct (filters, minute) masks kept per index; a minute because opening hours have minute resolution.
MASK_CACHE_SIZE = 256
# (hours string, minute) -> (open, next change) answers kept per index before the cache starts over.
HOURS_CACHE_SIZE = 8192
# Result cards kept per index before that cache starts over: ~1 KB each plus the station's nav links (~1.5 KB,
# shared by its cards in the three systems), so at most ~60 MB per worker however large the layer.
CARD_CACHE_SIZE = 24_000

# The ellipsoid of crs.geodesic_distance_m; called directly here for distance and azimuth in one call on the
# hot path (crs' broadcasting wrappers cost more than the geodesics themselves for a handful of points).
_GEOD = Geod(ellps="WGS84")

_AMENITY_BIT = {key: 1 << i for i, key in enumerate(AMENITY_KEYS)}
# Only these statuses can be open; closed, temporarily closed and planned stations never count as open.
OPEN_STATUS = "open"


def amenity_bits(keys: Iterable[str]) -> int:
    """The bitmask of amenity vocabulary keys (unknown keys raise KeyError: parse user input first)."""
    bits = 0
    for key in keys:
        bits |= _AMENITY_BIT[key]
    return bits


class Hit(NamedTuple):
    """One answer: the row position in the index, geodesic distance and bearing from the query point."""

    pos: int
    id: str
    distance_m: float
    bearing_deg: float


@dataclass
class PointIndex:
    """A point layer ready for queries: positions in the work CRS and lon/lat in every coordinate system.

    The numpy arrays serve whole-layer work (masks, listings); the hot path of a single query reads the plain
    Python lists beside them (``xs``, ``lon_w``, ...), because indexing a numpy array one element at a time
    costs more than the arithmetic done with the element.
    """

    layer: str
    work: str  # the work CRS of x, y
    frame: gpd.GeoDataFrame
    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lonlat: dict[str, tuple[np.ndarray, np.ndarray]]
    tree: cKDTree
    status: np.ndarray
    amenity: np.ndarray
    hours_code: np.ndarray
    hours_values: tuple[str, ...]
    by_id: dict[str, int]
    id_order: np.ndarray
    id_rank: np.ndarray  # position of each row in id order: the tie-break of equal distances
    scale_error: float
    cells: tuple[CellLists, ...] = field(default=(), repr=False)  # neighbour lists per grid cell (core.cells)
    # plain-list copies for the per-query path
    xs: list[float] = field(default_factory=list, repr=False)
    ys: list[float] = field(default_factory=list, repr=False)
    id_list: list[str] = field(default_factory=list, repr=False)
    lon_w: list[float] = field(default_factory=list, repr=False)
    lat_w: list[float] = field(default_factory=list, repr=False)
    rank_list: list[int] = field(default_factory=list, repr=False)
    open_list: list[bool] = field(default_factory=list, repr=False)  # status == open
    code_list: list[int] = field(default_factory=list, repr=False)  # hours_code
    _masks: OrderedDict = field(default_factory=OrderedDict, repr=False)
    # id(mask) -> (mask, positions passing or None, share passing, mask as bytes: 1 passes)
    _passing: dict = field(default_factory=dict, repr=False)
    _hours: dict = field(default_factory=dict, repr=False)  # (hours code, epoch minute) -> (open, next change)
    _cards: dict = field(default_factory=dict, repr=False)  # (pos, system) -> static part of a result
    _columns: dict = field(default_factory=dict, repr=False)  # column name -> values as a list of str
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stretch: float = field(init=False, repr=False)  # candidate margin over the k-th UTM distance

    def __post_init__(self) -> None:
        self.stretch = (1.0 + self.margin) / (1.0 - self.margin)
        if not self.id_list and len(self.ids):
            self.id_list = [str(i) for i in self.ids]
            self.xs, self.ys = self.x.tolist(), self.y.tolist()
            lon, lat = self.lonlat["wgs84"]
            self.lon_w, self.lat_w = lon.tolist(), lat.tolist()
            self.rank_list = self.id_rank.tolist()
            self.open_list = (self.status == OPEN_STATUS).tolist()
            self.code_list = self.hours_code.tolist()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def margin(self) -> float:
        return max(SCALE_MARGIN, 2.0 * self.scale_error)

    def mask(self, *, amenities: Iterable[str] = (), statuses: Iterable[str] | None = None,
             open_at: datetime | None = None) -> np.ndarray | None:
        """Boolean mask of rows passing every filter, or None when nothing is filtered.

        ``open_at`` keeps only stations whose status is ``open`` and whose hours say open at that time;
        unknown hours do not pass. Masks are cached per (filters, minute); treat the result as read-only.
        """
        bits = amenity_bits(amenities)
        wanted = None if statuses is None else frozenset(statuses)
        minute = None if open_at is None else _minute_key(open_at)
        if not bits and wanted is None and minute is None:
            return None
        key = (bits, wanted, minute)
        cached = self._masks.get(key)  # a dict read is atomic; the lock guards the order and the eviction
        if cached is not None:
            with self._lock:
                if key in self._masks:
                    self._masks.move_to_end(key)
            return cached
        result = np.ones(len(self), dtype=bool)
        if bits:
            result &= (self.amenity & bits) == bits
        if wanted is not None:
            result &= np.isin(self.status, list(wanted))
        if minute is not None:
            # one evaluation per distinct hours string, then a gather: the library is the slow part
            at = _minute_datetime(minute)
            open_by_code = np.array([is_open(h, at) is True for h in self.hours_values], dtype=bool)
            result &= (self.status == OPEN_STATUS) & open_by_code[self.hours_code]
        result.setflags(write=False)
        count = int(result.sum())
        passing = np.flatnonzero(result) if count <= BRUTE_FORCE_MAX else None
        with self._lock:
            self._masks[key] = result
            self._passing[id(result)] = (result, passing, count / max(len(self), 1), result.tobytes())
            while len(self._masks) > MASK_CACHE_SIZE:
                _, old = self._masks.popitem(last=False)
                self._passing.pop(id(old), None)
        return result

    def _pass_entry(self, mask: np.ndarray) -> tuple[np.ndarray | None, float, bytes]:
        entry = self._passing.get(id(mask))
        if entry is not None and entry[0] is mask:
            return entry[1], entry[2], entry[3]
        count = int(mask.sum())
        passing = np.flatnonzero(mask) if count <= BRUTE_FORCE_MAX else None
        # bytes: indexing one element costs a quarter of a numpy bool's, at one byte per station
        return passing, count / max(len(self), 1), mask.tobytes()

    def passing(self, mask: np.ndarray) -> np.ndarray | None:
        """Positions passing ``mask`` when they are few (<= BRUTE_FORCE_MAX), else None."""
        return self._pass_entry(mask)[0]

    def hours_state(self, pos: int, at: datetime) -> tuple[bool | None, str | None]:
        """(open at ``at``, when that next changes as ISO 8601 or None), cached per (hours string, minute).

        Opening hours have minute resolution, so both answers are the same for every second of a minute.
        Not open unless the status is ``open`` (then no next change either); None when the hours are unknown.
        """
        if not self.open_list[pos]:
            return False, None
        key = (self.code_list[pos], _minute_key(at))
        state = self._hours.get(key)
        if state is None:
            hours, minute = self.hours_values[key[0]], _minute_datetime(key[1])
            change = next_change(hours, minute)
            iso = None if change is None or change - minute > timedelta(days=366) else \
                change.isoformat(timespec="minutes")
            state = (is_open(hours, minute), iso)
            if len(self._hours) >= HOURS_CACHE_SIZE:
                self._hours.clear()
            self._hours[key] = state
        return state

    def open_state(self, pos: int, at: datetime) -> bool | None:
        """Open at ``at``: False unless the status is ``open``; None when the hours are unknown."""
        return self.hours_state(pos, at)[0]

    def column(self, name: str) -> list[str]:
        """A frame column as a list of str ("" where missing), read once per index."""
        values = self._columns.get(name)
        if values is None:
            if name in self.frame.columns:
                values = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                          for v in self.frame[name].tolist()]
            else:
                values = [""] * len(self)
            self._columns[name] = values
        return values


def _minute_key(at: datetime) -> int:
    """Minutes since the epoch of ``at`` (naive datetimes are Asia/Shanghai time)."""
    if at.tzinfo is None or at.utcoffset() is None:
        at = at.replace(tzinfo=TZ)
    return int(at.timestamp() // 60)


def _minute_datetime(key: int) -> datetime:
    return datetime.fromtimestamp(key * 60, TZ)


def _worst_scale_error(x: np.ndarray, y: np.ndarray, work: str) -> float:
    """Largest |scale factor - 1| of the work CRS over the layer's extent grown by 100 km."""
    if not len(x) or not Proj(work).crs.is_projected:
        return 0.0
    grow = 100_000.0
    xs = np.linspace(x.min() - grow, x.max() + grow, 9)
    ys = np.linspace(y.min() - grow, y.max() + grow, 9)
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = work_xy_to_lonlat(gx.ravel(), gy.ravel(), work=work)
    factors = Proj(work).get_factors(lon, lat)
    scales = np.concatenate([np.asarray(factors.meridional_scale), np.asarray(factors.parallel_scale)])
    return float(np.max(np.abs(scales - 1.0)))


def build_point_index(frame: gpd.GeoDataFrame, *, layer: str) -> PointIndex:
    """Index a point layer held in the work CRS (as stores hand layers back)."""
    frame = frame.reset_index(drop=True)
    n = len(frame)
    work = frame.crs.to_string() if frame.crs is not None else "EPSG:32650"
    geoms = frame.geometry
    x = np.asarray(geoms.x, dtype=float) if n else np.empty(0)
    y = np.asarray(geoms.y, dtype=float) if n else np.empty(0)
    lon, lat = work_xy_to_lonlat(x, y, work=work)
    lonlat = {system: from_wgs84(lon, lat, system) for system in COORD_SYSTEMS}
    ids = np.asarray(frame["id"].astype(str).to_numpy(), dtype=object)
    status = np.asarray(frame["status"].astype(str).to_numpy(), dtype=object) if n else np.empty(0, dtype=object)
    if "amenities" in frame.columns:
        amenity = np.array([amenity_bits(k for k in split_amenities(v) if k in _AMENITY_BIT)
                            for v in frame["amenities"]], dtype=np.int64)
    else:
        amenity = np.zeros(n, dtype=np.int64)
    hours = frame["opening_hours"].fillna("").astype(str) if "opening_hours" in frame.columns else None
    if hours is not None and n:
        codes, uniques = hours.factorize()
        hours_code, hours_values = codes.astype(np.intp), tuple(str(u) for u in uniques)
    else:
        hours_code, hours_values = np.zeros(n, dtype=np.intp), ("",)
    id_order = np.argsort(ids.astype(str), kind="stable")
    id_rank = np.empty(n, dtype=np.intp)
    id_rank[id_order] = np.arange(n)
    tree = cKDTree(np.column_stack([x, y]) if n else np.empty((0, 2)))
    return PointIndex(
        layer=layer, work=work, frame=frame, ids=ids, x=x, y=y, lonlat=lonlat, tree=tree,
        cells=build_levels(x, y, tree),
        status=status, amenity=amenity, hours_code=hours_code, hours_values=hours_values,
        by_id={str(i): pos for pos, i in enumerate(ids)},
        id_order=id_order, id_rank=id_rank,
        scale_error=_worst_scale_error(x, y, work),
    )


@register_builder("station_index", layers=("stations",))
def station_index(snapshot: Snapshot) -> PointIndex:
    return build_point_index(snapshot.layer("stations"), layer="stations")


@register_builder("booth_index", layers=("booths",))
def booth_index(snapshot: Snapshot) -> PointIndex:
    return build_point_index(snapshot.layer("booths"), layer="booths")


def _candidates(index: PointIndex, x: float, y: float, k: int, radius_m: float | None,
                mask: np.ndarray | None) -> list[int]:
    """Positions that must contain the k geodesic-nearest passing stations (see the module docstring)."""
    stretch = index.stretch
    bound_r = math.inf if radius_m is None else radius_m * stretch + 1.0
    share, passes = 1.0, None
    if mask is not None:
        selected, share, passes = index._pass_entry(mask)
        if selected is not None:
            d = np.hypot(index.x[selected] - x, index.y[selected] - y)
            keep = d <= bound_r
            selected, d = selected[keep], d[keep]
            if len(d) > k:
                kth = np.partition(d, k - 1)[k - 1]
                selected = selected[d <= kth * stretch + 1e-6]
            return selected.tolist()
    if index.cells and share >= CELL_MIN_SHARE:
        found = level_candidates(index.cells, index.xs, index.ys, x, y, k=k, bound_r=bound_r, stretch=stretch,
                                 passes=passes)
        if found is not None:
            return found
    n = len(index)
    # Probe enough neighbours that k of them pass (two standard deviations of the binomial count above k) and
    # one more lies past the margin; a second probe four times larger is the exception. Each probe's cost
    # grows with its size, so neither guess low and probe twice nor ask for hundreds.
    spread = 2.0 * math.sqrt(k * (1.0 - share))
    q = min(n, int((k + spread) / max(share, 1e-3)) + 3)
    tree = index.tree
    while True:
        d, i = tree.query((x, y), k=q, distance_upper_bound=bound_r)
        dists, poss = ([float(d)], [int(i)]) if q == 1 else (d.tolist(), i.tolist())
        kept: list[tuple[float, int]] = []
        bound = math.inf  # k-th passing UTM distance, stretched, once k have passed
        for dist, pos in zip(dists, poss, strict=True):
            if dist > bound or dist == math.inf:
                # neighbours come nearest first: every station within the bound (or bound_r) has been seen
                return [p for dp, p in kept if dp <= bound]
            if passes is None or passes[pos]:
                kept.append((dist, pos))
                if len(kept) == k:
                    bound = dist * stretch + 1e-6
        if q >= n:
            return [p for dp, p in kept if dp <= bound]
        q = min(n, q * 4)


def nearest(index: PointIndex, lon: float, lat: float, x: float, y: float, *, k: int = 5,
            radius_m: float | None = None, mask: np.ndarray | None = None) -> list[Hit]:
    """The k stations nearest to a query point among those passing ``mask``, by geodesic distance.

    Parameters
    ----------
    index
        The layer's index (``snapshot.derived("station_index")``).
    lon, lat
        The query point in WGS-84 (for geodesic distances).
    x, y
        The same point in the work CRS (for the tree), e.g. from ``crs.point_to_work_xy``.
    k
        How many to return at most.
    radius_m
        Leave out stations farther than this (geodesic metres).
    mask
        From ``index.mask(...)``; None keeps every station.

    Returns
    -------
    Hits ordered by distance, then id (so equal distances always come out the same way).
    """
    if k < 1 or not len(index):
        return []
    positions = _candidates(index, x, y, k, radius_m, mask)
    # Geod.inv on plain floats, one call per candidate (usually k to k + 2 of them): the same Karney
    # geodesic as with arrays, without converting a handful of values to and from numpy buffers.
    inv = _GEOD.inv
    lon_w, lat_w, rank = index.lon_w, index.lat_w, index.rank_list
    rows = []
    for pos in positions:
        azimuth, _, dist = inv(lon, lat, lon_w[pos], lat_w[pos])
        if radius_m is None or dist <= radius_m:
            rows.append((dist, rank[pos], pos, azimuth))
    rows.sort()
    hits = []
    ids = index.id_list
    for dist, _, pos, azimuth in rows[:k]:
        bearing = azimuth % 360.0
        if bearing >= 360.0:  # -1e-17 % 360.0 rounds to 360.0
            bearing = 0.0
        hits.append(Hit(pos, ids[pos], dist, bearing))
    return hits


def walk_min(distance_m: float) -> float:
    """Minutes on foot at ``WALK_M_PER_MIN`` (straight line: a lower bound)."""
    return distance_m / WALK_M_PER_MIN


def ride_min(distance_m: float) -> float:
    """Minutes by e-bike at ``RIDE_M_PER_MIN`` (straight line: a lower bound)."""
    return distance_m / RIDE_M_PER_MIN


def distance_outside_m(lon: float, lat: float, box: tuple[float, float, float, float]) -> float:
    """Geodesic metres from a WGS-84 point to the lon/lat box (minlon, minlat, maxlon, maxlat); 0 inside."""
    minlon, minlat, maxlon, maxlat = box
    clon, clat = min(max(lon, minlon), maxlon), min(max(lat, minlat), maxlat)
    if (clon, clat) == (lon, lat):
        return 0.0
    return float(geodesic_distance_m(lon, lat, clon, clat))


def select_rows(index: PointIndex, *, system: CoordSystem = "wgs84",
                bbox: tuple[float, float, float, float] | None = None, statuses: Iterable[str] | None = None,
                amenities: Iterable[str] = (), subdistricts: Iterable[str] | None = None) -> np.ndarray:
    """Positions of rows passing the filters, ordered by id (stable pages); ``bbox`` is in ``system``."""
    keep = index.mask(amenities=amenities, statuses=statuses)
    keep = np.ones(len(index), dtype=bool) if keep is None else keep.copy()
    if bbox is not None:
        lon, lat = index.lonlat[system]
        minlon, minlat, maxlon, maxlat = bbox
        keep &= (lon >= minlon) & (lon <= maxlon) & (lat >= minlat) & (lat <= maxlat)
    if subdistricts is not None:
        keep &= index.frame["subdistrict"].isin(list(subdistricts)).to_numpy()
    return index.id_order[keep[index.id_order]]


def next_change_iso(index: PointIndex, pos: int, at: datetime) -> str | None:
    """When an open station's state next changes after ``at`` (ISO 8601, +08:00), or None."""
    return index.hours_state(pos, at)[1]


def _nav(index: PointIndex, pos: int, name: str, address: str) -> dict[str, str]:
    # the links are the same whatever the answer's system: one dict per station, shared by its cards
    for system in COORD_SYSTEMS:
        card = index._cards.get((pos, system))
        if card is not None:
            return card["nav"]  # type: ignore[no-any-return]
    return nav_links_many([index.lon_w[pos]], [index.lat_w[pos]], [name], [address])[0]


def result_card(index: PointIndex, pos: int, system: str) -> dict[str, Any]:
    """The parts of a nearest answer that depend only on the station and ``system``, built once per index.

    Keys: id, name, address, lon, lat (in ``system``, 7 decimals), opening_hours, amenities, status, source,
    nav (links into map apps). Shared between answers: read it, don't change it.
    """
    key = (pos, system)
    card = index._cards.get(key)
    if card is None:
        name, address = index.column("name")[pos], index.column("address")[pos]
        lon, lat = index.lonlat[system]
        card = {
            "id": index.id_list[pos], "name": name, "address": address,
            "lon": round(float(lon[pos]), 7), "lat": round(float(lat[pos]), 7),
            "opening_hours": index.column("opening_hours")[pos],
            "amenities": split_amenities(index.column("amenities")[pos]),
            "status": index.column("status")[pos], "source": index.column("source")[pos],
            "nav": _nav(index, pos, name, address),
        }
        if len(index._cards) >= CARD_CACHE_SIZE:
            index._cards.clear()
        index._cards[key] = card
    return card
