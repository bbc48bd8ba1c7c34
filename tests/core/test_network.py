"""The street graph on a hand-made 3-4-5 grid: splitting, snapping, profiles, one-way streets, shortest paths.

The grid (metres east/north of the origin)::

    (0,800)---(300,800)---(600,800)      horizontal pieces 300 m, vertical pieces 400 m,
       |          |           |          and a footway on the diagonal (0,0)-(300,400): 500 m.
    (0,400)---(300,400)---(600,400)
       |       /  |           |
    (0,0)-----(300,0)-----(600,0)
"""

from __future__ import annotations

import heapq

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import wkt

from conftest import ORIGIN_X, ORIGIN_Y, shared_path
from locator.core.network import (
    EBIKE,
    WALK,
    Snapped,
    build_street_graph,
    csr_from_edges,
    get_profile,
    graph_from_arrays,
    nearest_by_network,
    nearest_two,
    read_bj_streets,
)
from locator.errors import InvalidParameter


def line(*points: tuple[float, float]) -> str:
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in points) + ")"


def streets_frame(rows: list[tuple[str, str, str, bool, str]]) -> gpd.GeoDataFrame:
    data = [{"id": i, "name": n, "highway": h, "oneway": o} for i, n, h, o, _ in rows]
    return gpd.GeoDataFrame(data, geometry=[wkt.loads(g) for *_, g in rows], crs="EPSG:32650")


GRID = [
    ("h1", "东西一路", "residential", False, line((0, 0), (300, 0), (600, 0))),
    ("h2", "东西二路", "residential", False, line((0, 400), (300, 400), (600, 400))),
    ("h3", "东西三路", "residential", False, line((0, 800), (300, 800), (600, 800))),
    ("v1", "南北一路", "residential", False, line((0, 0), (0, 400), (0, 800))),
    ("v2", "南北二路", "residential", False, line((300, 0), (300, 400), (300, 800))),
    ("v3", "南北三路", "residential", False, line((600, 0), (600, 400), (600, 800))),
    ("d", "斜路", "footway", False, line((0, 0), (300, 400))),
]


def stations_at(*points: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"s{i}" for i in range(len(points))], "status": "open"},
                            geometry=gpd.points_from_xy([ORIGIN_X + x for x, _ in points],
                                                        [ORIGIN_Y + y for _, y in points]), crs="EPSG:32650")


@pytest.fixture
def grid():
    return build_street_graph(streets_frame(GRID))


def node_at(graph, x: float, y: float) -> int:
    return int(np.flatnonzero(np.hypot(*(graph.node_xy - [ORIGIN_X + x, ORIGIN_Y + y]).T) < 1e-6)[0])


def test_ways_are_split_at_shared_vertices(grid):
    assert grid.n_nodes == 9
    assert grid.n_segments == 13
    assert sorted(np.round(grid.seg_length_m).astype(int).tolist()) == [300] * 6 + [400] * 6 + [500]


def test_a_way_is_split_where_another_way_ends_on_its_interior_vertex():
    graph = build_street_graph(streets_frame([
        ("a", "甲路", "residential", False, line((0, 0), (100, 0), (200, 0))),
        ("b", "乙路", "residential", False, line((100, 0), (100, 100))),
        ("c", "丙路", "residential", False, line((0, 50), (50, 50), (60, 60))),  # touches nothing: one piece
    ]))
    assert graph.n_segments == 4
    assert graph.streets["id"].iloc[graph.seg_street].tolist().count("a") == 2
    assert np.isclose(graph.seg_length_m[graph.streets["id"].iloc[graph.seg_street].to_numpy() == "c"].sum(),
                      50 + np.hypot(10, 10))


def test_multilinestrings_and_empty_layers():
    multi = streets_frame([("m", "", "service", False,
                            f"MULTILINESTRING (({ORIGIN_X} {ORIGIN_Y}, {ORIGIN_X + 10} {ORIGIN_Y}), "
                            f"({ORIGIN_X + 10} {ORIGIN_Y}, {ORIGIN_X + 10} {ORIGIN_Y + 10}))")])
    assert build_street_graph(multi).n_segments == 2
    empty = build_street_graph(streets_frame([]))
    assert empty.n_segments == 0 and empty.n_nodes == 0


