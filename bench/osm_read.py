"""Benchmark: reading streets from an .osm.pbf with locator.io.osm against GDAL's OSM driver, same file, same run.

The file is generated (seeded): a perturbed grid of streets around Beijing, ``--ways`` highway ways of
``--nodes-per-way`` nodes sharing their end nodes, with mixed classes and some one-way, access and
motorway tags, plus as many non-highway ways (buildings) so that the filter has something to skip.
Both readers build one LineString per way in WGS-84; the baseline (``pyogrio.read_dataframe(layer="lines")``,
GDAL's OSM driver) applies no keep/drop rules and reads every line, so the ratio flatters it a little.

    .venv/bin/python bench/osm_read.py [--ways 200000] [--nodes-per-way 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from locator.io.osm import read_osm_streets  # noqa: E402

CLASSES = ["residential", "tertiary", "secondary", "primary", "service", "footway", "unclassified", "motorway",
           "trunk", "cycleway"]
WEIGHTS = [0.35, 0.12, 0.08, 0.05, 0.15, 0.12, 0.05, 0.02, 0.03, 0.03]


def write_pbf(path: Path, *, ways: int, nodes_per_way: int, seed: int = 5) -> tuple[int, int]:
    """Write the generated extract; return (nodes, ways) written."""
    import osmium
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    node_count = ways * (nodes_per_way - 1) + 1
    lon = 116.2 + rng.random(node_count) * 0.4
    lat = 39.75 + rng.random(node_count) * 0.35
    order = np.lexsort((lat, np.round(lon, 2)))  # neighbours in a way are near each other
    lon, lat = lon[order], lat[order]
    classes = rng.choice(len(CLASSES), ways, p=WEIGHTS)
    oneway = rng.random(ways) < 0.1
    private = rng.random(ways) < 0.03
    with osmium.SimpleWriter(str(path)) as writer:
        for i in range(node_count):
            writer.add_node(Node(id=i + 1, location=(float(lon[i]), float(lat[i]))))
        step = nodes_per_way - 1
        for w in range(ways):
            refs = list(range(w * step + 1, w * step + nodes_per_way + 1))
            tags = {"highway": CLASSES[classes[w]], "name": f"路{w % 5000}"}
            if oneway[w]:
                tags["oneway"] = "yes" if w % 3 else "-1"
            if private[w]:
                tags["access"] = "private"
            writer.add_way(Way(id=w + 1, nodes=refs, tags=tags))
        for w in range(ways):  # buildings: closed, no highway tag
            start = int(rng.integers(1, node_count - 4))
            writer.add_way(Way(id=ways + w + 1, nodes=[start, start + 1, start + 2, start], tags={"building": "yes"}))
    return node_count, 2 * ways


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=200_000)
    parser.add_argument("--nodes-per-way", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.osm.pbf"
        nodes, all_ways = write_pbf(path, ways=args.ways, nodes_per_way=args.nodes_per_way)
        size_mb = path.stat().st_size / 1e6
        ours_s, ours = best_of(args.repeat, lambda: read_osm_streets(path))

        def gdal():
            import pyogrio

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pyogrio.read_dataframe(path, layer="lines", columns=["osm_id", "name", "highway"])

        try:
            base_s, base = best_of(args.repeat, gdal)
        except Exception as exc:  # GDAL built without its OSM driver
            base_s, base = float("nan"), None
            print(f"baseline unavailable: {exc}")
    print(f"file: {size_mb:.1f} MB .osm.pbf, {nodes:,} nodes, {all_ways:,} ways ({args.ways:,} highway)")
    print(f"{'reader':<34}{'rows':>10}{'best s':>10}{'ways/s':>12}{'ratio':>8}")
    print(f"{'locator.io.osm (rules applied)':<34}{len(ours.frame):>10,}{ours_s:>10.2f}"
          f"{args.ways / ours_s:>12,.0f}{ours_s / base_s:>8.2f}")
    if base is not None:
        print(f"{'GDAL OSM driver (baseline)':<34}{len(base):>10,}{base_s:>10.2f}{args.ways / base_s:>12,.0f}"
              f"{1.0:>8.2f}")
    print(f"dropped: {dict(ours.dropped)}")


if __name__ == "__main__":
    main()
