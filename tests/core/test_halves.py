"""The coverage pass on two threads (locator.core.halves): TBB loaded, two request threads at once, a forked
worker, and the pass against one search per station on a street-like network."""

from __future__ import annotations

import os
import threading
import warnings

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import pytest

from locator.core import parallel
from locator.core.coverage import segment_coverage
from locator.core.network import graph_from_arrays

COLUMNS = ["distance_m", "time_min", "second_distance_m", "second_time_min", "station_id", "second_station_id"]


def street_grid(side: int, seed: int):  # noqa: ANN201
    """A perturbed side x side grid with some streets missing, some one-way, mixed classes."""
    rng = np.random.default_rng(seed)
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2)
    xy = ij * 100.0 + rng.normal(0, 15, ij.shape)
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:-1, :].ravel(), node[:, :-1].ravel()])
    v = np.concatenate([node[1:, :].ravel(), node[:, 1:].ravel()])
    keep = rng.random(len(u)) > 0.1
    u, v = u[keep], v[keep]
    classes = np.array(["residential", "primary", "footway", "service"])
    streets = pd.DataFrame({"id": [f"c{i}" for i in range(4)], "name": [f"路{i}" for i in range(4)],
                            "highway": classes})
    return graph_from_arrays(xy, u, v, streets=streets, seg_street=rng.integers(0, 4, len(u)),
                             seg_oneway=rng.random(len(u)) < 0.15)


def stations_on(graph, count: int, seed: int) -> gpd.GeoDataFrame:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    seg = rng.choice(graph.n_segments, count, replace=False)
    t = rng.random(count)[:, None]
    xy = graph.node_xy[graph.seg_u[seg]] * (1 - t) + graph.node_xy[graph.seg_v[seg]] * t + rng.normal(0, 5, (count, 2))
    return gpd.GeoDataFrame({"id": [f"s{i}" for i in range(count)], "status": "open"},
                            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]))


@pytest.fixture(scope="module")
def network():  # noqa: ANN201
    graph = street_grid(40, seed=3)
    return graph, stations_on(graph, 300, seed=4)  # (>= 256 stations: snapped in two halves too)


def table(graph, stations, profile: str = "ebike") -> pd.DataFrame:  # noqa: ANN001
    return segment_coverage(graph, stations, profile=profile).segments[COLUMNS]


@pytest.mark.skipif(not parallel.TBB or "NUMBA_THREADING_LAYER" in os.environ,
                    reason="the tbb wheel is for Linux on x86-64; or another layer was asked for")
def test_the_tbb_layer_runs_the_pass(network):
    table(*network)
    assert numba.threading_layer() == "tbb"


def test_two_threads_at_once_get_the_tables_of_one(network):
    want = table(*network)
    got, failed = [], []

    def run() -> None:
        try:
            got.extend(table(*network) for _ in range(5))
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failed and len(got) == 10
    for one in got:
        pd.testing.assert_frame_equal(one, want)


def test_a_forked_worker_runs_the_pass(network):
    """As gunicorn forks its workers from a process that may already have run the pass."""
    want = table(*network)
    read, write = os.pipe()
    with warnings.catch_warnings():  # (Python 3.12 warns of forking a process with threads, as gunicorn does)
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            same = table(*network).equals(want)
            os.write(write, b"same" if same else b"different")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    answer = os.read(read, 64)
    os.close(read)
    assert os.WIFEXITED(status) and answer == b"same"


@pytest.mark.parametrize("profile", ["walk", "ebike"])
def test_each_segment_against_a_search_per_station(network, profile):
    """Exact: a segment's nearest and second-nearest times equal the two least of one single-station pass
    per station (each its own search, nothing shared between threads)."""
    graph, stations = network
    chosen = stations.iloc[:40]
    cov = segment_coverage(graph, chosen, profile=profile).segments
    single = np.column_stack([segment_coverage(graph, chosen.iloc[[i]], profile=profile).segments["time_min"]
                              for i in range(len(chosen))])
    two = np.sort(single, axis=1)[:, :2]
    np.testing.assert_allclose(cov["time_min"], two[:, 0], rtol=1e-12)
    np.testing.assert_allclose(cov["second_time_min"], two[:, 1], rtol=1e-12)


@pytest.mark.skipif("NUMBA_CACHE_DIR" in os.environ, reason="the cache folder was asked for")
def test_compiled_kernels_are_kept_by_a_digest_of_every_kernel_file(tmp_path):
    """A kernel's cache holds the code of the kernels it calls from other files, which numba does not check:
    a change to any kernel file must make a new cache folder."""
    import shutil
    from pathlib import Path

    from locator.core import shortest

    here = Path(shortest.__file__).parent
    assert Path(numba.config.CACHE_DIR).name == f"numba-{shortest.kernel_digest(here)}"
    for name in ("shortest.py", "buckets.py", "contract.py", "snapgrid.py", "halves.py"):
        shutil.copy(here / name, tmp_path / name)
    before = shortest.kernel_digest(tmp_path)
    with (tmp_path / "buckets.py").open("a") as callee:  # a callee's file alone, as a deploy may change it
        callee.write("\n# changed\n")
    assert shortest.kernel_digest(tmp_path) != before