def test_snap_to_nearest_point_of_a_segment(grid):
    snapped = grid.snap(np.array([ORIGIN_X + 150, ORIGIN_X + 330]), np.array([ORIGIN_Y - 30, ORIGIN_Y + 200]))
    first, second = snapped.iloc[0], snapped.iloc[1]
    assert first.snap_m == pytest.approx(30) and first.fraction == pytest.approx(0.5)
    assert grid.streets["id"].iloc[grid.seg_street[int(first.segment)]] == "h1"
    assert second.snap_m == pytest.approx(30) and second.fraction == pytest.approx(0.5)
    assert grid.streets["id"].iloc[grid.seg_street[int(second.segment)]] == "v2"


def test_snap_avoids_segments_the_profile_may_not_use():
    graph = build_street_graph(streets_frame([
        ("m", "京承高速", "motorway", False, line((0, 0), (1000, 0))),
        ("r", "辅路", "residential", False, line((0, 50), (1000, 50))),
    ]))
    snapped = graph.snap(np.array([ORIGIN_X + 500]), np.array([ORIGIN_Y - 10]), profile="walk").iloc[0]
    assert graph.streets["id"].iloc[graph.seg_street[int(snapped.segment)]] == "r"
    assert snapped.snap_m == pytest.approx(60)


def test_profiles_speeds_and_unknown_name():
    assert WALK.speed_kmh("primary") == 4.8 and WALK.speed_kmh("motorway") is None
    assert EBIKE.speed_kmh("primary") == 18 and EBIKE.speed_kmh("steps") == 4.8
    assert EBIKE.speed_kmh("something_new") == EBIKE.default_kmh
    assert get_profile("EBike") is EBIKE
    with pytest.raises(InvalidParameter) as err:
        get_profile("car")
    assert err.value.param == "profile"


def at_node(graph, x: float, y: float) -> Snapped:
    node = node_at(graph, x, y)
    seg = int(np.flatnonzero((graph.seg_u == node) | (graph.seg_v == node))[0])
    return Snapped(np.array([seg]), np.array([0.0 if graph.seg_u[seg] == node else 1.0]), np.zeros(1))


def test_walk_distances_from_one_station_by_hand(grid):
    labels = nearest_two(grid, grid.routing("walk"), at_node(grid, 0, 0))
    expected = {(0, 0): 0, (300, 0): 300, (600, 0): 600, (0, 400): 400, (300, 400): 500,  # the diagonal
                (600, 400): 800, (0, 800): 800, (300, 800): 900, (600, 800): 1200}
    for (x, y), metres in expected.items():
        assert labels.metres[node_at(grid, x, y)] == pytest.approx(metres)
        assert labels.seconds[node_at(grid, x, y)] == pytest.approx(metres / (4.8 / 3.6))
    assert np.isinf(labels.second_seconds).all()  # only one station


def test_ebike_pushes_on_the_footway_so_the_diagonal_is_slow(grid):
    labels = nearest_two(grid, grid.routing("ebike"), at_node(grid, 0, 0))
    node = node_at(grid, 300, 400)
    # riding 300 + 400 m at 14 km/h (180 s) beats pushing 500 m at 4.8 km/h (375 s)
    assert labels.seconds[node] == pytest.approx(700 / (14 / 3.6))
    assert labels.metres[node] == pytest.approx(700)


def test_one_way_street_is_a_detour_by_ebike_but_not_on_foot():
    graph = build_street_graph(streets_frame([
        ("o", "单行路", "residential", True, line((0, 0), (1000, 0))),  # east only
        ("l", "绕行路", "residential", False, line((0, 0), (0, 300), (1000, 300), (1000, 0))),
    ]))
    station = at_node(graph, 0, 0)
    east = node_at(graph, 1000, 0)
    walk = nearest_two(graph, graph.routing("walk"), station)
    ebike = nearest_two(graph, graph.routing("ebike"), station)
    assert walk.metres[east] == pytest.approx(1000)
    assert ebike.metres[east] == pytest.approx(300 + 1000 + 300)  # may not ride west on the one-way street
    # towards a station at the east end the one-way street is fine
    ebike_east = nearest_two(graph, graph.routing("ebike"), at_node(graph, 1000, 0))
    assert ebike_east.metres[node_at(graph, 0, 0)] == pytest.approx(1000)


