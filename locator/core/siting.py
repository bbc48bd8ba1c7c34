"""Booth siting on the street network: which former testing booths to convert next.

Two models, with the open stations fixed:

- maximal coverage (MCLP): choose ``p`` booths that bring the most (weighted) street length newly within
  ``threshold_m`` of a station;
- set covering: the fewest booths that bring the covered share to a target, or ``infeasible`` with the best
  share any choice of booths could reach.

The network part needs only a CSR graph of edge lengths (metres), the node each candidate snaps to (plus the
metres from the booth to that node), and the demand segments with their current distance to the nearest open
station (:class:`Demand`). The coverage relation (candidate x segment within the threshold) is built sparsely
from bounded Dijkstra searches in batches; segments with identical candidate sets are aggregated into one
group, which is what the solvers in :mod:`locator.core.siting_solve` see.

:func:`plan` ties this to a snapshot's layers: the street graph of :mod:`locator.core.network` (shortest
lengths over the profile's allowed, directed edges), the current coverage of :mod:`locator.core.coverage`
(segment midpoints, open stations), and the booths as candidates. A booth stands at the nearer end node of the
street segment it snaps to, with the snap and along-street metres as its offset (so a booth on a long segment
is credited slightly conservatively).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from locator import crs as crs_mod
from locator.core.coverage import SegmentCoverage, snapshot_coverage
from locator.core.network import DEFAULT_MAX_SNAP_M, StreetGraph, get_profile
from locator.core.siting_solve import Answer, Problem, cover_target, maximise_coverage
from locator.core.snapshot import Snapshot
from locator.errors import InvalidParameter

# Dense scratch per Dijkstra batch (sources x nodes, and sources x segments); ~32 MB of float64 each.
BATCH_CELLS = 4_000_000


@dataclass(frozen=True)
class Demand:
    """Street segments as demand, each reached from up to two graph nodes.

    A segment's distance to a station is ``min(d[node_a] + offset_a_m, d[node_b] + offset_b_m)`` where ``d``
    is the network distance from a node to the station; ``node_b = -1`` (or an infinite offset) means one
    way only. For a whole segment u-v the reference point is its midpoint (``from_segments``).

    ``current_m`` is each segment's present distance to the nearest open station (inf where none): a segment
    already within the threshold counts as covered and adds nothing to a new booth's score.
    """

    node_a: np.ndarray
    offset_a_m: np.ndarray
    node_b: np.ndarray
    offset_b_m: np.ndarray
    length_m: np.ndarray
    weight: np.ndarray
    current_m: np.ndarray

    @classmethod
    def from_segments(cls, node_u: np.ndarray, node_v: np.ndarray, length_m: np.ndarray, *,
                      weight: np.ndarray | None = None, current_m: np.ndarray | None = None) -> Demand:
        """Segments u-v measured at their midpoints, both ways."""
        length = np.asarray(length_m, dtype=float)
        n = length.size
        return cls(np.asarray(node_u, dtype=np.int64), length / 2, np.asarray(node_v, dtype=np.int64), length / 2,
                   length, np.ones(n) if weight is None else np.asarray(weight, dtype=float),
                   np.full(n, np.inf) if current_m is None else np.asarray(current_m, dtype=float))

    def __len__(self) -> int:
        return int(self.length_m.size)

    @property
    def value(self) -> np.ndarray:
        """What covering each segment is worth: its length times its weight."""
        return self.length_m * self.weight

    def distance_from(self, node_dist: np.ndarray) -> np.ndarray:
        """Segment distances given node distances (last axis = nodes); works on one row or a batch."""
        b = np.where(self.node_b >= 0, self.node_b, self.node_a)
        off_b = np.where(self.node_b >= 0, self.offset_b_m, np.inf)
        return np.minimum(node_dist[..., self.node_a] + self.offset_a_m, node_dist[..., b] + off_b)


def coverage_relation(graph: sp.csr_matrix, candidate_nodes: np.ndarray, demand: Demand, *, threshold_m: float,
                      candidate_offset_m: np.ndarray | None = None) -> sp.csr_matrix:
    """Candidates x segments, True where a booth would bring a not-yet-covered segment within the threshold.

    Dijkstra runs once per distinct candidate node, bounded by ``limit``, in batches whose dense scratch stays
    under ``BATCH_CELLS``; only the hits are kept. ``graph[i, j]`` is the length of travel from i to j
    searched *from* the candidates, so for a one-way network pass the reversed graph (travel towards the booth).
    """
    nodes = np.asarray(candidate_nodes, dtype=np.int64)
    offset = np.zeros(nodes.size) if candidate_offset_m is None else np.asarray(candidate_offset_m, dtype=float)
    open_cols = np.flatnonzero(~(demand.current_m <= threshold_m))
    sub = _take(demand, open_cols)
    n_nodes = graph.shape[0]
    uniq, inverse = np.unique(nodes, return_inverse=True)
    by_source = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_source], np.arange(uniq.size + 1))
    limit = threshold_m - max(0.0, float(offset.min(initial=0.0)))
    batch = max(1, BATCH_CELLS // max(n_nodes, len(sub), 1))
    hit_rows, hit_cols = [], []
    for start in range(0, uniq.size, batch):
        stop = min(start + batch, uniq.size)
        if not len(sub) or limit < 0:
            break
        dist = dijkstra(graph, directed=True, indices=uniq[start:stop], limit=limit)
        seg_dist = sub.distance_from(dist)
        cands = by_source[bounds[start]: bounds[stop]]
        ok = seg_dist[inverse[cands] - start] + offset[cands][:, None] <= threshold_m
        r, c = np.nonzero(ok)
        hit_rows.append(cands[r])
        hit_cols.append(open_cols[c])
    rows = np.concatenate(hit_rows) if hit_rows else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(hit_cols) if hit_cols else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(nodes.size, len(demand)))


def _take(demand: Demand, idx: np.ndarray) -> Demand:
    return Demand(*(getattr(demand, f)[idx] for f in
                    ("node_a", "offset_a_m", "node_b", "offset_b_m", "length_m", "weight", "current_m")))


@dataclass(frozen=True)
class Groups:
    """Segments aggregated by identical candidate sets: one row per group, as the solvers want them."""

    rows: sp.csr_matrix  # groups x candidates
    weight: np.ndarray  # summed value of each group's segments
    of_segment: np.ndarray  # group of each segment; -1 where no candidate reaches it (or already covered)


def aggregate(relation: sp.csr_matrix, value: np.ndarray) -> Groups:
    """Merge segments that exactly the same candidates cover; their values add up (a big MIP speed-up)."""
    by_segment = relation.T.tocsr()
    by_segment.sort_indices()
    keys: dict[bytes, int] = {}
    of_segment = np.full(by_segment.shape[0], -1, dtype=np.int64)
    indptr, indices = by_segment.indptr, by_segment.indices.astype(np.int32)
    for seg in np.flatnonzero(np.diff(indptr) > 0).tolist():
        key = indices[indptr[seg]: indptr[seg + 1]].tobytes()
        of_segment[seg] = keys.setdefault(key, len(keys))
    n_groups = len(keys)
    members = np.flatnonzero(of_segment >= 0)
    weight = np.bincount(of_segment[members], weights=np.asarray(value, dtype=float)[members], minlength=n_groups)
    first = np.full(n_groups, -1, dtype=np.int64)
    first[of_segment[members][::-1]] = members[::-1]  # the first segment of each group stands for it
    rows = by_segment[first] if n_groups else sp.csr_matrix((0, relation.shape[0]), dtype=bool)
    return Groups(rows.tocsr(), weight, of_segment)


def spacing_conflicts(xy: np.ndarray, *, min_spacing_m: float, among: np.ndarray | None = None) -> np.ndarray:
    """Pairs of candidates (indices into ``xy``) closer than ``min_spacing_m`` in a straight line."""
    idx = np.arange(len(xy)) if among is None else np.flatnonzero(among)
    if not min_spacing_m or min_spacing_m <= 0 or idx.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pts = np.asarray(xy, dtype=float)[idx]
    pairs = cKDTree(pts).query_pairs(min_spacing_m, output_type="ndarray")
    if pairs.size:
        close = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T) < min_spacing_m
        pairs = pairs[close]
    return idx[pairs].astype(np.int64).reshape(-1, 2)


@dataclass
class Instance:
    """The coverage relation and its aggregation for one candidate set, demand and threshold."""

    relation: sp.csr_matrix
    groups: Groups
    demand: Demand
    threshold_m: float

    @classmethod
    def build(cls, graph: sp.csr_matrix, candidate_nodes: np.ndarray, demand: Demand, *, threshold_m: float,
              candidate_offset_m: np.ndarray | None = None) -> Instance:
        relation = coverage_relation(graph, candidate_nodes, demand, threshold_m=threshold_m,
                                     candidate_offset_m=candidate_offset_m)
        return cls(relation, aggregate(relation, demand.value), demand, threshold_m)

    @property
    def n_candidates(self) -> int:
        return int(self.relation.shape[0])

    @property
    def covered_before(self) -> np.ndarray:
        return self.demand.current_m <= self.threshold_m

    def problem(self, *, allowed: np.ndarray | None = None, forced: np.ndarray | None = None,
                conflicts: np.ndarray | None = None) -> Problem:
        mask = np.ones(self.n_candidates, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
        force = np.zeros(0, dtype=np.int64) if forced is None else np.asarray(forced, dtype=np.int64)
        mask[force] = True
        pairs = np.zeros((0, 2), dtype=np.int64) if conflicts is None else np.asarray(conflicts, dtype=np.int64)
        return Problem(self.groups.rows, self.groups.weight, mask, force, pairs.reshape(-1, 2))

    def maximise(self, *, p: int, method: str = "auto", time_limit_s: float = 10.0, gap_tolerance: float = 0.0,
                 **options: object) -> Answer:
        """MCLP over this instance; ``options`` as for :meth:`problem`."""
        return maximise_coverage(self.problem(**options), p=p, method=method, time_limit_s=time_limit_s,  # type: ignore[arg-type]
                                 gap_tolerance=gap_tolerance)

    def cover(self, *, target_share: float, method: str = "auto", time_limit_s: float = 10.0,
              **options: object) -> Answer:
        """Set covering to ``target_share`` of all weighted street length (covered before included)."""
        total = float(self.demand.value.sum())
        before = float(self.demand.value[self.covered_before].sum())
        need = target_share * total - before
        return cover_target(self.problem(**options), need=need, method=method, time_limit_s=time_limit_s)  # type: ignore[arg-type]

    def covered_after(self, chosen: list[int] | np.ndarray) -> np.ndarray:
        """Which segments are within the threshold once ``chosen`` booths are open (covered before included)."""
        picked = np.asarray(chosen, dtype=np.int64)
        new = (self.relation[picked].getnnz(axis=0) > 0) if picked.size else np.zeros(len(self.demand), dtype=bool)
        return self.covered_before | np.asarray(new).ravel()


# ---- on the layers -------------------------------------------------------------------------------------------

MODELS = ("mclp", "cover")
METHODS = ("auto", "exact", "greedy")
MAX_THRESHOLD_M = 5000.0
MAX_TIME_LIMIT_S = 60.0
# Demand weight per OpenStreetMap class for ``weight="highway"``: where couriers ride and wait most (the
# streets with shops and homes) counts fully; footways and trunk roads' side lanes half; unknown classes fully.
HIGHWAY_WEIGHTS = {"trunk": 0.5, "trunk_link": 0.5, "footway": 0.5, "path": 0.5, "steps": 0.25, "track": 0.5,
                   "service": 0.75}
_POOL_STATUSES = ("candidate", "planned")  # converted booths are stations already; removed ones are gone


@dataclass(frozen=True)
class SitingOptions:
    """One siting question. Field names are the API's and the CLI's; ``check`` names the bad one."""

    model: str = "mclp"
    p: int = 5
    target_share: float = 0.9
    threshold_m: float = 1000.0
    profile: str = "walk"
    subdistrict: str = ""
    candidate_status_only: bool = False
    exclude: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    min_spacing_m: float = 0.0
    weight: str = "length"
    method: str = "auto"
    time_limit_s: float = 10.0

    def check(self) -> SitingOptions:
        if self.model not in MODELS:
            raise InvalidParameter(f"model must be one of {', '.join(MODELS)}", param="model")
        if self.method not in METHODS:
            raise InvalidParameter(f"method must be one of {', '.join(METHODS)}", param="method")
        if self.weight not in ("length", "highway"):
            raise InvalidParameter("weight must be length or highway", param="weight")
        get_profile(self.profile)
        if not 1 <= self.p <= 500:
            raise InvalidParameter("p must be an integer from 1 to 500", param="p")
        if not 0.0 < self.target_share <= 1.0:
            raise InvalidParameter("target_share must be in (0, 1]", param="target_share")
        if not 0.0 < self.threshold_m <= MAX_THRESHOLD_M:
            raise InvalidParameter(f"threshold_m must be in (0, {MAX_THRESHOLD_M:g}] metres", param="threshold_m")
        if not 0.0 <= self.min_spacing_m <= 20_000:
            raise InvalidParameter("min_spacing_m must be in [0, 20000] metres", param="min_spacing_m")
        if not 0.0 < self.time_limit_s <= MAX_TIME_LIMIT_S:
            raise InvalidParameter(f"time_limit_s must be in (0, {MAX_TIME_LIMIT_S:g}]", param="time_limit_s")
        if set(self.force) & set(self.exclude):
            both = ", ".join(sorted(set(self.force) & set(self.exclude)))
            raise InvalidParameter(f"booths both forced and excluded: {both}", param="force")
        return self


@dataclass
class SitingNetwork:
    """What every siting question on one snapshot and profile shares: graph lengths, demand, booth positions."""

    graph: sp.csr_matrix  # lengths, travel reversed: a search from a booth gives distances *to* it
    demand: Demand  # every segment the profile may use, weight 1
    segments: np.ndarray  # graph segment of each demand row
    highway: np.ndarray
    subdistrict: np.ndarray  # code of the subdistrict holding each segment's midpoint ('' if none)
    booths: gpd.GeoDataFrame  # the pool: booths that could become stations, placed on the graph
    node: np.ndarray
    offset_m: np.ndarray
    _instances: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def instance(self, threshold_m: float, weight: str) -> tuple[Instance, float]:
        """The instance for a threshold and weighting, kept for the last few asked (returns build seconds)."""
        key = (round(float(threshold_m), 3), weight)
        if key in self._instances:
            self._instances.move_to_end(key)
            return self._instances[key], 0.0
        started = time.perf_counter()
        factor = np.ones(len(self.demand)) if weight == "length" else np.array(
            [HIGHWAY_WEIGHTS.get(str(h), 1.0) for h in self.highway])
        demand = Demand(self.demand.node_a, self.demand.offset_a_m, self.demand.node_b, self.demand.offset_b_m,
                        self.demand.length_m, factor, self.demand.current_m)
        inst = Instance.build(self.graph, self.node, demand, threshold_m=threshold_m, candidate_offset_m=self.offset_m)
        self._instances[key] = inst
        while len(self._instances) > 4:
            self._instances.popitem(last=False)
        return inst, time.perf_counter() - started


def siting_network(snapshot: Snapshot, profile: str = "walk") -> SitingNetwork:
    """The snapshot's SitingNetwork for ``profile``, built once per snapshot."""
    prof = get_profile(profile)
    # what it depends on is fetched first: a snapshot's builders must not nest (its lock is not re-entrant)
    graph = snapshot.derived("street_graph")
    coverage, _ = snapshot_coverage(snapshot, profile=prof.name)
    return snapshot.derived(("siting", prof.name), lambda snap: _build_network(snap, graph, coverage, prof.name))


