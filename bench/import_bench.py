"""Import the 20,702 Beijing bus stops (GCJ-02) as stations, against a naive per-row loop measured in the same run.

    .venv/bin/python bench/import_bench.py [--repeat 3]

Reads ../shared/data/bj-bus-stops/beijing_bus_stops_unique.csv (exits with a message where absent) and
writes into temporary GeoPackages. The baseline does what a first version would: iterate the rows, build
one shapely Point per row, convert it and check it one at a time, then ``GeoDataFrame.to_file``. It does
less than the importer (no duplicate detection, no report), so the ratio understates the difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyproj import Transformer
from shapely.geometry import Point

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUS_STOPS = DATA / "bj-bus-stops" / "beijing_bus_stops_unique.csv"
AREA = (115.4, 39.4, 117.6, 41.1)


def locator_import(folder: Path) -> tuple[float, int, int]:
    """Seconds, rows imported and rows rejected for ``import_file`` into a fresh GeoPackage store."""
    from locator.io.importer import import_file
    from locator.store import GeoPackageStore

    store = GeoPackageStore(folder / "locator.gpkg")
    start = time.perf_counter()
    report = import_file(store, "stations", BUS_STOPS, system="gcj02")
    return time.perf_counter() - start, report.rows_imported, report.rows_rejected


def naive_loop(folder: Path) -> tuple[float, int, int]:
    """The same file through a per-row loop: pandas read, one Point and one check per row, to_file."""
    from locator import crs, model

    start = time.perf_counter()
    table = pd.read_csv(BUS_STOPS, encoding="utf-8-sig")
    to_work = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    rows, rejected = [], 0
    for _, row in table.iterrows():
        try:
            lon, lat = float(row["lng_gcj02"]), float(row["lat_gcj02"])
        except (TypeError, ValueError):
            rejected += 1
            continue
        wlon, wlat = (float(v) for v in crs.to_wgs84(lon, lat, "gcj02"))
        if not (AREA[0] <= wlon <= AREA[2] and AREA[1] <= wlat <= AREA[3]) or not str(row["stop_name"]).strip():
            rejected += 1
            continue
        x, y = to_work.transform(wlon, wlat)
        rows.append({"id": str(row["stop_id"]), "name": str(row["stop_name"]), "status": "open",
                     "source": "import", "geometry": Point(x, y)})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:32650")
    frame = model.conform("stations", frame)
    frame.to_crs("EPSG:4326").to_file(folder / "naive.gpkg", layer="stations", driver="GPKG")
    return time.perf_counter() - start, len(frame), rejected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args(argv)
    if not BUS_STOPS.exists():
        print(f"skipped: {BUS_STOPS} is absent (../shared/data is not here)")
        return 0
    total = sum(1 for _ in BUS_STOPS.open(encoding="utf-8-sig")) - 1
    results = {}
    for name, run in (("locator import_file", locator_import), ("naive per-row loop", naive_loop)):
        best = None
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                outcome = run(Path(folder))
            best = outcome if best is None or outcome[0] < best[0] else best
        results[name] = best
    baseline = results["naive per-row loop"][0]
    print(f"{BUS_STOPS.name}: {total:,} rows, --crs gcj02, best of {args.repeat}")
    print(f"{'method':<22} {'seconds':>8} {'rows/s':>9} {'imported':>9} {'rejected':>9} {'vs naive':>9}")
    for name, (seconds, imported, rejected) in results.items():
        print(f"{name:<22} {seconds:>8.2f} {total / seconds:>9,.0f} {imported:>9,} {rejected:>9,} "
              f"{baseline / seconds:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