def test_second_nearest_is_a_different_station(grid):
    both = Snapped(np.concatenate([at_node(grid, 0, 0).segment, at_node(grid, 600, 800).segment]),
                   np.concatenate([at_node(grid, 0, 0).fraction, at_node(grid, 600, 800).fraction]), np.zeros(2))
    labels = nearest_two(grid, grid.routing("walk"), both)
    node = node_at(grid, 300, 0)
    assert labels.metres[node] == pytest.approx(300) and labels.source[node] == 0
    assert labels.second_metres[node] == pytest.approx(300 + 800) and labels.second_source[node] == 1
    origin = node_at(grid, 0, 0)
    assert labels.second_metres[origin] == pytest.approx(1200) and labels.second_source[origin] == 1


def two_label_dijkstra(adj: dict[int, list[tuple[int, float]]], sources: dict[int, int], n: int):
    """Reference: each node keeps its best labels from two distinct sources (heapq)."""
    best: list[list[tuple[float, int]]] = [[] for _ in range(n)]
    heap = [(0.0, node, src) for node, src in sources.items()]
    heapq.heapify(heap)
    while heap:
        d, node, src = heapq.heappop(heap)
        labels = best[node]
        if len(labels) == 2 or any(s == src for _, s in labels):
            continue
        labels.append((d, src))
        for nxt, w in adj.get(node, []):
            heapq.heappush(heap, (d + w, nxt, src))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_second_label_search_matches_two_label_dijkstra(seed):
    rng = np.random.default_rng(seed)
    n = 40
    xy = rng.uniform(0, 1000, (n, 2))
    u = rng.integers(0, n, 90)
    v = rng.integers(0, n, 90)
    keep = u != v
    u, v = u[keep], v[keep]
    streets = pd.DataFrame({"id": ["x"], "name": [""], "highway": ["residential"]})
    graph = graph_from_arrays(xy, u, v, streets=streets, seg_street=np.zeros(len(u), int),
                              seg_oneway=rng.random(len(u)) < 0.3)
    routing = graph.routing("ebike")
    src_nodes = rng.choice(np.unique(np.concatenate([u, v])), 5, replace=False)
    segs = [int(np.flatnonzero((u == s) | (v == s))[0]) for s in src_nodes]
    fraction = np.array([0.0 if u[k] == s else 1.0 for k, s in zip(segs, src_nodes, strict=True)])
    labels = nearest_two(graph, routing, Snapped(np.array(segs), fraction, np.zeros(len(segs))))
    rev = routing.rev.tocoo()
    adj: dict[int, list[tuple[int, float]]] = {}
    for a, b, w in zip(rev.row, rev.col, rev.data, strict=True):
        adj.setdefault(int(a), []).append((int(b), float(w)))
    ref = two_label_dijkstra(adj, {int(s): i for i, s in enumerate(src_nodes)}, n)
    for node in range(n):
        got = [labels.seconds[node], labels.second_seconds[node]]
        want = [d for d, _ in ref[node]] + [np.inf] * (2 - len(ref[node]))
        assert got == pytest.approx(want), node


def test_nearest_by_network_ranks_by_street_distance(grid):
    stations = stations_at((600, 0), (0, 800), (300, 430))
    # from (0, 0): s0 is 600 m along 东西一路; s2 is 500 m up the diagonal plus 30 m to the door
    ranked = nearest_by_network(grid, stations, ORIGIN_X, ORIGIN_Y, k=3, profile="walk")
    assert ranked["station_id"].tolist() == ["s2", "s0", "s1"]
    assert ranked["distance_m"].tolist() == pytest.approx([530, 600, 800])
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["straight_m"].iloc[1] == pytest.approx(600)
    near = nearest_by_network(grid, stations, ORIGIN_X + 450, ORIGIN_Y, k=1, max_distance_m=200)
    assert near["station_id"].tolist() == ["s0"] and near["distance_m"].iloc[0] == pytest.approx(150)
    assert nearest_by_network(grid, stations, ORIGIN_X, ORIGIN_Y, k=3, max_distance_m=100).empty