def _build_network(snapshot: Snapshot, graph: StreetGraph, coverage: SegmentCoverage, profile: str,
                   ) -> SitingNetwork:
    routing = graph.routing(profile)
    lengths = sp.csr_matrix((routing.rev_len_m, routing.rev.indices, routing.rev.indptr), shape=routing.rev.shape)
    usable = np.flatnonzero(np.isfinite(routing.seg_fwd_s) | np.isfinite(routing.seg_bwd_s))
    half = graph.seg_length_m[usable] / 2
    # from the midpoint: forward through v where the profile may go u -> v, backward through u where v -> u
    demand = Demand(graph.seg_v[usable], np.where(np.isfinite(routing.seg_fwd_s[usable]), half, np.inf),
                    graph.seg_u[usable], np.where(np.isfinite(routing.seg_bwd_s[usable]), half, np.inf),
                    graph.seg_length_m[usable], np.ones(usable.size),
                    coverage.segments["distance_m"].to_numpy(dtype=float)[usable])
    booths = snapshot.layer("booths")
    booths = booths[booths["status"].isin(_POOL_STATUSES)].reset_index(drop=True)
    snapped = graph.snap(booths.geometry.x.to_numpy(), booths.geometry.y.to_numpy(), profile=profile) if len(
        booths) else pd.DataFrame({"segment": [], "fraction": [], "snap_m": []})
    placed = (snapped["segment"].to_numpy() >= 0) & (snapped["snap_m"].to_numpy() <= DEFAULT_MAX_SNAP_M)
    booths, snapped = booths[placed].reset_index(drop=True), snapped[placed].reset_index(drop=True)
    seg = snapped["segment"].to_numpy(dtype=np.int64)
    frac = snapped["fraction"].to_numpy(dtype=float)
    near_u = frac <= 0.5
    node = np.where(near_u, graph.seg_u[seg], graph.seg_v[seg])
    offset = snapped["snap_m"].to_numpy(dtype=float) + np.where(near_u, frac, 1 - frac) * graph.seg_length_m[seg]
    return SitingNetwork(lengths, demand, usable, graph.seg_highway[usable],
                         _subdistrict_of(graph.seg_midpoint_xy[usable], snapshot.layer("subdistricts")),
                         booths, node.astype(np.int64), offset)


