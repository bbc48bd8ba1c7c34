"""The routable street graph: streets split into segments at intersections, travel profiles, snapping.

A *segment* is a piece of street between two graph nodes. Nodes are where ways meet: every vertex that
two ways share (exact coordinates, to the millimetre), a vertex a way passes through twice, and every
way's end points, so a way whose interior vertex is another way's end point is split there. Crossings
without a shared vertex (bridges, tunnels) are not junctions, as in OpenStreetMap.

Travel profiles give a speed per OpenStreetMap ``highway`` class. Walkers ignore ``oneway``; e-bikes obey
it. An e-bike is pushed (walked, at walking speed) where riding is not allowed, and neither profile
uses motorways (Beijing forbids pedestrians and non-motor vehicles on expressways). The streets layer's
``access`` column (from OSM ``foot``/``bicycle``/``access`` tags, see ``locator.io.osm``) refines this per
way: ``foot`` ways are pushed by e-bikes, ``bicycle`` ways are closed to walkers.

==================================================  ===========  =====================================
highway class                                       walk km/h    ebike km/h
==================================================  ===========  =====================================
motorway, motorway_link                             --           --
trunk, trunk_link                                   4.8          15 (side roads / non-motor lanes)
primary, secondary (and _link), cycleway            4.8          18
tertiary, tertiary_link                             4.8          16
residential, unclassified, road, other (unknown)    4.8          14 / 12 (unknown)
service, living_street, track                       4.8          10
footway, pedestrian, path, steps, corridor,         4.8          4.8 (pushed, so walking speed)
bridleway
==================================================  ===========  =====================================

These are the built-in speeds (:data:`WALK`, :data:`EBIKE`). The ``LOCATOR_PROFILES`` setting names a TOML or
JSON file that changes them by class, default, walking and straight-line speed (``locator.core.profiles``);
``get_profile`` hands out the profiles as configured. With the built-in speeds walking is as fast on every
class, so for ``walk`` the quickest way is also the shortest. A profile is data (:class:`Profile`); pass your
own to any function that takes ``profile=``.

Edge weights are travel times in seconds. The reach from a station to the street (``snap distance``,
the straight line from the station to the nearest point of an allowed segment) is walked and counted.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from locator.core.snapshot import Snapshot, register_builder
from locator.errors import InvalidParameter

if TYPE_CHECKING:
    from locator.core.contract import Contraction


WALK_KMH = 4.8
DEFAULT_MAX_SNAP_M = 150.0
_FOOT_CLASSES = frozenset({"footway", "pedestrian", "path", "steps", "corridor", "bridleway"})
_MOTORWAY = frozenset({"motorway", "motorway_link"})


@dataclass(frozen=True, eq=False)  # compared and cached by identity: speeds_kmh is a dict
class Profile:
    """How one kind of traveller moves: speed by highway class, classes walked or forbidden, one-way rules."""

    name: str
    speeds_kmh: Mapping[str, float]
    default_kmh: float
    obey_oneway: bool
    forbidden: frozenset[str] = _MOTORWAY
    walked: frozenset[str] = frozenset()  # pushed at walk_kmh, both ways
    walk_kmh: float = WALK_KMH
    straight_kmh: float = WALK_KMH  # for straight-line mode, where there is no class to look up
    rides: bool = False  # a rider: may use access=bicycle ways, pushes on access=foot ways; a walker: the reverse

    def speed_kmh(self, highway: str) -> float | None:
        """Speed on a class, or None where this profile may not go."""
        if highway in self.forbidden:
            return None
        if highway in self.walked:
            return self.walk_kmh
        return float(self.speeds_kmh.get(highway, self.default_kmh))


WALK = Profile("walk", {}, WALK_KMH, obey_oneway=False)
EBIKE = Profile(
    "ebike",
    {"trunk": 15, "trunk_link": 15, "primary": 18, "primary_link": 18, "secondary": 18, "secondary_link": 18,
     "cycleway": 18, "tertiary": 16, "tertiary_link": 16, "residential": 14, "unclassified": 14, "road": 14,
     "service": 10, "living_street": 10, "track": 10},
    12.0, obey_oneway=True, walked=_FOOT_CLASSES, straight_kmh=15.0, rides=True,
)
PROFILES: dict[str, Profile] = {p.name: p for p in (WALK, EBIKE)}


def get_profile(profile: str | Profile, *, param: str = "profile") -> Profile:
    """A Profile by name (``walk``, ``ebike``, with ``LOCATOR_PROFILES``' speeds) or as given; InvalidParameter for
    an unknown name."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[str(profile).strip().lower()]
    except KeyError:
        msg = f"{param} must be one of {', '.join(PROFILES)} (got {profile!r})"
        raise InvalidParameter(msg, param=param) from None


@dataclass
class Routing:
    """One profile's directed graph as CSR matrices of travel seconds, with edge lengths alongside.

    ``fwd`` holds travel edges a -> b; ``rev`` the same edges turned round (b -> a), so a search from the
    stations over ``rev`` gives each node's time *to* its nearest station. Parallel edges keep the quickest.
    """

    profile: Profile
    fwd: sparse.csr_matrix
    fwd_len_m: np.ndarray
    rev: sparse.csr_matrix
    rev_len_m: np.ndarray
    seg_fwd_s: np.ndarray  # seconds along the whole segment u -> v; inf where not allowed
    seg_bwd_s: np.ndarray  # v -> u
    seg_ends: tuple[np.ndarray, np.ndarray]  # the graph's seg_u, seg_v

    @cached_property
    def kernel_fwd(self) -> tuple[np.ndarray, ...]:
        """``fwd`` as the arrays the compiled search takes (indptr, indices, seconds, metres)."""
        return _kernel_arrays(self.fwd, self.fwd_len_m)

    @cached_property
    def kernel_rev(self) -> tuple[np.ndarray, ...]:
        return _kernel_arrays(self.rev, self.rev_len_m)

    @cached_property
    def bucket_scale(self) -> tuple[float, float]:
        """Bucket width and longest edge of the search (:func:`locator.core.buckets.bucket_scale`)."""
        from locator.core import buckets

        return buckets.bucket_scale(self.kernel_rev[2])

    @cached_property
    def contraction(self) -> Contraction:
        """The core of the search towards the stations (``rev``; :mod:`locator.core.contract`)."""
        from locator.core.contract import Contraction

        return Contraction.build(self.kernel_rev, self.kernel_fwd, self.fwd.shape[0])

    @cached_property
    def seg_numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """Each segment's ends by their numbers in :attr:`contraction` (as the coverage search gives labels)."""
        return self.contraction.number[self.seg_ends[0]], self.contraction.number[self.seg_ends[1]]


def _kernel_arrays(matrix: sparse.csr_matrix, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    # fixed dtypes: the compiled search is specialised (and cached on disk) per argument type
    return (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32, copy=False),
            matrix.data.astype(np.float64, copy=False), lengths.astype(np.float64, copy=False))


@dataclass
class StreetGraph:
    """Nodes, segments and the streets they came from, in the metric work CRS.

    Segment ``k`` runs from node ``seg_u[k]`` to ``seg_v[k]`` in the street's drawn direction; its shape is
    ``coords[seg_start[k]:seg_end[k] + 1]``.
    """

    node_xy: np.ndarray  # (N, 2) metres
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_length_m: np.ndarray
    seg_street: np.ndarray  # row of ``streets`` each segment belongs to
    seg_oneway: np.ndarray
    coords: np.ndarray  # (M, 2) all shape points
    seg_start: np.ndarray
    seg_end: np.ndarray
    streets: pd.DataFrame  # id, name, highway (one row per street)
    crs: str | None = None
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_segments(self) -> int:
        return len(self.seg_u)

    @cached_property
    def seg_highway(self) -> np.ndarray:
        return self.streets["highway"].to_numpy(dtype=object)[self.seg_street]

    @cached_property
    def seg_access(self) -> np.ndarray:
        """Who may use each segment: "" everyone, "foot" walkers (riders push), "bicycle" riders only."""
        if "access" not in self.streets:
            return np.full(self.n_segments, "", dtype=object)
        return self.streets["access"].fillna("").astype(str).to_numpy(dtype=object)[self.seg_street]

    def usable_segments(self, prof: Profile) -> np.ndarray:
        """Segments the profile may use at all (walked or ridden)."""
        ok = ~np.isin(self.seg_highway, list(prof.forbidden))
        if not prof.rides:
            ok &= self.seg_access != "bicycle"  # riders-only ways are closed to walkers
        return np.flatnonzero(ok)

    def segment_geometries(self, segments: np.ndarray | None = None) -> np.ndarray:
        """Shapely LineStrings of the given segments (all by default), built on demand."""
        seg = np.arange(self.n_segments) if segments is None else np.asarray(segments, dtype=np.int64)
        counts = self.seg_end[seg] - self.seg_start[seg] + 1
        owner = np.repeat(np.arange(len(seg)), counts)
        first = np.repeat(self.seg_start[seg] - (np.cumsum(counts) - counts), counts)
        return shapely.linestrings(self.coords[first + np.arange(counts.sum())], indices=owner)

    @cached_property
    def seg_midpoint_xy(self) -> np.ndarray:
        """The point half way along each segment (vectorised walk along the shape points)."""
        step = np.hypot(*np.diff(self.coords, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(step)])
        target = cum[self.seg_start] + (cum[self.seg_end] - cum[self.seg_start]) / 2
        hi = np.clip(np.searchsorted(cum, target, side="left"), self.seg_start + 1, np.maximum(self.seg_end, 1))
        hi = np.minimum(hi, len(cum) - 1)
        lo = hi - 1
        span = cum[hi] - cum[lo]
        frac = np.divide(target - cum[lo], span, out=np.zeros_like(span), where=span > 0)
        return self.coords[lo] + (self.coords[hi] - self.coords[lo]) * frac[:, None]

    def routing(self, profile: str | Profile) -> Routing:
        """The profile's directed graph, built once and kept."""
        prof = get_profile(profile)
        key = ("routing", prof)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = _build_routing(self, prof)
            return self._cache[key]

    def snap(self, x: np.ndarray, y: np.ndarray, *, profile: str | Profile = "walk") -> pd.DataFrame:
        """The nearest point on a segment the profile may use, for each point.

        Returns columns ``segment``, ``fraction`` (0 at ``seg_u``, 1 at ``seg_v``, by length) and ``snap_m``
        (straight-line distance to the street); segment -1 where the graph has no usable segment. Of two
        segments equally near (a point at a junction), the one listed first.
        """
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        segment, fraction, snap_m = self.snap_index(get_profile(profile)).nearest(x, y)
        return pd.DataFrame({"segment": segment, "fraction": fraction, "snap_m": snap_m})

    def snap_index(self, profile: str | Profile) -> SnapIndex:
        """The profile's snapping index, built once and kept."""
        prof = get_profile(profile)
        # One index per set of forbidden classes: a station by a motorway must snap to the side road.
        key = ("snap", prof.forbidden, prof.rides)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = SnapIndex.build(self, self.usable_segments(prof))
            return self._cache[key]


@dataclass
class SnapIndex:
    """The straight pieces (consecutive shape points) of the usable segments, bucketed in a uniform grid.

    Each piece sits in every cell it passes through, its end points stored with it; a query visits rings of
    cells around the point, skipping cells farther than the best piece so far, until no unvisited cell can
    hold anything nearer (:func:`locator.core.snapgrid.grid_nearest`), so the answer is exact, and of two
    pieces equally near, the one listed first wins.
    """

    piece_seg: np.ndarray
    piece_offset_m: np.ndarray  # from the segment's start to the piece's start
    origin: tuple[float, float]
    cell_m: float
    shape: tuple[int, int]
    cell_start: np.ndarray  # CSR over cells (i * ny + j) of items
    item_xy: np.ndarray  # (items, 4): each item's piece from (ax, ay) to (bx, by)
    item_piece: np.ndarray
    seg_length_m: np.ndarray

    @classmethod
    def build(cls, graph: StreetGraph, usable: np.ndarray) -> SnapIndex:
        from locator.core import snapgrid

        counts = graph.seg_end[usable] - graph.seg_start[usable]  # pieces per segment
        piece_seg = np.repeat(usable, counts)
        first = np.repeat(graph.seg_start[usable] - (np.cumsum(counts) - counts), counts)
        start = first + np.arange(counts.sum(), dtype=np.int64)
        a, b = graph.coords[start], graph.coords[start + 1]
        piece_len = np.hypot(*(b - a).T)
        seg_first = np.repeat((np.cumsum(counts) - counts), counts)
        cum = np.cumsum(piece_len)
        offset = cum - piece_len - (cum - piece_len)[seg_first] if len(cum) else cum
        ax, ay, bx, by = a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(), b[:, 1].copy()
        if not len(piece_len):
            return cls(piece_seg, offset, (0.0, 0.0), 1.0, (0, 0), np.zeros(1, dtype=np.int64), np.zeros((0, 4)),
                       np.zeros(0, dtype=np.int32), graph.seg_length_m)
        x0, y0 = float(min(ax.min(), bx.min())), float(min(ay.min(), by.min()))
        width = max(float(max(ax.max(), bx.max())) - x0, float(max(ay.max(), by.max())) - y0, 1.0)
        # cells about the typical piece long, but no more cells than a few per piece
        cell_m = max(float(np.clip(np.median(piece_len), 5.0, 200.0)), width / np.sqrt(4.0 * len(piece_len) + 16))
        nx = int((float(max(ax.max(), bx.max())) - x0) / cell_m) + 1
        ny = int((float(max(ay.max(), by.max())) - y0) / cell_m) + 1
        cell_start, item_xy, item_piece = snapgrid.grid_cells(ax, ay, bx, by, x0, y0, cell_m, nx, ny)
        return cls(piece_seg, offset, (x0, y0), cell_m, (nx, ny), cell_start, item_xy, item_piece,
                   graph.seg_length_m)

    @property
    def grid(self) -> tuple[object, ...]:
        """The index as the compiled kernels take it (:func:`locator.core.snapgrid.grid_nearest`)."""
        return (self.cell_start, self.item_xy, self.item_piece, *self.origin, self.cell_m, *self.shape, self.piece_seg,
                self.piece_offset_m)

    def nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment, fraction along it and distance of the nearest usable point for each (x, y); many points in
        two halves at once."""
        from locator.core import halves, parallel, snapgrid

        x, y = np.array(x, dtype=float), np.array(y, dtype=float)  # (own, writable: one compiled variant)
        if not len(self.item_piece) or not len(x):
            return np.full(len(x), -1, dtype=np.int64), np.zeros(len(x)), np.full(len(x), np.inf)

        if len(x) < 256:  # (a few points are quicker than a hand-over to the other thread)
            return snapgrid.grid_nearest(x, y, *self.grid, self.seg_length_m)
        with parallel.one_at_a_time():
            return halves.snap(x, y, *self.grid, self.seg_length_m)


def _build_routing(graph: StreetGraph, prof: Profile) -> Routing:
    classes, codes = np.unique(graph.seg_highway.astype(str), return_inverse=True)
    speeds = np.array([prof.speed_kmh(c) or np.nan for c in classes], dtype=float)
    access = graph.seg_access
    # A rider pushes (walks, both ways) where only walking is allowed; a walker keeps off riders-only ways.
    walked_seg = np.isin(classes, list(prof.walked))[codes] | ((access == "foot") if prof.rides else False)
    seg_speed_ms = np.where(walked_seg & np.isfinite(speeds[codes]), prof.walk_kmh, speeds[codes]) / 3.6
    if not prof.rides:
        seg_speed_ms = np.where(access == "bicycle", np.nan, seg_speed_ms)
    seconds = graph.seg_length_m / seg_speed_ms
    allowed = np.isfinite(seconds)
    oneway = graph.seg_oneway & prof.obey_oneway & ~walked_seg
    fwd_s = np.where(allowed, seconds, np.inf)
    bwd_s = np.where(allowed & ~oneway, seconds, np.inf)
    loops = graph.seg_u == graph.seg_v  # a loop never shortens a path
    a = np.concatenate([graph.seg_u, graph.seg_v])
    b = np.concatenate([graph.seg_v, graph.seg_u])
    t = np.concatenate([fwd_s, bwd_s])
    length = np.concatenate([graph.seg_length_m, graph.seg_length_m])
    keep = np.isfinite(t) & ~np.concatenate([loops, loops])
    a, b, t, length = a[keep], b[keep], t[keep], length[keep]
    n = graph.n_nodes
    fwd, fwd_len = csr_from_edges(a, b, t, length, n)
    rev, rev_len = csr_from_edges(b, a, t, length, n)
    routing = Routing(prof, fwd, fwd_len, rev, rev_len, fwd_s, bwd_s, (graph.seg_u, graph.seg_v))
    routing.kernel_fwd, routing.kernel_rev, routing.bucket_scale, routing.seg_numbers  # noqa: B018 - built now, with the graph, not by the first search
    return routing


def csr_from_edges(src: np.ndarray, dst: np.ndarray, weight: np.ndarray, length: np.ndarray, n: int,
                   ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A CSR matrix with sorted columns, one entry per (src, dst) keeping the least weight, and the
    matching lengths; built directly, because scipy would *add* parallel edges together."""
    order = np.lexsort((weight, dst, src))
    src, dst, weight, length = src[order], dst[order], weight[order], length[order]
    first = np.ones(len(src), dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst, weight, length = src[first], dst[first], weight[first], length[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    matrix = sparse.csr_matrix((weight.astype(float), dst.astype(np.int32), indptr), shape=(n, n))
    return matrix, length.astype(float)


def graph_from_arrays(node_xy: np.ndarray, seg_u: np.ndarray, seg_v: np.ndarray, *, streets: pd.DataFrame,
                      seg_street: np.ndarray, seg_oneway: np.ndarray, crs: str | None = None) -> StreetGraph:
    """A graph of straight segments between nodes (for data that has no shape points)."""
    node_xy = np.asarray(node_xy, dtype=float)
    seg_u = np.asarray(seg_u, dtype=np.int64)
    seg_v = np.asarray(seg_v, dtype=np.int64)
    coords = np.empty((2 * len(seg_u), 2))
    coords[0::2], coords[1::2] = node_xy[seg_u], node_xy[seg_v]
    start = np.arange(len(seg_u), dtype=np.int64) * 2
    length = np.hypot(*(node_xy[seg_v] - node_xy[seg_u]).T)
    return StreetGraph(node_xy, seg_u, seg_v, length, np.asarray(seg_street, dtype=np.int64),
                       np.asarray(seg_oneway, dtype=bool), coords, start, start + 1,
                       streets.reset_index(drop=True), crs)


def build_street_graph(streets: gpd.GeoDataFrame) -> StreetGraph:
    """Split the streets layer at its junctions into a StreetGraph (see the module docstring)."""
    table = pd.DataFrame({
        "id": streets["id"].astype(str) if "id" in streets else pd.Series(range(len(streets))).astype(str),
        "name": streets["name"].fillna("").astype(str) if "name" in streets else "",
        "highway": streets["highway"].fillna("").astype(str).replace("", "unclassified")
        if "highway" in streets else "unclassified",
        "access": streets["access"].fillna("").astype(str) if "access" in streets else "",
    }).reset_index(drop=True)
    oneway_by_street = (streets["oneway"].to_numpy(dtype=bool) if "oneway" in streets
                        else np.zeros(len(streets), dtype=bool))
    crs = streets.crs.to_string() if streets.crs is not None else None
    geoms = shapely.get_parts(np.asarray(streets.geometry.values, dtype=object), return_index=True)
    parts, part_street = geoms
    keep = shapely.get_type_id(parts) == 1  # LineStrings only (MultiLineStrings were split just above)
    parts, part_street = parts[keep], part_street[keep]
    coords, part = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        empty = np.zeros(0, dtype=np.int64)
        return StreetGraph(np.zeros((0, 2)), empty, empty, np.zeros(0), empty, np.zeros(0, dtype=bool),
                           np.zeros((0, 2)), empty, empty, table, crs)
    vertex = _vertex_ids(coords)
    first = np.ones(len(coords), dtype=bool)
    first[1:] = part[1:] != part[:-1]
    last = np.ones(len(coords), dtype=bool)
    last[:-1] = part[1:] != part[:-1]
    # A vertex is a node where a way ends, or where it is used more than once (by two ways, or twice by one).
    is_node = first | last | (np.bincount(vertex)[vertex] > 1)
    at = np.flatnonzero(is_node)
    pair = part[at[1:]] == part[at[:-1]]
    seg_start, seg_end = at[:-1][pair], at[1:][pair]
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[part[1:] != part[:-1]] = 0.0  # no length between two ways
    cum = np.concatenate([[0.0], np.cumsum(step)])
    length = cum[seg_end] - cum[seg_start]
    real = length > 0  # drop zero-length pieces (repeated points)
    seg_start, seg_end, length = seg_start[real], seg_end[real], length[real]
    node_of_vertex = np.full(vertex.max() + 1, -1, dtype=np.int64)
    used = np.unique(vertex[np.concatenate([seg_start, seg_end])])
    node_of_vertex[used] = np.arange(len(used))
    node_xy = np.zeros((len(used), 2))
    node_xy[node_of_vertex[vertex[seg_start]]] = coords[seg_start]
    node_xy[node_of_vertex[vertex[seg_end]]] = coords[seg_end]
    street = part_street[part[seg_start]]
    return StreetGraph(node_xy, node_of_vertex[vertex[seg_start]], node_of_vertex[vertex[seg_end]], length,
                       street.astype(np.int64), oneway_by_street[street], coords, seg_start.astype(np.int64),
                       seg_end.astype(np.int64), table, crs)


def _vertex_ids(coords: np.ndarray) -> np.ndarray:
    """The same id for coordinates equal to the millimetre."""
    mm = np.round(coords * 1000.0).astype(np.int64)
    mm -= mm.min(axis=0)
    if mm.max(initial=0) < 2**31:
        return pd.factorize(mm[:, 0] << 31 | mm[:, 1])[0]
    return np.unique(mm, axis=0, return_inverse=True)[1].ravel()


@register_builder("street_graph", layers=("streets",))
def _street_graph(snapshot: Snapshot) -> StreetGraph:
    from locator.core import shortest

    shortest.warm()  # compile (or load) the search now, as the data loads, not in the first request
    return build_street_graph(snapshot.layer("streets"))


def read_bj_streets(folder: str | Path) -> StreetGraph:
    """Read the SparseTaxi central-Beijing graph (``../shared/data/bj-streets``) as a StreetGraph.

    Its coordinates are a local kilometre grid (not lon/lat): they become metres of a local plane, with
    ``crs=None``. Segments are straight lines between vertices (the shape points are not in the data), so
    lengths are Euclidean between vertices; the file's own ``length`` column is in unknown units and unused.
    A vertex pair with edges both ways is one two-way segment; one direction only is a one-way segment.
    Names and classes come from the OSM ways, matched by consecutive vertices along each way.
    """
    folder = Path(folder)
    verts = np.loadtxt(folder / "vertexMap.txt", dtype=float, ndmin=2)
    node_xy = verts[:, 2:4] * 1000.0
    edges = np.loadtxt(folder / "adjacentList.txt", skiprows=1, usecols=(0, 1), dtype=np.int64, ndmin=2)
    osm_to_vertex = {int(osm): i for i, osm in enumerate(verts[:, 1].astype(np.int64))}
    names, classes, pair_way = [], [], {}
    with (open(folder / "beijing.highway.txt", encoding="utf-8") as hw,
          open(folder / "beijing.waynodes.txt", encoding="utf-8") as wn):
        for way, (meta, nodes) in enumerate(zip(hw, wn, strict=True)):
            cols = meta.rstrip("\n").split("\t")
            classes.append(cols[1] if len(cols) > 1 and cols[1] else "unclassified")
            names.append(cols[3] if len(cols) > 3 else "")
            vs = [osm_to_vertex[int(n)] for n in nodes.split() if int(n) in osm_to_vertex]
            for a, b in zip(vs[:-1], vs[1:], strict=True):
                pair_way.setdefault((min(a, b), max(a, b)), way)
    streets = pd.DataFrame({"id": [f"way-{i}" for i in range(len(names))], "name": names, "highway": classes})
    streets.loc[len(streets)] = ["unmatched", "", "unclassified"]  # edges no way claims
    n = len(node_xy)
    edges = np.unique(edges[edges[:, 0] != edges[:, 1]], axis=0)  # each directed edge once, no loops
    lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
    key = pd.Series(lo * n + hi)
    both = key.duplicated(keep=False).to_numpy()
    first = ~key.duplicated(keep="first").to_numpy()
    u, v = edges[first, 0], edges[first, 1]
    oneway = ~both[first]
    unmatched = len(streets) - 1
    street = np.array([pair_way.get((min(a, b), max(a, b)), unmatched) for a, b in zip(u, v, strict=True)])
    return graph_from_arrays(node_xy, u, v, streets=streets, seg_street=street, seg_oneway=oneway)


# ------------------------------------------------------------------------------------------------------------
# Shortest paths from many sources at once


@dataclass
class Snapped:
    """Points placed on the graph: the segment, where along it (0 at seg_u, 1 at seg_v), and the reach."""

    segment: np.ndarray
    fraction: np.ndarray
    snap_m: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Snapped:
        return cls(frame["segment"].to_numpy(np.int64), frame["fraction"].to_numpy(float),
                   frame["snap_m"].to_numpy(float))


@dataclass
class NodeLabels:
    """For every node: quickest seconds and metres to the nearest source and to the nearest *other* source.

    ``source``/``second_source`` are indices into the sources (-1 where none can be reached).
    """

    seconds: np.ndarray
    metres: np.ndarray
    source: np.ndarray
    second_seconds: np.ndarray
    second_metres: np.ndarray
    second_source: np.ndarray


def along(fraction: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """``fraction * seconds`` of a segment, where no distance is no time even on a way one may not take."""
    with np.errstate(invalid="ignore"):
        return np.where(fraction == 0, 0.0, fraction * seconds)


def _search(graph: StreetGraph, routing: Routing, points: Snapped, *, towards: bool, limit_s: float = np.inf,
            ) -> NodeLabels:
    """Best two labels from distinct points at every node (see :mod:`locator.core.buckets`); pass 2 shared
    out between two threads (even and odd points' regions) where there are two cores."""
    from locator.core import buckets, parallel

    if towards and limit_s == np.inf and graph.n_nodes:
        return _core_search(graph, routing, points)
    arrays = routing.kernel_rev if towards else routing.kernel_fwd
    width, top = routing.bucket_scale
    n, limit_s, more = graph.n_nodes, float(limit_s), 1
    while True:  # a pool of queue entries too small (many labels corrected again) is rare: again with more
        d1, m1, s1, d2, m2, s2, far, hi, several, ok = buckets.first_pass_from_points(
            graph.seg_u, graph.seg_v, graph.seg_length_m, routing.seg_fwd_s, routing.seg_bwd_s,
            routing.profile.walk_kmh / 3.6, np.array(points.segment, dtype=np.int64),
            np.array(points.fraction, dtype=float), np.array(points.snap_m, dtype=float), towards, *arrays, n,
            limit_s, width, top, more, limit_s == np.inf)  # (a search without a limit reads the whole graph)
        if ok and several:
            entries = more * (n + 2 * len(points.segment) + 1)
            owner = (np.arange(len(points.segment)) % 2).astype(np.int8)  # even and odd points' regions
            ok = all(parallel.both(*(functools.partial(buckets.second_pass, *arrays, limit_s, d1, s1, d2, m2, s2, width,
                                                       top, far, hi, owner, part, entries) for part in (0, 1))))
        if ok:
            return NodeLabels(d1, m1, s1, d2, m2, s2)
        more *= 4


def _core_search(graph: StreetGraph, routing: Routing, points: Snapped, *, by_number: bool = False) -> NodeLabels:
    """:func:`_search` towards the points without a limit (the coverage search), on the graph's core
    (:mod:`locator.core.contract`), on two threads (:mod:`locator.core.halves`): the labels of the pruned
    nodes come from the core's and the points'. ``by_number``: the labels by node number in the contraction
    (:attr:`Routing.seg_numbers` gives the segments' ends), not by node."""
    from locator.core import halves, parallel

    con = routing.contraction
    more = 1
    while True:  # a pool of queue entries too small (many labels corrected again) is rare: again with more
        with parallel.one_at_a_time():
            *lab, ok = halves.labels_from_points(*routing.seg_numbers, graph.seg_length_m, routing.seg_fwd_s,
                                                 routing.seg_bwd_s, routing.profile.walk_kmh / 3.6,
                                                 np.array(points.segment, dtype=np.int64),
                                                 np.array(points.fraction, dtype=float),
                                                 np.array(points.snap_m, dtype=float), *con.chains, *con.split, more)
        if ok:
            return NodeLabels(*(lab if by_number else (column[con.number] for column in lab)))
        more *= 4


def nearest_two(graph: StreetGraph, routing: Routing, sources: Snapped) -> NodeLabels:
    """Every node's quickest way to its nearest source and to its nearest *distinct* other source.

    Two compiled multi-source passes over the reversed graph: the nearest source, then the nearest other
    one (checked against a two-label heapq Dijkstra and the one-pass two-label search in the tests).
    """
    return _search(graph, routing, sources, towards=True)


def nearest_by_network(graph: StreetGraph, stations: gpd.GeoDataFrame, x: float, y: float, *, k: int = 3,
                       profile: str | Profile = "walk", max_distance_m: float | None = None) -> pd.DataFrame:
    """The ``k`` stations quickest to reach from the point (x, y) in the work CRS, along the streets.

    ``stations`` are the candidates (already filtered by the caller: status, hours, amenities). Returns
    ``station_idx`` (position in ``stations``), ``station_id``, ``rank`` (1 = nearest), ``distance_m`` and
    ``time_min`` of the quickest path (walks to and from the street included), ``straight_m``, ``snap_m``
    (the station's distance from the street) and ``query_snap_m`` (the point's); sorted by time. Stations
    that can't be reached, or are beyond ``max_distance_m`` along the street, are left out.

    The search stops at a time limit that doubles until ``k`` stations are within it (a station not
    reached within the limit is slower than the limit), so a question about the corner shop does not walk
    the whole city.
    """
    prof = get_profile(profile)
    columns = ["station_idx", "station_id", "rank", "distance_m", "time_min", "straight_m", "snap_m",
               "query_snap_m"]
    routing = graph.routing(prof)
    query = Snapped.from_frame(graph.snap(np.array([x]), np.array([y]), profile=prof))
    if not len(stations) or query.segment[0] < 0:
        return pd.DataFrame(columns=columns)
    sx, sy = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    straight = np.hypot(sx - x, sy - y)
    st = Snapped.from_frame(graph.snap(sx, sy, profile=prof))
    # a path of at most max_distance_m takes at most that long at the slowest speed on it
    slowest = min([prof.walk_kmh, prof.default_kmh, *prof.speeds_kmh.values()]) / 3.6
    cap = np.inf if max_distance_m is None else max_distance_m / slowest + 1.0
    kth = np.partition(straight, min(k, len(straight)) - 1)[min(k, len(straight)) - 1]
    limit = min(cap, max(600.0, 2.0 * (kth + query.snap_m[0]) / (prof.walk_kmh / 3.6)))
    while True:
        best, metres_best = _to_stations(graph, routing, query, st, limit)
        if limit >= cap or np.count_nonzero(best <= limit) >= min(k, len(best)) or not np.isfinite(limit):
            break
        limit = min(cap, 4.0 * limit) if limit < 86_400 else np.inf
    out = pd.DataFrame({
        "station_idx": np.arange(len(stations)),
        "station_id": stations["id"].astype(str).to_numpy() if "id" in stations else np.arange(len(stations)),
        "distance_m": metres_best, "time_min": best / 60.0, "straight_m": straight, "snap_m": st.snap_m,
        "query_snap_m": query.snap_m[0],
    })
    keep = np.isfinite(best) & (best <= limit)
    if max_distance_m is not None:
        keep &= metres_best <= max_distance_m
    out = out[keep].sort_values(["time_min", "distance_m", "station_idx"], kind="stable").head(k)
    out.insert(2, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)[columns]


def _to_stations(graph: StreetGraph, routing: Routing, query: Snapped, st: Snapped, limit_s: float,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and metres from the snapped query point to each snapped station, searching up to limit_s."""
    prof = routing.profile
    labels = _search(graph, routing, query, towards=False, limit_s=limit_s)
    dist, length = labels.seconds, labels.metres
    ok = st.segment >= 0
    seg = np.maximum(st.segment, 0)
    t, reach = st.fraction, st.snap_m / (prof.walk_kmh / 3.6)
    u, v, seg_len = graph.seg_u[seg], graph.seg_v[seg], graph.seg_length_m[seg]
    via_u = dist[u] + along(t, routing.seg_fwd_s[seg]) + reach
    via_v = dist[v] + along(1 - t, routing.seg_bwd_s[seg]) + reach
    len_u, len_v = length[u] + t * seg_len + st.snap_m, length[v] + (1 - t) * seg_len + st.snap_m
    tq, q_reach = query.fraction[0], query.snap_m[0] / (prof.walk_kmh / 3.6)
    same = ok & (seg == query.segment[0])
    direct = np.where(t >= tq, along(np.maximum(t - tq, 0), routing.seg_fwd_s[seg]),
                      along(np.maximum(tq - t, 0), routing.seg_bwd_s[seg]))
    direct = np.where(same, direct + q_reach + reach, np.inf)
    len_d = np.abs(t - tq) * seg_len + query.snap_m[0] + st.snap_m
    cand = np.column_stack([via_u, via_v, direct])
    cand[~ok] = np.inf
    pick = np.argmin(cand, axis=1)
    rows = np.arange(len(cand))
    return cand[rows, pick], np.column_stack([len_u, len_v, len_d])[rows, pick]