@pytest.mark.shared
def test_bj_streets_distances_match_networkx():
    nx = pytest.importorskip("networkx")
    graph = read_bj_streets(shared_path("bj-streets", "vertexMap.txt").parent)
    assert graph.n_nodes == 32_552
    rng = np.random.default_rng(2026)
    for profile in ("walk", "ebike"):
        routing = graph.routing(profile)
        usable = np.flatnonzero(np.isfinite(routing.seg_fwd_s) & (graph.seg_u != graph.seg_v))
        segs = rng.choice(usable, 300, replace=False)
        segs = segs[np.unique(graph.seg_u[segs], return_index=True)[1]]  # stations at distinct vertices
        labels = nearest_two(graph, routing, Snapped(segs, np.zeros(len(segs)), np.zeros(len(segs))))
        rev = routing.rev.tocoo()
        g = nx.DiGraph()
        g.add_nodes_from(range(graph.n_nodes))
        g.add_weighted_edges_from(zip(rev.row.tolist(), rev.col.tolist(), rev.data.tolist(), strict=True))
        dist = nx.multi_source_dijkstra_path_length(g, set(graph.seg_u[segs].tolist()))
        sample = rng.choice(graph.n_nodes, 2000, replace=False)
        want = np.array([dist.get(int(v), np.inf) for v in sample])
        np.testing.assert_allclose(labels.seconds[sample], want, rtol=1e-9)
        # second-nearest for a few vertices, from one search per source on the turned-round graph
        back = g.reverse(copy=False)
        for v in sample[:25]:
            per_source = nx.single_source_dijkstra_path_length(back, int(v))
            times = sorted(per_source.get(int(s), np.inf) for s in graph.seg_u[segs])
            assert labels.second_seconds[v] == pytest.approx(times[1]) or np.isinf(times[1])


def _reference_two_labels(matrix, node, src, offset, n: int):  # noqa: ANN001, ANN202
    """Per node, its best two (seconds, source) labels from distinct sources, by a plain heapq search; and the
    adjacency lists it searched."""
    coo = matrix.tocoo()
    adj: dict[int, list[tuple[int, float]]] = {}
    for x, y, weight in zip(coo.row, coo.col, coo.data, strict=True):
        adj.setdefault(int(x), []).append((int(y), float(weight)))
    best: list[list[tuple[float, int]]] = [[] for _ in range(n)]
    heap = [(float(d), int(v), int(s)) for v, s, d in zip(node, src, offset, strict=True)]
    heapq.heapify(heap)
    while heap:
        d, v, s = heapq.heappop(heap)
        if len(best[v]) == 2 or any(t == s for _, t in best[v]):
            continue
        best[v].append((d, s))
        for nxt, weight in adj.get(v, []):
            heapq.heappush(heap, (d + weight, nxt, s))
    return best, adj