def _subdistrict_of(xy: np.ndarray, subdistricts: gpd.GeoDataFrame) -> np.ndarray:
    out = np.full(len(xy), "", dtype=object)
    if not len(subdistricts) or not len(xy):
        return out
    tree = shapely.STRtree(np.asarray(subdistricts.geometry.values))
    pts, polys = tree.query(shapely.points(xy), predicate="within")
    out[pts[::-1]] = subdistricts["code"].to_numpy(dtype=object)[polys[::-1]]  # first polygon wins
    return out


@dataclass
class SitingResult:
    options: SitingOptions
    answer: Answer
    booths: gpd.GeoDataFrame  # chosen booths in the work CRS, with newly_covered_m (each alone)
    by_subdistrict: pd.DataFrame  # code, name, length_m, covered_before_m, covered_after_m
    build_time_s: float
    data_version: int
    total_weight: float
    covered_before_weight: float

    def totals(self) -> dict[str, float]:
        row = self.by_subdistrict[["length_m", "covered_before_m", "covered_after_m"]].sum()
        length = float(row["length_m"])
        return {"length_m": length, "covered_before_m": float(row["covered_before_m"]),
                "covered_after_m": float(row["covered_after_m"]),
                "share_before": float(row["covered_before_m"]) / length if length else 0.0,
                "share_after": float(row["covered_after_m"]) / length if length else 0.0}

    def quality(self) -> dict[str, object]:
        a = self.answer
        out: dict[str, object] = {"status": a.status, "text": a.quality, "method": a.method,
                                  "gap": None if not np.isfinite(a.gap) else a.gap, "notes": list(a.notes)}
        if self.options.model == "mclp":
            out.update(objective=a.objective, upper_bound=a.bound, unit="weighted metres newly covered")
        else:
            out.update(booths=None if not np.isfinite(a.objective) else int(a.objective),
                       lower_bound=None if not np.isfinite(a.bound) else int(a.bound),
                       reachable_share=_share(self.covered_before_weight + a.reachable_weight, self.total_weight))
        return out


