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
group, which is what the solvers in :mod:`locator.core.siting_solve` see. The street graph itself comes from
:mod:`locator.core.network`; :mod:`locator.core.siting_plan` ties both to the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from locator.core.siting_solve import Answer, Problem, cover_target, maximise_coverage

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

    def maximise(self, *, p: int, method: str = "auto", time_limit_s: float = 10.0, **options: object) -> Answer:
        """MCLP over this instance; ``options`` as for :meth:`problem`."""
        return maximise_coverage(self.problem(**options), p=p, method=method, time_limit_s=time_limit_s)  # type: ignore[arg-type]

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