@pytest.mark.parametrize("seed", range(8))
def test_compiled_two_label_search_matches_heapq_reference(seed):
    """The compiled search against the plain two-label Dijkstra: random directed graphs, sources starting at
    several nodes with offsets, some sharing a node, some edges of equal weight."""
    from locator.core.shortest import two_label_search

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 60))
    m = int(rng.integers(n, 4 * n))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.choice([1.0, 2.0, 2.5, 7.0], m) if seed % 2 else rng.uniform(0.1, 10, m)
    keep = a != b
    matrix, length = csr_from_edges(a[keep], b[keep], w[keep], 3 * w[keep], n)
    starts = int(rng.integers(1, 8))
    node = rng.integers(0, n, starts)
    src = rng.integers(0, max(1, starts // 2 + 1), starts)
    offset = rng.choice([0.0, 0.5, 3.0], starts)
    secs, metres, source = two_label_search(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
                                            matrix.data, length, node, src, offset, 3 * offset, n, np.inf)
    best, _ = _reference_two_labels(matrix, node, src, offset, n)
    for v in range(n):
        want = [d for d, _ in best[v]] + [np.inf] * (2 - len(best[v]))
        assert secs[v].tolist() == pytest.approx(want), v
        assert metres[v].tolist() == pytest.approx([3 * d for d in want]), v  # lengths ride along
        reached = np.isfinite(secs[v])
        assert (source[v][~reached] == -1).all()
        if reached.all():
            assert source[v][0] != source[v][1]
    # a time limit leaves out exactly the labels beyond it
    limit = float(np.median(secs[np.isfinite(secs)])) if np.isfinite(secs).any() else 1.0
    capped, _, _ = two_label_search(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data,
                                    length, node, src, offset, 3 * offset, n, limit)
    np.testing.assert_array_equal(capped, np.where(secs <= limit, secs, np.inf))


@pytest.mark.parametrize("seed", range(4))
def test_snapping_is_the_exact_nearest_point(seed):
    """The k-d tree of sub-pieces against shapely's distance to every usable street."""
    import shapely

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        start = rng.uniform(0, 2000, 2)
        pts = np.cumsum(np.vstack([start, rng.normal(0, [300, 300], (int(rng.integers(1, 5)), 2))]), axis=0)
        pts[:, 0] += ORIGIN_X
        pts[:, 1] += ORIGIN_Y
        wkt_line = "LINESTRING (" + ", ".join(f"{x} {y}" for x, y in pts) + ")"
        rows.append((f"l{i}", "", "motorway" if i % 7 == 0 else "residential", False, wkt_line))
    graph = build_street_graph(streets_frame(rows))
    x = ORIGIN_X + rng.uniform(-500, 2500, 300)
    y = ORIGIN_Y + rng.uniform(-500, 2500, 300)
    snapped = graph.snap(x, y, profile="walk")
    usable = np.flatnonzero(graph.seg_highway != "motorway")
    lines = graph.segment_geometries(usable)
    points = shapely.points(x, y)
    want = shapely.distance(points[:, None], lines[None, :]).min(axis=1)
    np.testing.assert_allclose(snapped["snap_m"], want, rtol=1e-9, atol=1e-6)
    assert np.isin(snapped["segment"], usable).all()
    seg = snapped["segment"].to_numpy()
    on_line = shapely.line_interpolate_point(graph.segment_geometries(seg), snapped["fraction"], normalized=True)
    np.testing.assert_allclose(shapely.distance(on_line, points), want, rtol=1e-9, atol=1e-6)


def test_max_distance_counts_slow_pushed_stretches():
    """A station 400 m away along a footway: an e-bike pushes there (slowly), and it is within 500 m."""
    graph = build_street_graph(streets_frame([("f", "步道", "footway", False, line((0, 0), (400, 0)))]))
    near = nearest_by_network(graph, stations_at((400, 0)), ORIGIN_X, ORIGIN_Y, k=1, profile="ebike",
                              max_distance_m=500)
    assert near["distance_m"].tolist() == pytest.approx([400])
    assert near["time_min"].tolist() == pytest.approx([400 / 80])


def test_two_pass_search_matches_heapq_reference_on_many_graphs():
    """The two-pass search (nearest, then nearest other source from seeds) against the plain two-label
    Dijkstra and the one-pass compiled search: 300 random directed graphs, sources starting at several nodes
    with offsets, some sharing a node, half with few distinct weights (many ties), with and without a limit."""
    from locator.core.buckets import nearest_two_search
    from locator.core.shortest import two_label_search

    for seed in range(300):
        rng = np.random.default_rng(5000 + seed)
        n = int(rng.integers(2, 80))
        m = int(rng.integers(1, 5 * n))
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        w = rng.choice([0.0, 1.0, 2.0, 2.5], m) if seed % 2 else rng.uniform(0.1, 10, m)
        keep = a != b
        matrix, length = csr_from_edges(a[keep], b[keep], w[keep], 3 * w[keep], n)
        starts = int(rng.integers(1, 10))
        node = rng.integers(0, n, starts)
        src = rng.integers(0, max(1, starts // 2 + 1), starts)
        offset = rng.choice([0.0, 0.5, 3.0], starts)
        arrays = (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data, length, node, src,
                  offset, 3 * offset, n)
        best, adj = _reference_two_labels(matrix, node, src, offset, n)
        for limit in (np.inf, float(rng.uniform(0, 10))):
            d1, m1, s1, d2, m2, s2 = nearest_two_search(*arrays, limit)
            secs, metres, source = np.column_stack([d1, d2]), np.column_stack([m1, m2]), np.column_stack([s1, s2])
            one_secs, one_metres, _ = two_label_search(*arrays, limit)
            np.testing.assert_array_equal(secs, one_secs)
            np.testing.assert_allclose(metres, one_metres, rtol=1e-12)
            for v in range(n):
                want = [d for d, _ in best[v] if d <= limit] + [np.inf] * 2
                assert secs[v].tolist() == pytest.approx(want[:2]), (seed, v)
                assert metres[v].tolist() == pytest.approx([3 * d for d in want[:2]]), (seed, v)
                reached = np.isfinite(secs[v])
                assert (source[v][~reached] == -1).all()
                if reached.all():
                    assert source[v][0] != source[v][1]
                # each label's source really reaches the node that quickly
                for k in np.flatnonzero(reached):
                    assert any(s == source[v][k] and d == pytest.approx(secs[v][k]) for d, s in best[v]) or (
                        _source_time(adj, node, src, offset, int(source[v][k]), v) == pytest.approx(secs[v][k]))


def _source_time(adj: dict, node: np.ndarray, src: np.ndarray, offset: np.ndarray, source: int, target: int,
                 ) -> float:
    """Quickest time from one source (all its starts) to a node (heapq)."""
    heap = [(float(d), int(v)) for v, s, d in zip(node, src, offset, strict=True) if s == source]
    heapq.heapify(heap)
    seen = set()
    while heap:
        d, v = heapq.heappop(heap)
        if v in seen:
            continue
        if v == target:
            return d
        seen.add(v)
        for nxt, weight in adj.get(v, []):
            heapq.heappush(heap, (d + weight, nxt))
    return np.inf


def random_graph(rng: np.random.Generator, n: int, edges: int, *, shortest: float) -> tuple[tuple, tuple]:
    """Random directed edges between n nodes (seconds from ``shortest`` to 2, metres three times that), as the
    search takes them (CSR: indptr, indices, seconds, metres) and turned round."""
    a, b = rng.integers(0, n, edges), rng.integers(0, n, edges)
    w = rng.uniform(shortest, 2.0, edges)
    keep = a != b
    graphs = []
    for x, y in ((a[keep], b[keep]), (b[keep], a[keep])):
        matrix, length = csr_from_edges(x, y, w[keep], 3 * w[keep], n)
        graphs.append((matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data, length))
    return graphs[0], graphs[1]


def test_two_pass_search_with_starts_far_apart_and_a_small_entry_pool():
    """Starting labels spread over far more time than any edge (the bucket window must hold them all); an
    entry pool too small for the work is reported (the callers start again with a larger one); pass 2 shared
    out between two parts (even and odd sources' regions) gives the same labels as in one."""
    from locator.core import buckets
    from locator.core.shortest import two_label_search

    rng = np.random.default_rng(77)
    n = 400
    graph, _ = random_graph(rng, n, 1600, shortest=0.0)
    width, top = buckets.bucket_scale(graph[2])
    node = rng.integers(0, n, 30)
    src = np.arange(30) % 12
    offset = rng.uniform(0, 5000, 30)
    starts = (node, src, offset, 3 * offset)
    for limit in (np.inf, 2500.0):
        labels = buckets.nearest_two_search(*graph, *starts, n, limit)
        secs, metres, _ = two_label_search(*graph, *starts, n, limit)
        np.testing.assert_array_equal(np.column_stack([labels[0], labels[3]]), secs)
        np.testing.assert_allclose(np.column_stack([labels[1], labels[4]]), metres, rtol=1e-12)
        assert not buckets.first_pass(*graph, *starts, n, limit, width, top, 2, False)[-1]  # 2 entries, 30 starts
        d1, m1, s1, d2, m2, s2, far, hi, several, ok = buckets.first_pass(*graph, *starts, n, limit, width, top,
                                                                           100_000, True)
        assert several
        assert ok
        one = np.zeros(12, dtype=np.int8)
        assert not buckets.second_pass(*graph, limit, d1, s1, d2.copy(), m2.copy(), s2.copy(), width, top, far, hi,
                                       one, 0, 2)
        for part in (1, 0):
            assert buckets.second_pass(*graph, limit, d1, s1, d2, m2, s2, width, top, far, hi, np.arange(12) % 2, part,
                                       n + 1)
        for got, want in zip((d1, m1, s1, d2, m2, s2), labels, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_point_without_coordinates_snaps_nowhere(grid):
    snapped = grid.snap(np.array([np.nan, ORIGIN_X]), np.array([ORIGIN_Y, ORIGIN_Y]), profile="walk")
    assert snapped["segment"].tolist()[0] == -1 and np.isinf(snapped["snap_m"].tolist()[0])
    assert snapped["segment"].tolist()[1] >= 0 and snapped["snap_m"].tolist()[1] == pytest.approx(0)


def _core_labels(search: tuple, back: tuple, n: int, starts: tuple) -> tuple[np.ndarray, ...]:
    """The two-label search on the graph's core in two halves, the pruned nodes' labels up and down (as
    _core_search), by node."""
    from locator.core import contract, halves

    con = contract.Contraction.build(search, back, n)
    node, src, secs, metres = starts
    *labels, ok = halves.labels(src, con.number[node], secs, metres, *con.chains, *con.split, 1)
    assert ok
    return tuple(column[con.number] for column in labels)


def test_core_search_in_halves_reports_no_room():
    """With no room for queue entries or labels crossing between the halves the search says so (the caller
    starts again with more); with room it equals the one-thread search, over a border many labels cross."""
    from locator.core import buckets, contract, halves

    rng = np.random.default_rng(78)
    n = 400
    search, back = random_graph(rng, n, 1600, shortest=0.1)
    con = contract.Contraction.build(search, back, n)
    assert 100 < con.half < n  # a core to cut in two
    node, src = rng.integers(0, n, 30), np.arange(30) % 12
    secs = rng.uniform(0, 5, 30)
    assert not halves.labels(src, con.number[node], secs, 3 * secs, *con.chains, *con.split, 0)[-1]
    *got, ok = halves.labels(src, con.number[node], secs, 3 * secs, *con.chains, *con.split, 1)
    assert ok
    want = buckets.nearest_two_search(*search, node, src, secs, 3 * secs, n, np.inf)
    for k in (0, 1, 3, 4):
        np.testing.assert_allclose(got[k][con.number], want[k], rtol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_search_on_the_core_matches_the_whole_graph(seed):
    """Random street-like graphs (a tree with some cross links, edges cut into runs of degree-2 nodes,
    dead ends, a lone cycle, an isolated node, some one-way steps and zero-length ones) and sources anywhere,
    on pruned nodes too: the labels from the core (searched in two halves, labels crossing between them in
    rounds) and the passes up and down equal the whole graph's."""
    from locator.core import buckets

    rng = np.random.default_rng(900 + seed)
    junctions = int(rng.integers(2, 30))
    pairs = [(int(rng.integers(0, v)), v) for v in range(1, junctions)]  # a tree over the junctions
    pairs += [tuple(int(x) for x in rng.integers(0, junctions, 2)) for _ in range(int(rng.integers(0, junctions)))]
    a, b, nxt = [], [], junctions
    for x, y in pairs:
        if x == y:
            continue
        run = [x] + list(range(nxt, nxt + int(rng.integers(0, 4)))) + [y]  # cut into degree-2 steps
        nxt = run[-2] + 1 if len(run) > 2 else nxt
        a += run[:-1]
        b += run[1:]
    cycle = list(range(nxt, nxt + 3))  # a cycle of degree-2 nodes alone, and an isolated node after it
    a, b, n = a + cycle, b + cycle[1:] + cycle[:1], nxt + 4
    a, b = np.array(a), np.array(b)
    zero = seed % 2 == 0  # zero-length steps (ties: metres may then be those of another equally quick way)
    w = np.where((rng.random(len(a)) < 0.1) & zero, 0.0, rng.uniform(0.5, 5, len(a)))
    fwd_ok, bwd_ok = rng.random(len(a)) > 0.1, rng.random(len(a)) > 0.1
    tail, head = np.concatenate([a[fwd_ok], b[bwd_ok]]), np.concatenate([b[fwd_ok], a[bwd_ok]])
    weight = np.concatenate([w[fwd_ok], w[bwd_ok]])
    matrix, length = csr_from_edges(tail, head, weight, 2 * weight + 1, n)
    back_m, back_l = csr_from_edges(head, tail, weight, 2 * weight + 1, n)
    search = (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data, length)
    back = (back_m.indptr.astype(np.int64), back_m.indices.astype(np.int32), back_m.data, back_l)
    count = int(rng.integers(1, 12))
    node = rng.integers(0, n, count)
    src = rng.integers(0, max(1, count - 2), count)
    offset = rng.uniform(0, 3, count)
    starts = (node, src, offset, 3 * offset)
    got = _core_labels(search, back, n, starts)
    want = buckets.nearest_two_search(*search, *starts, n, np.inf)
    for k in (0, 3) if zero else (0, 1, 3, 4):  # seconds, and metres where no two ways are equally quick
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12)
    for s1, s2, d1, d2 in zip(got[2], got[5], got[0], got[3], strict=True):
        assert (s1 >= 0) == np.isfinite(d1) and (s2 >= 0) == np.isfinite(d2)
        assert s2 < 0 or s1 != s2