def _share(value: float, total: float) -> float | None:
    return None if not np.isfinite(value) or not total else value / total


def plan(snapshot: Snapshot, options: SitingOptions) -> SitingResult:
    """Answer one siting question on a snapshot: which booths, how much street they add, and how sure we are."""
    opts = options.check()
    started = time.perf_counter()
    net = siting_network(snapshot, opts.profile)
    inst, _ = net.instance(opts.threshold_m, opts.weight)
    ids = net.booths["id"].astype(str).to_numpy()
    allowed = np.ones(len(ids), dtype=bool)
    if opts.subdistrict:
        allowed &= _in_subdistrict(snapshot, net.booths, opts.subdistrict)
    if opts.candidate_status_only:
        allowed &= (net.booths["status"] == "candidate").to_numpy()
    allowed &= ~np.isin(ids, list(opts.exclude))
    _known(ids, opts.exclude, "exclude", snapshot)
    forced = _known(ids, opts.force, "force", snapshot)
    if opts.model == "mclp" and forced.size > opts.p:
        raise InvalidParameter(f"{forced.size} booths forced but p is {opts.p}", param="force")
    xy = np.column_stack([net.booths.geometry.x, net.booths.geometry.y]) if len(ids) else np.zeros((0, 2))
    among = allowed.copy()
    among[forced] = True
    conflicts = spacing_conflicts(xy, min_spacing_m=opts.min_spacing_m, among=among)
    clash = np.isin(conflicts, forced).all(axis=1) if conflicts.size else np.zeros(0, dtype=bool)
    if clash.any():
        a, b = conflicts[np.flatnonzero(clash)[0]]
        raise InvalidParameter(f"forced booths {ids[a]} and {ids[b]} are closer than min_spacing_m",
                               param="min_spacing_m")
    build_s = time.perf_counter() - started
    options_ = {"allowed": allowed, "forced": forced, "conflicts": conflicts}
    if opts.model == "mclp":
        answer = inst.maximise(p=opts.p, method=opts.method, time_limit_s=opts.time_limit_s, **options_)
    else:
        answer = inst.cover(target_share=opts.target_share, method=opts.method, time_limit_s=opts.time_limit_s,
                            **options_)
    chosen = net.booths.iloc[answer.chosen].copy()
    alone = np.asarray(inst.relation[answer.chosen].multiply(inst.demand.length_m[None, :]).sum(axis=1)).ravel()
    chosen["newly_covered_m"] = alone if len(answer.chosen) else np.zeros(0)
    value = inst.demand.value
    return SitingResult(opts, answer, chosen.reset_index(drop=True),
                        _by_subdistrict(snapshot, net, inst, answer.chosen), build_s, snapshot.version,
                        float(value.sum()), float(value[inst.covered_before].sum()))


