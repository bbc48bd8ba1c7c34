"""Benchmark: the full coverage pass against a networkx multi-source Dijkstra baseline, measured in the same run.

Graphs: the real central-Beijing street graph (../shared/data/bj-streets, skipped where absent) and a seeded
generated network (a perturbed grid with some edges removed, some one-way streets and mixed classes) of about
1,000,000 segments (``--segments``). Each gets 2,000 stations (``--stations``) at seeded random points near
the streets.

The *coverage pass* is what a new snapshot or a new hour costs: snapping the stations, both multi-source
searches (nearest and second-nearest distinct station), and the per-segment midpoint distances. The graph
build (per snapshot, not per pass) is timed separately. The *baseline* is networkx's
``multi_source_dijkstra_path_length`` over the same directed edges from the stations' street nodes: nearest
distances only (no second-nearest, no segments, no snapping), so the ratio flatters the baseline.

    .venv/bin/python bench/coverage.py [--segments 1000000] [--stations 2000] [--baseline-max-segments N]

Peak memory is the process's peak RSS (``resource.getrusage``) read right after our pass, before networkx
builds its graph.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from locator.core.coverage import segment_coverage  # noqa: E402
from locator.core.network import StreetGraph, graph_from_arrays, read_bj_streets  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "bj-streets"
CLASSES = np.array(["residential", "tertiary", "secondary", "primary", "service", "footway", "unclassified"])


def generated_graph(segments: int, *, seed: int = 7) -> StreetGraph:
    """A perturbed square grid with ~3% of its edges removed: about ``segments`` segments."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(segments / 2 / 0.97))) + 1
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2)
    xy = ij * 100.0 + rng.normal(0, 15, ij.shape)
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:-1, :].ravel(), node[:, :-1].ravel()])
    v = np.concatenate([node[1:, :].ravel(), node[:, 1:].ravel()])
    keep = rng.random(len(u)) > 0.03
    u, v = u[keep][:segments], v[keep][:segments]
    streets = pd.DataFrame({"id": [f"c{i}" for i in range(len(CLASSES))], "name": [f"路{i}" for i in range(7)],
                            "highway": CLASSES})
    street = rng.choice(len(CLASSES), len(u), p=[0.4, 0.2, 0.1, 0.05, 0.1, 0.1, 0.05])
    return graph_from_arrays(xy, u, v, streets=streets, seg_street=street, seg_oneway=rng.random(len(u)) < 0.1)


def random_stations(graph: StreetGraph, n: int, *, seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    seg = rng.choice(graph.n_segments, n, replace=False)
    t = rng.random(n)[:, None]
    xy = graph.node_xy[graph.seg_u[seg]] * (1 - t) + graph.node_xy[graph.seg_v[seg]] * t
    xy += rng.normal(0, 10, xy.shape)
    return gpd.GeoDataFrame({"id": [f"s{i}" for i in range(n)], "status": "open"},
                            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def ours(graph: StreetGraph, stations: gpd.GeoDataFrame, profile: str) -> tuple[float, float, object]:
    graph.routing(profile)  # per snapshot, built with the graph
    graph._snap_index(graph.routing(profile).profile)
    start = time.perf_counter()
    cov = segment_coverage(graph, stations, profile=profile)
    return time.perf_counter() - start, peak_rss_mb(), cov


def baseline(graph: StreetGraph, cov, profile: str) -> tuple[float, int]:
    import networkx as nx

    routing = graph.routing(profile)
    rev = routing.rev.tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    g.add_weighted_edges_from(zip(rev.row.tolist(), rev.col.tolist(), rev.data.tolist(), strict=True))
    placed = cov.stations["segment"].to_numpy()
    sources = set(graph.seg_u[placed[placed >= 0]].tolist())
    start = time.perf_counter()
    dist = nx.multi_source_dijkstra_path_length(g, sources)
    return time.perf_counter() - start, len(dist)


def run(name: str, graph: StreetGraph, build_s: float, args: argparse.Namespace, rows: list[dict]) -> None:
    stations = random_stations(graph, args.stations)
    for profile in ("walk", "ebike"):
        ours_s, rss_mb, cov = ours(graph, stations, profile)
        row = {"graph": name, "segments": graph.n_segments, "nodes": graph.n_nodes, "profile": profile,
               "build_s": build_s, "pass_s": ours_s, "peak_rss_mb": rss_mb, "networkx_s": np.nan, "ratio": np.nan}
        if graph.n_segments <= args.baseline_max_segments:
            base_s, _ = baseline(graph, cov, profile)
            row["networkx_s"], row["ratio"] = base_s, base_s / ours_s
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--baseline-max-segments", type=int, default=1_100_000,
                        help="skip the networkx baseline on larger graphs")
    parser.add_argument("--extra-sizes", default="100000", help="comma-separated generated sizes also run")
    args = parser.parse_args()
    rows: list[dict] = []
    if SHARED.exists():
        start = time.perf_counter()
        graph = read_bj_streets(SHARED)
        run("bj-streets", graph, time.perf_counter() - start, args, rows)
    else:
        print(f"({SHARED} absent: bj-streets skipped)")
    sizes = [int(s) for s in args.extra_sizes.split(",") if s] + [args.segments]
    for size in sizes:
        start = time.perf_counter()
        graph = generated_graph(size)
        run(f"grid-{size}", graph, time.perf_counter() - start, args, rows)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))
    print("\nratio = networkx nearest-only multi-source Dijkstra time / our full pass time (higher is better);")
    print("goals: ratio >= 20, 1M-segment pass < 10 s and peak RSS < 2048 MB.")


if __name__ == "__main__":
    main()
