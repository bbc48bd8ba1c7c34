"""Siting: coverage relation, aggregation, MCLP and set covering against hand-built and brute-force optima."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from locator.core.siting import Demand, Instance, aggregate, coverage_relation, spacing_conflicts
from locator.core.siting_solve import Problem, cover_target, greedy_mclp, mip_mclp


def path_graph(n: int, step_m: float = 100.0) -> sp.csr_matrix:
    """Nodes 0..n-1 on a line, ``step_m`` apart, both ways."""
    a = np.arange(n - 1)
    rows, cols = np.concatenate([a, a + 1]), np.concatenate([a + 1, a])
    return sp.csr_matrix((np.full(rows.size, step_m), (rows, cols)), shape=(n, n))


def path_instance(*, current_m: np.ndarray | None = None, threshold_m: float = 150.0) -> Instance:
    """Eleven nodes 100 m apart, ten 100 m segments; booths at nodes 1, 2, 5, 8, 9."""
    graph = path_graph(11)
    demand = Demand.from_segments(np.arange(10), np.arange(1, 11), np.full(10, 100.0), current_m=current_m)
    return Instance.build(graph, np.array([1, 2, 5, 8, 9]), demand, threshold_m=threshold_m)


def test_hand_built_path_relation_and_optimum():
    inst = path_instance()
    # a booth at node k reaches segment midpoints k-1.5 .. k+1.5 within 150 m: segments k-2 .. k+1 (index = left node)
    dense = inst.relation.toarray()
    assert dense[0].nonzero()[0].tolist() == [0, 1, 2]  # node 1: segments 0-1, 1-2, 2-3 (midpoint 2.5 at 150 m)
    assert dense[2].nonzero()[0].tolist() == [3, 4, 5, 6]
    answer = inst.maximise(p=2, method="exact")
    assert answer.status == "optimal"
    assert answer.objective == pytest.approx(800.0)  # nodes 2 and 8: segments 0-3 and 6-9
    assert sorted(answer.chosen) == [1, 3]


def test_covered_segments_count_for_nothing():
    current = np.full(10, np.inf)
    current[[3, 4, 5, 6]] = 0.0  # a station already covers the middle
    inst = path_instance(current_m=current)
    assert inst.relation[2].nnz == 0  # the middle booth adds nothing
    answer = inst.maximise(p=2)
    assert answer.objective == pytest.approx(600.0)
    assert sorted(answer.chosen) in ([0, 3], [0, 4], [1, 3], [1, 4])


def test_aggregation_merges_identical_candidate_sets():
    relation = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 0, 1, 1]], dtype=bool))
    groups = aggregate(relation, np.array([1.0, 2.0, 4.0, 8.0]))
    assert groups.rows.shape == (3, 2)
    assert groups.of_segment[0] == groups.of_segment[1]
    assert sorted(groups.weight.tolist()) == [3.0, 4.0, 8.0]


# ---- random small instances against brute force ------------------------------------------------------------

def random_instance(seed: int, *, n_nodes: int = 30, n_cand: int = 9, covered_share: float = 0.2):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n_nodes, 2))
    edges = {(i, i + 1) for i in range(n_nodes - 1)}  # connected spine
    for _ in range(n_nodes):
        i, j = rng.integers(n_nodes, size=2)
        if i != j:
            edges.add((min(i, j), max(i, j)))
    u, v = np.array(sorted(edges)).T
    length = np.hypot(*(xy[u] - xy[v]).T)
    graph = sp.csr_matrix((np.concatenate([length, length]), (np.concatenate([u, v]), np.concatenate([v, u]))),
                          shape=(n_nodes, n_nodes))
    current = np.where(rng.random(u.size) < covered_share, 0.0, np.inf)
    demand = Demand.from_segments(u, v, length, weight=rng.choice([1.0, 2.0], size=u.size), current_m=current)
    nodes = rng.choice(n_nodes, size=n_cand, replace=False)
    offsets = rng.uniform(0, 50, size=n_cand)
    return graph, nodes, offsets, demand, xy[nodes]


def dense_relation(graph, nodes, offsets, demand, threshold_m):
    """The relation the slow way: all-pairs distances, every candidate against every segment."""
    full = dijkstra(graph, directed=True, indices=nodes)
    seg = demand.distance_from(full) + offsets[:, None]
    return (seg <= threshold_m) & ~(demand.current_m <= threshold_m)[None, :]


def brute_best(cover: np.ndarray, value: np.ndarray, p: int, *, allowed=None, forced=(), conflicts=()):
    """Best newly covered value over every set of at most p booths that keeps the rules."""
    n = cover.shape[0]
    pool = [i for i in range(n) if allowed is None or allowed[i] or i in forced]
    bad = {tuple(sorted(c)) for c in conflicts}
    best = -1.0
    for size in range(0, p + 1):
        for subset in itertools.combinations(pool, size):
            if not set(forced) <= set(subset):
                continue
            if any(pair in bad for pair in itertools.combinations(sorted(subset), 2)):
                continue
            got = float(value[cover[list(subset)].any(axis=0)].sum()) if subset else 0.0
            best = max(best, got)
    return best


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_relation_matches_all_pairs_distances(seed):
    graph, nodes, offsets, demand, _ = random_instance(seed)
    sparse_rel = coverage_relation(graph, nodes, demand, threshold_m=700.0, candidate_offset_m=offsets)
    assert np.array_equal(sparse_rel.toarray(), dense_relation(graph, nodes, offsets, demand, 700.0))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_exact_matches_brute_force_and_greedy_bound_holds(seed, p):
    graph, nodes, offsets, demand, _ = random_instance(seed)
    inst = Instance.build(graph, nodes, demand, threshold_m=600.0, candidate_offset_m=offsets)
    cover = dense_relation(graph, nodes, offsets, demand, 600.0)
    optimum = brute_best(cover, demand.value, p)
    exact = inst.maximise(p=p, method="exact")
    assert exact.status == "optimal"
    assert exact.objective == pytest.approx(optimum, rel=1e-9, abs=1e-6)
    assert float(demand.value[cover[exact.chosen].any(axis=0)].sum()) == pytest.approx(optimum)
    greedy = greedy_mclp(inst.problem(), p=p)
    assert greedy.objective <= optimum + 1e-6
    assert optimum <= greedy.bound + 1e-6  # the stated bound holds
    assert greedy.objective >= (1 - 1 / math.e) * optimum - 1e-6
    if greedy.status != "optimal":
        assert greedy.quality.startswith("within ")


@pytest.mark.parametrize("seed", SEEDS)
def test_forced_excluded_and_spacing_match_brute_force(seed):
    graph, nodes, offsets, demand, xy = random_instance(seed, n_cand=8)
    inst = Instance.build(graph, nodes, demand, threshold_m=600.0, candidate_offset_m=offsets)
    cover = dense_relation(graph, nodes, offsets, demand, 600.0)
    allowed = np.ones(8, dtype=bool)
    allowed[[1, 4]] = False  # excluded
    conflicts = spacing_conflicts(xy, min_spacing_m=700.0)
    forced = [c for c in (0, 2, 3, 5) if not any(c in pair for pair in conflicts.tolist())][:1]
    optimum = brute_best(cover, demand.value, 3, allowed=allowed, forced=forced, conflicts=conflicts.tolist())
    options = {"allowed": allowed, "forced": np.array(forced, dtype=np.int64), "conflicts": conflicts}
    for method in ("exact", "greedy"):
        answer = inst.maximise(p=3, method=method, **options)
        assert set(forced) <= set(answer.chosen)
        assert not {1, 4} & set(answer.chosen)
        chosen_pairs = {tuple(sorted(pair)) for pair in itertools.combinations(answer.chosen, 2)}
        assert not chosen_pairs & {tuple(sorted(pair)) for pair in conflicts.tolist()}
        assert answer.objective <= optimum + 1e-6 <= answer.bound + 2e-6
        if method == "exact":
            assert answer.status == "optimal"
            assert answer.objective == pytest.approx(optimum)


def test_spacing_is_straight_line_and_strict():
    xy = np.array([[0.0, 0.0], [300.0, 400.0], [0.0, 499.0], [2000.0, 0.0]])
    pairs = {tuple(p) for p in spacing_conflicts(xy, min_spacing_m=500.0).tolist()}
    assert pairs == {(0, 2), (1, 2)}  # 0-1 is exactly 500 m: allowed


# ---- set covering --------------------------------------------------------------------------------------------

def brute_min_count(cover, value, need, *, conflicts=()):
    bad = {tuple(sorted(c)) for c in conflicts}
    for size in range(0, cover.shape[0] + 1):
        for subset in itertools.combinations(range(cover.shape[0]), size):
            if any(pair in bad for pair in itertools.combinations(subset, 2)):
                continue
            got = float(value[cover[list(subset)].any(axis=0)].sum()) if subset else 0.0
            if got >= need - 1e-9:
                return size
    return None


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target_share", [0.5, 0.7])
def test_cover_finds_the_fewest_booths(seed, target_share):
    graph, nodes, offsets, demand, _ = random_instance(seed)
    inst = Instance.build(graph, nodes, demand, threshold_m=800.0, candidate_offset_m=offsets)
    cover = dense_relation(graph, nodes, offsets, demand, 800.0)
    need = target_share * demand.value.sum() - demand.value[demand.current_m <= 800.0].sum()
    expected = brute_min_count(cover, demand.value, need)
    answer = inst.cover(target_share=target_share, method="exact")
    if expected is None:
        assert answer.status == "infeasible"
    else:
        assert answer.status == "optimal"
        assert len(answer.chosen) == expected
        greedy = inst.cover(target_share=target_share, method="greedy")
        assert greedy.bound <= expected <= len(greedy.chosen)


def test_cover_infeasible_target_reports_best_reachable_share():
    inst = path_instance(threshold_m=150.0)
    # booths reach segments 0-2, 3-6 and 7-9: everything; a far segment beyond node 10 no booth reaches
    graph = path_graph(14)
    demand = Demand.from_segments(np.arange(13), np.arange(1, 14), np.full(13, 100.0))
    inst = Instance.build(graph, np.array([1, 5, 8]), demand, threshold_m=150.0)
    answer = inst.cover(target_share=0.95)
    assert answer.status == "infeasible"
    assert answer.quality == "infeasible"
    assert answer.reachable_weight == pytest.approx(1000.0)  # segments 0..9 of 13
    assert inst.cover(target_share=1000 / 1300).status == "optimal"


def test_cover_infeasible_because_of_spacing():
    graph = path_graph(11)
    demand = Demand.from_segments(np.arange(10), np.arange(1, 11), np.full(10, 100.0))
    inst = Instance.build(graph, np.array([2, 5, 8]), demand, threshold_m=150.0)
    xy = np.array([[200.0, 0.0], [500.0, 0.0], [800.0, 0.0]])
    conflicts = spacing_conflicts(xy, min_spacing_m=350.0)
    assert inst.cover(target_share=1.0).status == "optimal"
    blocked = inst.cover(target_share=1.0, conflicts=conflicts)
    assert blocked.status == "infeasible"
    assert blocked.reachable_weight == pytest.approx(800.0)  # booths 2 and 8 (the middle one conflicts with both)


def test_cover_where_no_booth_reaches_any_group_is_infeasible_not_an_error():
    # spacing conflicts skip the quick bound, so the MIP is built with no group to link (found by schemathesis)
    problem = Problem(rows=sp.csr_matrix((2, 2)), weight=np.array([100.0, 100.0]), allowed=np.ones(2, dtype=bool),
                      conflicts=np.array([[0, 1]]))
    answer = cover_target(problem, need=100.0, method="exact")
    assert answer.status == "infeasible"
    assert answer.reachable_weight == pytest.approx(0.0)


def test_mip_starts_from_greedy_and_never_does_worse():
    graph, nodes, offsets, demand, _ = random_instance(3, n_nodes=60, n_cand=15)
    inst = Instance.build(graph, nodes, demand, threshold_m=500.0, candidate_offset_m=offsets)
    problem = inst.problem()
    greedy = greedy_mclp(problem, p=4)
    mip = mip_mclp(problem, p=4, time_limit_s=10.0, start=greedy.chosen)
    assert mip.objective >= greedy.objective - 1e-9
    assert mip.objective <= greedy.bound + 1e-6