def _known(ids: np.ndarray, wanted: tuple[str, ...], param: str, snapshot: Snapshot) -> np.ndarray:
    position = {b: i for i, b in enumerate(ids.tolist())}
    missing = [w for w in wanted if w not in position]
    if missing:
        every = set(snapshot.layer("booths")["id"].astype(str))
        why = "unknown booth" if not set(missing) <= every else "booth not placeable (status or too far from a street)"
        raise InvalidParameter(f"{why}: {', '.join(missing)}", param=param)
    return np.array([position[w] for w in wanted], dtype=np.int64)


def _in_subdistrict(snapshot: Snapshot, booths: gpd.GeoDataFrame, code: str) -> np.ndarray:
    layer = snapshot.layer("subdistricts")
    by_column = (booths["subdistrict"].astype(str) == code).to_numpy()
    known = code in set(layer["code"].astype(str)) or by_column.any()
    if not known:
        raise InvalidParameter(f"unknown subdistrict {code!r}", param="subdistrict")
    polygon = layer[layer["code"].astype(str) == code]
    if len(polygon) and len(booths):
        inside = shapely.within(np.asarray(booths.geometry.values), polygon.geometry.union_all())
        return by_column | ((booths["subdistrict"].astype(str) == "").to_numpy() & inside)
    return by_column


