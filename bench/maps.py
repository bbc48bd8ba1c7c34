"""How heavy the street-coverage map is, beside a naive folium.GeoJson of the same segments, in one run.

For 10,000 and 100,000 street segments (a seeded, jittered street grid around Beijing with distances to random
stations and their bands) it reports: HTML bytes (raw and gzip), server build time, and time until the map is
drawn in headless Chromium (navigation start -> load -> two animation frames, so the canvas has painted).
Goals at 100,000 segments: <= 5 MB sent (gzip allowed), drawn within 2 s; the naive map sends ~36 MB.

Then the page itself: ``GET /map?layers=streets,stations`` through the app (test client) over a GeoPackage holding
those streets, first request (builds the folium map; the snapshot and its coverage are loaded beforehand) against a
repeated one (answered from the snapshot's page cache), as a ratio.

    .venv/bin/python bench/maps.py            # 10k and 100k
    .venv/bin/python bench/maps.py --sizes 10000
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely

from locator.crs import from_work
from locator.maps.assets import write_html
from locator.maps.coverage import BAND_COLOURS, UNREACHABLE_COLOUR, band_of, streets_map

# Running ``python bench/maps.py`` puts bench/ first on sys.path, where bench/coverage.py would shadow the
# ``coverage`` package that numba (under the coverage core) imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ORIGIN = (450_000.0, 4_420_000.0)
CHROMIUM = "/usr/bin/chromium"


def generate(n_segments: int, *, seed: int = 5) -> gpd.GeoDataFrame:
    """A jittered grid of streets 120 m apart cut into block-long segments, with distances to random stations."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_segments / 2))) + 1
    step = 120.0
    xs = ORIGIN[0] + np.arange(side) * step
    ys = ORIGIN[1] + np.arange(side) * step
    jx = rng.normal(0, 8, (side, side))
    jy = rng.normal(0, 8, (side, side))
    px, py = xs[None, :] + jx, ys[:, None] + jy  # node (row i, col j)
    starts, ends, names = [], [], []
    for i in range(side):
        for j in range(side - 1):
            starts.append((px[i, j], py[i, j])), ends.append((px[i, j + 1], py[i, j + 1])), names.append(f"东西{i}街")
    for j in range(side):
        for i in range(side - 1):
            starts.append((px[i, j], py[i, j])), ends.append((px[i + 1, j], py[i + 1, j])), names.append(f"南北{j}路")
    starts, ends = np.array(starts[:n_segments]), np.array(ends[:n_segments])
    mid = (starts + ends) / 2
    stations = np.column_stack([rng.uniform(xs[0], xs[-1], max(3, n_segments // 2000)),
                                rng.uniform(ys[0], ys[-1], max(3, n_segments // 2000))])
    from scipy.spatial import cKDTree

    distance = cKDTree(stations).query(mid)[0] * 1.3  # a network detour factor
    distance[rng.random(len(distance)) < 0.01] = np.inf
    lines = shapely.linestrings(np.stack([starts, ends], axis=1))
    return gpd.GeoDataFrame({"name": names[:n_segments], "highway": "residential", "distance_m": distance,
                             "band": band_of(distance)}, geometry=lines, crs="EPSG:32650")


def naive_map(segments: gpd.GeoDataFrame) -> folium.Map:
    """What one would write first: every segment a GeoJSON feature with a style function and a tooltip."""
    colours = [*BAND_COLOURS, UNREACHABLE_COLOUR]
    drawn = from_work(segments)
    drawn["distance_m"] = drawn["distance_m"].replace(np.inf, -1)
    m = folium.Map(tiles=None, prefer_canvas=True)
    folium.GeoJson(drawn, style_function=lambda f: {"color": colours[f["properties"]["band"]], "weight": 3},
                   tooltip=folium.GeoJsonTooltip(["name", "distance_m"])).add_to(m)
    m.fit_bounds([[drawn.total_bounds[1], drawn.total_bounds[0]], [drawn.total_bounds[3], drawn.total_bounds[2]]])
    return m


def draw_time_s(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=600_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    elapsed = time.perf_counter() - start
    errors = page.evaluate("() => document.querySelectorAll('canvas').length")
    page.close()
    if not errors:
        msg = f"{path.name}: nothing was drawn (no canvas)"
        raise RuntimeError(msg)
    return elapsed


def measure(n: int, out: Path, browser) -> list[dict[str, object]]:
    segments = generate(n)
    rows = []
    for label, build in (("naive GeoJson", lambda: naive_map(segments)), ("locator", lambda: streets_map(segments))):
        t0 = time.perf_counter()
        m = build()
        path = write_html(m, out / f"{label.split()[0]}-{n}.html")
        build_s = time.perf_counter() - t0
        raw = path.read_bytes()
        rows.append({"segments": n, "map": label, "raw_mb": len(raw) / 1e6,
                     "gzip_mb": len(gzip.compress(raw, compresslevel=6)) / 1e6, "build_s": build_s,
                     "draw_s": draw_time_s(browser, path) if browser else float("nan")})
    return rows


def page_times(n: int, out: Path) -> dict[str, float]:
    """First and repeated GET /map over a store with ``n`` street segments (the snapshot warmed first)."""
    from locator.store import GeoPackageStore
    from locator.web import create_app

    segments = generate(n)
    streets = gpd.GeoDataFrame({"id": [f"w{i}" for i in range(n)], "name": segments["name"],
                                "highway": "residential"}, geometry=segments.geometry, crs=segments.crs)
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = segments.total_bounds
    k = max(3, n // 2000)
    stations = gpd.GeoDataFrame({"id": [f"s{i}" for i in range(k)], "name": [f"站{i}" for i in range(k)],
                                 "status": "open"},
                                geometry=gpd.points_from_xy(rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)),
                                crs=segments.crs)
    path = out / f"page-{n}.gpkg"
    GeoPackageStore(path).write({"streets": streets, "stations": stations})
    app = create_app({"STORE": str(path), "TILES": "none", "RATE_LIMIT": "0", "LOG_FORMAT": "text"})
    client = app.test_client()
    with app.app_context():
        from locator.web import data_state

        data_state().current()
    url = "/map?layers=streets,stations"
    client.get("/map?layers=stations")  # first-request costs that are not the street map's (templates, imports)
    t0 = time.perf_counter()
    first = client.get(url)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    repeat = client.get(url)
    repeat_s = time.perf_counter() - t0
    if first.status_code != 200 or repeat.get_data() != first.get_data():
        msg = f"/map at {n} segments: {first.status_code}, repeat differs"
        raise RuntimeError(msg)
    return {"segments": n, "first_s": first_s, "repeat_s": repeat_s, "mb": len(first.get_data()) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print("load average before: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.no_browser:
            for n in args.sizes:
                rows += measure(n, Path(tmp), None)
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
                for n in args.sizes:
                    rows += measure(n, Path(tmp), browser)
                browser.close()
    print(f"{'segments':>9} {'map':<14} {'HTML MB':>8} {'gzip MB':>8} {'build s':>8} {'drawn s':>8} "
          f"{'size vs naive':>14} {'draw vs naive':>14}")
    for row in rows:
        base = next(r for r in rows if r["segments"] == row["segments"] and r["map"].startswith("naive"))
        print(f"{row['segments']:>9} {row['map']:<14} {row['raw_mb']:>8.2f} {row['gzip_mb']:>8.2f} "
              f"{row['build_s']:>8.2f} {row['draw_s']:>8.2f} {row['raw_mb'] / base['raw_mb']:>13.3f}x "
              f"{row['draw_s'] / base['draw_s']:>13.3f}x")
    with tempfile.TemporaryDirectory() as tmp:
        pages = [page_times(n, Path(tmp)) for n in args.sizes]
    print()
    print(f"{'segments':>9} {'/map MB':>8} {'first s':>8} {'repeat s':>9} {'repeat vs first':>16}")
    for row in pages:
        print(f"{row['segments']:>9} {row['mb']:>8.2f} {row['first_s']:>8.3f} {row['repeat_s']:>9.4f} "
              f"{row['repeat_s'] / row['first_s']:>15.4f}x")
    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
