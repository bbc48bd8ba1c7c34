"""How well the street network is covered: each segment's distance to the nearest open station, per subdistrict.

A segment's distance is measured from its **midpoint** (half way along it, by length): the midpoint leaves by
either end (or reaches a station on the same segment directly), so a long segment is not credited with its
better end. Distances follow the quickest path for the profile (for ``walk`` also the shortest), and include
the walk from the street to the station (the snap distance). ``second_*`` is the same for the nearest
*other* station: where it is far, one closure opens a gap.

A segment counts towards the subdistrict that contains its midpoint. Where the subdistricts layer is empty,
the whole network is one row named 全部 / all. Polygons made by :func:`subdistricts_from_centres` (Voronoi
cells of centre points clipped to their district, a stand-in where real 街道 boundaries are missing) carry
``approximate = True``, and every output built on them says so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from locator import crs as crs_mod
from locator.core.network import (
    DEFAULT_MAX_SNAP_M,
    Profile,
    Snapped,
    StreetGraph,
    get_profile,
)
from locator.core.snapshot import Snapshot
from locator.errors import InvalidParameter
from locator.hours import is_open
from locator.model import conform

DEFAULT_THRESHOLDS_M = (500.0, 1000.0, 2000.0)
_TABLE_KEYS = ("time_min", "distance_m", "station", "second_time_min", "second_distance_m", "second_station")
DEFAULT_THRESHOLDS_MIN = (5.0, 10.0)
MODES = ("network", "straight")


@dataclass(frozen=True)
class Threshold:
    """A coverage limit: ``value`` metres (unit ``m``) or minutes (unit ``min``) of travel."""

    value: float
    unit: str

    @property
    def label(self) -> str:
        return f"{self.value:g}{self.unit}"

    def covered(self, segments: pd.DataFrame) -> np.ndarray:
        measure = segments["distance_m"] if self.unit == "m" else segments["time_min"]
        return (measure <= self.value).to_numpy()


def make_thresholds(*, metres: list[float] | tuple[float, ...] = (), minutes: list[float] | tuple[float, ...] = (),
                    ) -> list[Threshold]:
    """Thresholds from planner input; both empty gives the defaults (500 m, 1 km, 2 km)."""
    out = [Threshold(float(v), "m") for v in metres] + [Threshold(float(v), "min") for v in minutes]
    for t in out:
        if not np.isfinite(t.value) or t.value <= 0:
            param = "threshold_m" if t.unit == "m" else "threshold_min"
            raise InvalidParameter(f"{param} must be a positive number (got {t.value:g})", param=param)
    return out or [Threshold(v, "m") for v in DEFAULT_THRESHOLDS_M]


def open_mask(stations: gpd.GeoDataFrame, *, at: datetime | None, unknown_hours_open: bool = True) -> np.ndarray:
    """Stations that count: status ``open``, and open at ``at`` when given.

    Hours are evaluated once per distinct opening_hours string. Unknown or unreadable hours count as open
    (``unknown_hours_open``): most stations publish none, and a planner would otherwise see no coverage.
    """
    status_open = (stations["status"].astype(str) == "open").to_numpy() if "status" in stations else np.ones(
        len(stations), dtype=bool)
    if at is None or not len(stations):
        return status_open
    hours = stations["opening_hours"].fillna("").astype(str) if "opening_hours" in stations else pd.Series(
        [""] * len(stations))
    state = {h: is_open(h, at) for h in hours.unique()}
    by_row = hours.map(lambda h: state[h]).to_numpy(dtype=object)
    return status_open & np.array([s is True or (s is None and unknown_hours_open) for s in by_row], dtype=bool)


class SegmentCoverage:
    """Per-segment distances for one set of stations and one profile, with the stations as snapped.

    ``segments`` has one row per graph segment: its street (``street_id``, ``name``, ``highway``),
    ``length_m``, and ``distance_m``/``time_min`` to the nearest station and ``second_*`` to the nearest other
    one, with their ids (``station_id``, ``second_station_id``). The id columns are taken from the stations on
    first use of ``segments`` (the positions are ``nearest`` and ``second``; -1 for none), so a pass whose
    table is only summed never builds them. ``stations`` holds id, name, segment, snap_m and far.
    """

    def __init__(self, table: pd.DataFrame, stations: pd.DataFrame, profile: Profile, mode: str, *,
                 nearest: np.ndarray, second: np.ndarray) -> None:
        self._table, self.stations, self.profile, self.mode = table, stations, profile, mode
        self.nearest, self.second = nearest, second
        self.computed_at = datetime.now(UTC)
        self._lock = threading.Lock()
        self._with_ids = False

    def __repr__(self) -> str:
        return (f"SegmentCoverage({len(self._table)} segments, {len(self.stations)} stations, "
                f"profile={self.profile.name!r}, mode={self.mode!r})")

    @property
    def segments(self) -> pd.DataFrame:
        with self._lock:  # results are shared between threads: one of them adds the ids, once
            if not self._with_ids:
                # a take on a string array, not a million Python strings converted one by one
                ids = self.stations["id"].array
                self._table["station_id"] = ids.take(self.nearest, allow_fill=True)
                self._table["second_station_id"] = ids.take(self.second, allow_fill=True)
                self._with_ids = True
            return self._table


def _texts(column: pd.Series) -> pd.api.extensions.ExtensionArray:
    """A column as an array of pandas' ``str`` dtype (missing: NaN): a copy of the array where it already is
    one (no Python string is made, nor inferred again by the stations' table)."""
    return column.array.copy() if column.dtype == "str" else column.astype("str").array


def _station_xy(stations: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the station points (NaN for an empty one), without a Series per axis."""
    geoms = np.asarray(stations.geometry.values, dtype=object)
    if not (shapely.get_type_id(geoms) == 0).all():
        return stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()  # (which says what is wrong)
    return shapely.get_x(geoms), shapely.get_y(geoms)


def segment_coverage(graph: StreetGraph, stations: gpd.GeoDataFrame, *, profile: str | Profile = "walk",
                     mode: str = "network", max_snap_m: float = DEFAULT_MAX_SNAP_M) -> SegmentCoverage:
    """Distance and time from every segment's midpoint to the nearest and the second-nearest station.

    ``stations`` are the ones that count (filter with :func:`open_mask` first). ``mode="straight"`` measures
    straight lines (a KD-tree; for data without streets) and converts to time at ``profile.straight_kmh``.
    Stations farther than ``max_snap_m`` from any street the profile may use are flagged ``far``; they still
    count, reached over their straight-line distance to the street.
    """
    prof = get_profile(profile)
    if mode not in MODES:
        raise InvalidParameter(f"mode must be one of {', '.join(MODES)} (got {mode!r})", param="mode")
    sx, sy = _station_xy(stations) if len(stations) else (np.zeros(0), np.zeros(0))
    if mode == "network" and graph.n_segments:
        snapped, table = _network_pass(graph, prof, sx, sy)
    else:
        # (no streets: nothing to measure, and nothing to index into)
        reach = np.full(len(sx), np.inf if mode == "network" else 0.0)
        snapped = Snapped(np.full(len(sx), -1), np.zeros(len(sx)), reach)
        table = _straight_table(graph, prof, sx, sy) if mode == "straight" else dict(zip(_TABLE_KEYS, (
            np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros(0),
            np.zeros(0, dtype=np.int32)), strict=True))
    far = snapped.snap_m > max_snap_m if mode == "network" else np.zeros(len(sx), dtype=bool)
    ids = _texts(stations["id"]) if "id" in stations else pd.array(np.arange(len(stations)).astype(str), dtype="str")
    names = _texts(stations["name"]) if "name" in stations else ids
    # no copies: the street columns are shared per graph (read-only), the rest is new
    columns = {**_street_columns(graph), **{key: table[key] for key in (
        "distance_m", "time_min", "second_distance_m", "second_time_min")}}
    segs = pd.DataFrame(columns, copy=False)
    placed = pd.DataFrame({"id": ids, "name": names, "segment": snapped.segment, "snap_m": snapped.snap_m, "far": far},
                          copy=False)
    return SegmentCoverage(segs, placed, prof, mode, nearest=table["station"], second=table["second_station"])


def _street_columns(graph: StreetGraph) -> dict[str, object]:
    """Segment number, street id, name and class (string arrays) and length of every segment, made once per
    graph and read-only: every table made on them shares them, so an edit in place fails instead of
    changing the graph's (copy the table to edit it)."""
    key = ("street_columns",)
    with graph._lock:
        if key not in graph._cache:
            columns: dict[str, object] = {"segment": np.arange(graph.n_segments)}
            for name, column in (("street_id", "id"), ("name", "name"), ("highway", "highway")):
                strings = pd.array(graph.streets[column].to_numpy(dtype=object), dtype="str").take(graph.seg_street)
                values = getattr(strings, "_ndarray", None)  # (python storage; pyarrow's can't be edited in place)
                if values is not None:
                    values.flags.writeable = False
                columns[name] = strings
            columns["length_m"] = graph.seg_length_m.copy()
            columns["segment"].flags.writeable = columns["length_m"].flags.writeable = False  # type: ignore[union-attr]
            graph._cache[key] = columns
        return graph._cache[key]


def _network_pass(graph: StreetGraph, prof: Profile, sx: np.ndarray, sy: np.ndarray) -> tuple[Snapped, dict]:
    """The stations snapped, the node labels and the per-segment table, in one compiled call on two threads
    (:func:`locator.core.halves.coverage`): per segment, the nearest and second-nearest station from the
    midpoint (leave forward through v, backward through u, or reach a station on the segment itself)."""
    from locator.core import halves, parallel

    routing, index = graph.routing(prof), graph.snap_index(prof)
    con = routing.contraction
    x, y = np.array(sx, dtype=float), np.array(sy, dtype=float)  # (own, writable: one compiled variant)
    more = 1
    while True:  # a pool of queue entries too small (many labels corrected again) is rare: again with more
        with parallel.one_at_a_time():
            *out, ok = halves.coverage(x, y, *index.grid, *routing.seg_numbers, graph.seg_length_m, routing.seg_fwd_s,
                                       routing.seg_bwd_s, prof.walk_kmh / 3.6, *con.chains, *con.split, more)
        if ok:
            return Snapped(*out[:3]), dict(zip(_TABLE_KEYS, out[3:], strict=True))
        more *= 4


def _straight_table(graph: StreetGraph, prof: Profile, sx: np.ndarray, sy: np.ndarray) -> dict[str, np.ndarray]:
    from scipy.spatial import cKDTree

    n = graph.n_segments
    dist = np.full((n, 2), np.inf)
    idx = np.full((n, 2), -1)
    if len(sx) and n:
        k = min(2, len(sx))
        d, i = cKDTree(np.column_stack([sx, sy])).query(graph.seg_midpoint_xy, k=[1, 2][:k])
        dist[:, :k], idx[:, :k] = d, i
    speed_m_min = prof.straight_kmh * 1000 / 60
    return {"distance_m": dist[:, 0], "time_min": dist[:, 0] / speed_m_min, "station": idx[:, 0],
            "second_distance_m": dist[:, 1], "second_time_min": dist[:, 1] / speed_m_min, "second_station": idx[:, 1]}


def snapshot_coverage(snapshot: Snapshot, *, profile: str | Profile = "walk", at: datetime | None = None,
                      mode: str = "network", max_snap_m: float = DEFAULT_MAX_SNAP_M,
                      ) -> tuple[SegmentCoverage, np.ndarray]:
    """Segment coverage for the snapshot's stations open at ``at``, cached in the snapshot.

    The cache key is the set of stations that count rather than the hour, so two times with the same open
    stations share one computation; a data change makes a new snapshot and so a fresh computation.
    Returns the coverage and the open mask over the stations layer.
    """
    prof = get_profile(profile)
    stations = snapshot.layer("stations")
    mask = open_mask(stations, at=at)
    key = ("coverage", prof.name, id(prof), mode, float(max_snap_m),
           tuple(stations["id"].astype(str)[mask]) if len(stations) else ())
    graph = snapshot.derived("street_graph")
    result = snapshot.derived(key, lambda _s: segment_coverage(graph, stations[mask], profile=prof, mode=mode,
                                                               max_snap_m=max_snap_m))
    return result, mask


# ------------------------------------------------------------------------------------------------------------
# Per subdistrict

ALL_AREA = {"code": "", "name": "全部 / all", "district": "", "approximate": False}


def _containing(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (the first, where polygons overlap), -1 for none."""
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(points) or not len(polygons):
        return out
    hit_point, hit_poly = shapely.STRtree(polygons).query(points, predicate="covered_by")
    first = np.unique(hit_point, return_index=True)[1]
    out[hit_point[first]] = hit_poly[first]
    return out


def find_subdistricts(subdistricts: gpd.GeoDataFrame, wanted: str | None) -> gpd.GeoDataFrame:
    """The subdistricts a planner asked for by 12-digit code or by name; all of them for None.

    Names match exactly, or without the official suffix (``胜利街道`` finds ``胜利街道办事处``).
    """
    if wanted is None or not str(wanted).strip():
        return subdistricts
    text = str(wanted).strip()
    names = subdistricts["name"].astype(str)
    short = names.str.replace(r"(办事处|地区办事处)$", "", regex=True)
    hit = (subdistricts["code"].astype(str) == text) | (names == text) | (short == text)
    if not hit.any():
        hit = names.str.contains(text, regex=False)
    if not hit.any():
        from locator.errors import NotFound

        raise NotFound(f"no subdistrict with code or name {text!r}", param="subdistrict")
    return subdistricts[hit.to_numpy()]


def coverage_by_subdistrict(cov: SegmentCoverage, graph: StreetGraph, *, subdistricts: gpd.GeoDataFrame,
                            stations: gpd.GeoDataFrame, counted: np.ndarray, open_now: np.ndarray,
                            thresholds: list[Threshold], worst: int = 5, subdistrict: str | None = None,
                            ) -> pd.DataFrame:
    """One row per subdistrict: street length, length and share covered per threshold, station counts and
    the worst-served named streets.

    ``counted`` marks the stations the coverage was computed with (status open, open at ``at``);
    ``open_now`` those open at the moment of asking. Segments belong to the subdistrict holding their
    midpoint; with no subdistricts layer the whole network is one row (``ALL_AREA``).
    """
    segs = cov.segments
    if len(subdistricts):
        chosen = find_subdistricts(subdistricts, subdistrict).reset_index(drop=True)
        polygons = np.asarray(chosen.geometry.values, dtype=object)
        seg_area = _containing(shapely.points(graph.seg_midpoint_xy), polygons) if len(segs) else np.zeros(0, int)
        st_area = _containing(np.asarray(stations.geometry.values, dtype=object), polygons)
        areas = [{"code": r["code"], "name": r["name"], "district": r.get("district", ""),
                  "approximate": bool(r.get("approximate", False))} for _, r in chosen.iterrows()]
    else:
        if subdistrict:
            from locator.errors import NotFound

            raise NotFound("there are no subdistricts in the data; omit subdistrict", param="subdistrict")
        seg_area, st_area, areas = np.zeros(len(segs), int), np.zeros(len(stations), int), [ALL_AREA]
    covered = {t.label: t.covered(segs) for t in thresholds}
    length = segs["length_m"].to_numpy()
    status_open = (stations["status"].astype(str) == "open").to_numpy() if len(stations) else np.zeros(0, bool)
    rows = []
    for i, area in enumerate(areas):
        inside = seg_area == i
        total = float(length[inside].sum())
        row = {**area, "street_length_m": round(total, 1)}
        for label, mask in covered.items():
            got = float(length[inside & mask].sum())
            row[f"covered_m_{label}"] = round(got, 1)
            row[f"share_{label}"] = (got / total) if total > 0 else None
        unreachable = inside & ~np.isfinite(segs["distance_m"].to_numpy())
        row["unreachable_m"] = round(float(length[unreachable].sum()), 1)
        here = st_area == i
        row["stations"] = int((here & status_open).sum())
        row["stations_counted"] = int((here & counted).sum())
        row["stations_open_now"] = int((here & open_now).sum())
        row["worst_streets"] = _worst_streets(segs[inside], worst)
        rows.append(row)
    return pd.DataFrame(rows)


def _worst_streets(segs: pd.DataFrame, n: int) -> list[dict[str, object]]:
    """Named streets by their farthest point from a station (unnamed pieces have nothing to call them)."""
    named = segs[segs["name"].astype(str) != ""]
    if named.empty:
        return []
    far = named.groupby("name").agg(distance_m=("distance_m", "max"), length_m=("length_m", "sum"))
    far = far.sort_values(["distance_m", "length_m"], ascending=False).head(n)
    return [{"name": str(name), "distance_m": (None if not np.isfinite(r.distance_m) else round(float(r.distance_m))),
             "length_m": round(float(r.length_m))} for name, r in far.iterrows()]


def distance_bands(distance_m: np.ndarray, limits_m: list[float]) -> np.ndarray:
    """A band label per distance: ``<=500``, ``500-1000``, ..., ``>2000``, ``unreachable``."""
    limits = sorted(limits_m)
    edges = [f"<={limits[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(limits[:-1], limits[1:], strict=True)]
    labels = np.array([*edges, f">{limits[-1]:g}", "unreachable"], dtype=object)
    idx = np.searchsorted(np.asarray(limits, dtype=float), distance_m, side="left")
    return labels[np.where(np.isfinite(distance_m), idx, len(labels) - 1)]


# ------------------------------------------------------------------------------------------------------------
# Stand-in polygons


def subdistricts_from_centres(centres: pd.DataFrame, districts: gpd.GeoDataFrame, *, system: crs_mod.CoordSystem,
                              lon: str = "longitude", lat: str = "latitude", district_name: str = "name",
                              work: str | None = None) -> gpd.GeoDataFrame:
    """Approximate subdistrict polygons: Voronoi cells of centre points, each cut to its own district.

    ``centres`` has ``code``, ``name``, ``district`` and lon/lat columns in ``system`` (the bj-townships
    table is GCJ-02); ``districts`` are district polygons in lon/lat of the same system with a name column.
    Cells are made per district, from that district's centres only, so no cell crosses a district line.
    Rows without a centre are left out and listed in ``result.attrs["missing_centre"]`` (codes). Every row
    is ``approximate``.
    """
    has = centres[lon].notna() & centres[lat].notna()
    missing = centres.loc[~has, "code"].astype(str).tolist()
    table = centres[has].reset_index(drop=True)
    x, y = crs_mod.lonlat_to_work_xy(table[lon].to_numpy(float), table[lat].to_numpy(float), system=system,
                                     work=work)
    points = shapely.points(x, y)
    shapes = crs_mod.to_work(districts, system=system, work=work)
    by_name = dict(zip(shapes[district_name].astype(str), shapes.geometry, strict=True))
    cells = np.empty(len(table), dtype=object)
    for name, group in table.groupby("district", sort=False):
        outline = by_name.get(str(name))
        if outline is None:  # district named differently: take the one that holds the centres
            holder = _containing(points[group.index.to_numpy()], np.asarray(shapes.geometry.values, dtype=object))
            outline = shapes.geometry.iloc[np.bincount(holder[holder >= 0]).argmax()] if (holder >= 0).any() else None
        idx = group.index.to_numpy()
        if outline is None:
            missing.extend(table.loc[idx, "code"].astype(str))
            continue
        if len(idx) == 1:
            cells[idx[0]] = outline
            continue
        voronoi = shapely.voronoi_polygons(shapely.multipoints(points[idx]), extend_to=outline, ordered=True)
        pieces = shapely.get_parts(voronoi)
        cells[idx] = shapely.intersection(shapely.make_valid(pieces), outline)
    keep = np.array([c is not None and not c.is_empty for c in cells], dtype=bool)
    missing.extend(table.loc[~keep, "code"].astype(str))
    out = gpd.GeoDataFrame({"code": table.loc[keep, "code"].astype(str), "name": table.loc[keep, "name"],
                            "district": table.loc[keep, "district"], "approximate": True,
                            "source": "voronoi-of-centres"},
                           geometry=list(cells[keep]), crs=shapes.crs)
    out = conform("subdistricts", out)
    out.attrs["missing_centre"] = missing
    return out


# ------------------------------------------------------------------------------------------------------------
# A printable table (command line)

_HEADERS = {
    "code": ("代码", "code"), "name": ("街道/乡镇", "subdistrict"), "approximate": ("近似边界", "approximate"),
    "street_length_m": ("道路长度(米)", "street length (m)"), "stations": ("站点", "stations"),
    "stations_open_now": ("此刻开放", "open now"), "worst_streets": ("服务最差的道路", "worst-served streets"),
}


def printable(table: pd.DataFrame, thresholds: list[Threshold], *, lang: str = "zh") -> pd.DataFrame:
    """The per-subdistrict table with headers in Chinese (``zh``) or English, shares as percentages."""
    col = 0 if lang == "zh" else 1
    out = pd.DataFrame({_HEADERS[k][col]: table[k] for k in ("code", "name", "approximate", "street_length_m")})
    out[_HEADERS["approximate"][col]] = table["approximate"].map(
        {True: "是" if lang == "zh" else "yes", False: ""})
    for t in thresholds:
        head = f"{t.label}内占比" if lang == "zh" else f"share within {t.label}"
        out[head] = [("" if s is None or pd.isna(s) else f"{100 * s:.1f}%") for s in table[f"share_{t.label}"]]
    for key in ("stations", "stations_open_now"):
        out[_HEADERS[key][col]] = table[key]
    out[_HEADERS["worst_streets"][col]] = [
        "、".join(f"{w['name']}({w['distance_m'] if w['distance_m'] is not None else '∞'}m)" for w in ws[:3])
        for ws in table["worst_streets"]]
    return out