def _by_subdistrict(snapshot: Snapshot, net: SitingNetwork, inst: Instance, chosen: list[int]) -> pd.DataFrame:
    length = inst.demand.length_m
    frame = pd.DataFrame({"code": net.subdistrict, "length_m": length,
                          "covered_before_m": np.where(inst.covered_before, length, 0.0),
                          "covered_after_m": np.where(inst.covered_after(chosen), length, 0.0)})
    table = frame.groupby("code", sort=True, as_index=False).sum()
    names = dict(zip(snapshot.layer("subdistricts")["code"].astype(str),
                     snapshot.layer("subdistricts")["name"].astype(str), strict=False))
    # code "" holds the streets no subdistrict contains: all of them when the data has no subdistricts
    rest = "全部 / all" if not names else "其他 / outside the subdistricts"
    table.insert(1, "name", [names.get(c, rest if c == "" else c) for c in table["code"]])
    for when in ("before", "after"):
        table[f"share_{when}"] = np.divide(table[f"covered_{when}_m"], table["length_m"],
                                           out=np.zeros(len(table)), where=table["length_m"] > 0)
    return table


def chosen_lonlat(result: SitingResult, *, system: str = "wgs84") -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the chosen booths in ``system`` (wgs84, gcj02 or bd09)."""
    booths = result.booths
    if not len(booths):
        return np.zeros(0), np.zeros(0)
    work = booths.crs.to_string() if booths.crs is not None else None
    return crs_mod.work_xy_to_lonlat(booths.geometry.x.to_numpy(), booths.geometry.y.to_numpy(),
                                     system=crs_mod.parse_coord_system(system), work=work)


def mark_planned(booths: gpd.GeoDataFrame, ids: list[str]) -> gpd.GeoDataFrame:
    """The rows of ``booths`` named in ``ids`` with status ``planned`` (for an upsert through the store)."""
    rows = booths[booths["id"].astype(str).isin(ids)].copy()
    rows["status"] = "planned"
    return rows


def result_to_dict(result: SitingResult, *, system: str = "wgs84") -> dict[str, object]:
    """The answer as plain JSON-safe data: chosen booths with lon/lat in ``system``, per-subdistrict table."""
    lon, lat = chosen_lonlat(result, system=system)
    booths = [{"id": str(row["id"]), "address": str(row["address"]), "subdistrict": str(row["subdistrict"]),
               "status": str(row["status"]), "lon": round(float(x), 7), "lat": round(float(y), 7),
               "newly_covered_m": round(float(row["newly_covered_m"]), 1)}
              for (_, row), x, y in zip(result.booths.iterrows(), lon, lat, strict=True)]
    table = result.by_subdistrict.round({"length_m": 1, "covered_before_m": 1, "covered_after_m": 1,
                                         "share_before": 4, "share_after": 4})
    return {"model": result.options.model, "data_version": result.data_version, "crs": system,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(result.options).items()},
            "booths": booths, "by_subdistrict": table.to_dict(orient="records"), "totals": result.totals(),
            "quality": result.quality(), "solve_time_s": round(result.answer.solve_time_s, 4),
            "build_time_s": round(result.build_time_s, 4)}
