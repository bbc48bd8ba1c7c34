"""Build the embedded default dataset ``data/locator.gpkg`` from the CSV files in ``data/sources``.

    .venv/bin/python scripts/build_default_data.py [--out PATH]

Same sources, same layers: every random choice comes from a generator seeded with ``SEED``, and
``OGR_CURRENT_DATE`` pins GDAL's timestamps. What the sources hold and how each public-report
station was placed is written up in ``data/README.md``.

Everything invented (``source="demo"``) is generated here in the metric work CRS around the two focus
subdistricts named in ``areas.csv``: approximate subdistrict outlines (Voronoi cells of the centre
points), an irregular street grid whose segments meet at shared vertices, demo stations along it,
and former testing booths, some converted into those stations.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from locator import crs, model
from locator.store import GeoPackageStore

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
DEFAULT_OUT = ROOT / "data" / "locator.gpkg"
WORK_CRS = "EPSG:32650"
SEED = 20221201
GDAL_DATE = "2026-11-24T00:00:00Z"
DEMO_CHECKED_FROM = date(2026, 6, 1)  # demo verified_at dates fall in the 170 days after this

BOOTH_STATUSES = ("candidate", "candidate", "planned", "removed", "candidate", "planned", "removed",
                  "candidate", "candidate", "removed")
_DIGITS = "零一二三四五六七八九"


def read_source(name: str) -> pd.DataFrame:
    """A source CSV as text: no NaN, no guessed dtypes (codes keep their digits)."""
    return pd.read_csv(SOURCES / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8")


def to_work_points(frame: pd.DataFrame) -> gpd.GeoSeries:
    """Points from ``lon``/``lat`` columns, each row converted from the system its ``crs`` column names."""
    x = np.empty(len(frame))
    y = np.empty(len(frame))
    for system, rows in frame.groupby("crs").groups.items():
        pos = frame.index.get_indexer(rows)
        lon = frame.loc[rows, "lon"].astype(float).to_numpy()
        lat = frame.loc[rows, "lat"].astype(float).to_numpy()
        x[pos], y[pos] = crs.lonlat_to_work_xy(lon, lat, system=crs.parse_coord_system(system), work=WORK_CRS)
    return gpd.GeoSeries(shapely.points(x, y), index=frame.index, crs=WORK_CRS)


def chinese_number(n: int) -> str:
    """1..99 in Chinese numerals, as street names count: 一, 十, 十二, 二十三."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "十" if tens == 1 else _DIGITS[tens] + "十"
    return head + (_DIGITS[ones] if ones else "")


# --- subdistricts --------------------------------------------------------------------------------

def build_subdistricts(area: pd.Series, subs: pd.DataFrame, reported: gpd.GeoSeries,
                       ) -> tuple[gpd.GeoDataFrame, Polygon]:
    """Approximate outlines: Voronoi cells of the centre points, within ``extent_m`` of the centres.

    The public-report stations are extra seeds of the focus subdistrict: the reports place them in it,
    and a 2016 centre point is too rough to argue with that. Each cell holds its own seed, so they fall
    inside the focus outline, at least half-way to the nearest other subdistrict's centre from its edge.
    """
    centres = to_work_points(subs)
    focus_at = subs.index[subs["code"] == area["code"]][0]
    seeds = list(centres.items()) + [(focus_at, p) for p in reported]
    frame = MultiPoint([p for _, p in seeds]).convex_hull.buffer(float(area["extent_m"]))
    cells = shapely.voronoi_polygons(MultiPoint([p for _, p in seeds]), extend_to=frame).geoms
    owned: dict[int, list[Polygon]] = {i: [] for i in subs.index}
    for owner, point in seeds:
        owned[owner].append(next(c for c in cells if c.contains(point)))
    polygons = [shapely.set_precision(shapely.union_all(owned[i]).intersection(frame), 0.1) for i in subs.index]
    layer = gpd.GeoDataFrame(
        {"code": subs["code"], "name": subs["name"], "district": subs["district"],
         "approximate": True, "source": "demo"},
        geometry=polygons, crs=WORK_CRS)
    return layer, layer.geometry[focus_at]


# --- streets -------------------------------------------------------------------------------------

def build_streets(area: pd.Series, focus: Polygon, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """An irregular, slightly rotated grid of named streets over the focus subdistrict.

    Each block edge is one LineString (with a bent middle vertex) from node to node, so streets meet at
    shared vertices and the network routes. A few edges are dropped, footways cut some blocks
    diagonally, service spurs end in dead ends; only the largest connected piece is kept.
    """
    spacing = float(area["street_spacing_m"])
    label = area["label"]
    centre = focus.centroid
    minx, miny, maxx, maxy = focus.bounds
    reach = 0.75 * max(maxx - minx, maxy - miny) + spacing
    # Uneven block sizes: cumulative gaps of 0.7-1.3 spacings either way from the centre.
    axes = []
    for _ in range(2):
        steps = np.cumsum(rng.uniform(0.7, 1.3, size=int(reach / spacing) + 2) * spacing)
        axes.append(np.concatenate([-steps[::-1], [0.0], steps]))
    u, v = np.meshgrid(axes[0], axes[1], indexing="ij")
    u = u + rng.uniform(-0.12, 0.12, u.shape) * spacing
    v = v + rng.uniform(-0.12, 0.12, v.shape) * spacing
    angle = np.radians(rng.uniform(-9.0, 9.0))
    x = centre.x + u * np.cos(angle) - v * np.sin(angle)
    y = centre.y + u * np.sin(angle) + v * np.cos(angle)
    inside = shapely.contains_xy(focus.buffer(0.6 * spacing), x, y)
    ni, nj = u.shape
    node = np.arange(ni * nj).reshape(ni, nj)  # node[i, j] numbers the grid nodes in x.ravel() order

    # Street lines: j indexes east-west streets (街), i north-south ones (路); class by position.
    def line_class(k: int, n: int) -> str:
        if k == n // 2:
            return "primary"
        return "secondary" if k % 4 == 0 else ("tertiary" if k % 2 == 0 else "residential")

    ew_lines = [j for j in range(nj) if inside[:, j].sum() >= 2]
    ns_lines = [i for i in range(ni) if inside[i, :].sum() >= 2]
    streets: dict[tuple[str, int], tuple[str, str]] = {}
    for kind, lines, suffix in (("ew", ew_lines, "街"), ("ns", ns_lines, "路")):
        for k, line in enumerate(lines, start=1):
            streets[(kind, line)] = (f"示例{label}{chinese_number(k)}{suffix}", line_class(k, len(lines)))
    residential = sorted(key for key, (_, cls) in streets.items() if cls == "residential")
    oneway = {residential[int(i)] for i in rng.choice(len(residential), size=2, replace=False)}

    edges: list[tuple[int, int, str, str, bool]] = []
    for (kind, line), (name, cls) in sorted(streets.items()):
        for a, b in _steps(kind, line, ni, nj):
            if not (inside[a] and inside[b]):
                continue
            if cls == "residential" and rng.random() < 0.07:
                continue  # a missing block edge: grids in the outskirts are never complete
            edges.append((node[a], node[b], name, cls, (kind, line) in oneway))
    for i in range(ni - 1):
        for j in range(nj - 1):
            if inside[i, j] and inside[i + 1, j + 1] and rng.random() < 0.06:
                edges.append((node[i, j], node[i + 1, j + 1], "", "footway", False))

    xs, ys = list(x.ravel()), list(y.ravel())
    for i in range(ni):
        for j in range(nj):
            if inside[i, j] and rng.random() < 0.04:
                # Spurs run up-left into a block, across from any footway's diagonal, well short of its centre.
                heading = angle + np.radians(135.0 + rng.uniform(-12.0, 12.0))
                length = rng.uniform(0.25, 0.35) * spacing
                xs.append(x[i, j] + length * np.cos(heading))
                ys.append(y[i, j] + length * np.sin(heading))
                edges.append((node[i, j], len(xs) - 1, "", "service", False))

    edges = _largest_component(edges, len(xs))
    geometry, bend = [], rng.uniform(-0.03, 0.03, size=len(edges)) * spacing
    for (a, b, *_), offset in zip(edges, bend, strict=True):
        (ax, ay), (bx, by) = (xs[a], ys[a]), (xs[b], ys[b])
        length = np.hypot(bx - ax, by - ay)
        mx, my = (ax + bx) / 2 - offset * (by - ay) / length, (ay + by) / 2 + offset * (bx - ax) / length
        geometry.append(LineString(np.round([(ax, ay), (mx, my), (bx, by)], 2)))
    return gpd.GeoDataFrame(
        {"id": [f"demo-{area['area']}-w{n:04d}" for n in range(1, len(edges) + 1)],
         "name": [e[2] for e in edges], "highway": [e[3] for e in edges],
         "oneway": [e[4] for e in edges], "source": "demo"},
        geometry=geometry, crs=WORK_CRS)


def _steps(kind: str, line: int, ni: int, nj: int):
    """Consecutive node pairs along one street line, always drawn in the same direction (for oneway)."""
    if kind == "ew":
        return [((i, line), (i + 1, line)) for i in range(ni - 1)]
    return [((line, j), (line, j + 1)) for j in range(nj - 1)]


def _largest_component(edges: list[tuple], n_nodes: int) -> list[tuple]:
    a = np.array([e[0] for e in edges])
    b = np.array([e[1] for e in edges])
    graph = coo_matrix((np.ones(len(edges)), (a, b)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    biggest = np.bincount(labels[a]).argmax()
    return [e for e, keep in zip(edges, labels[a] == biggest, strict=True) if keep]


# --- demo stations and booths --------------------------------------------------------------------

def _street_spots(streets: gpd.GeoDataFrame, rng: np.random.Generator) -> list[tuple[Point, str]]:
    """Points 12-30 m beside the middle of named street segments, in random order, with the street name."""
    named = streets[streets["name"] != ""]
    spots = []
    for line, name in zip(named.geometry, named["name"], strict=True):
        (ax, ay), (mx, my), (bx, by) = line.coords
        length = np.hypot(bx - ax, by - ay)
        side = rng.choice([-1.0, 1.0]) * rng.uniform(12.0, 30.0)
        spots.append((Point(round(mx - side * (by - ay) / length, 2), round(my + side * (bx - ax) / length, 2)),
                      name))
    order = rng.permutation(len(spots))
    return [spots[i] for i in order]


def _take(spots: list[tuple[Point, str]], focus: Polygon, taken: list[Point], min_gap_m: float,
          ) -> tuple[Point, str]:
    """The next spot inside the focus subdistrict and at least ``min_gap_m`` from every point taken."""
    while spots:
        point, name = spots.pop()
        if focus.contains(point) and all(point.distance(t) >= min_gap_m for t in taken):
            taken.append(point)
            return point, name
    raise RuntimeError("the focus subdistrict has no room left: lower the gap or the count")


def build_demo(area: pd.Series, focus: Polygon, streets: gpd.GeoDataFrame, templates: pd.DataFrame,
               rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Demo stations from the templates, placed along the streets; booths, some converted into them."""
    spots = _street_spots(streets, rng)
    where = f"{area['district']}{area['name']}"
    taken: list[Point] = []
    stations, booths = [], []
    for n, row in enumerate(templates.itertuples(index=False), start=1):
        point, street = _take(spots, focus, taken, 350.0)
        station_id = f"demo-{area['area']}-s{n:02d}"
        booth_id = f"demo-{area['area']}-b{len(booths) + 1:02d}" if row.from_booth == "yes" else ""
        address = f"{where}{street}{rng.integers(1, 300)}号（示例地址）"
        checked = "" if row.status == "planned" else str(DEMO_CHECKED_FROM + timedelta(int(rng.integers(170))))
        stations.append({
            "id": station_id, "name": row.name.format(street=street), "address": address,
            "district": area["district"], "subdistrict": area["code"], "operator": row.operator,
            "amenities": row.amenities, "opening_hours": row.opening_hours,
            "opening_hours_raw": row.opening_hours_raw, "status": row.status,
            "converted_from_booth": booth_id, "source": "demo", "verified_at": checked, "geometry": point})
        if booth_id:
            booths.append({"id": booth_id, "address": address, "status": "converted", "station_id": station_id,
                           "notes": "2022年核酸采样亭，已改造为驿站（示例）", "geometry": point})
    for status in BOOTH_STATUSES[: int(area["booths"]) - len(booths)]:
        point, street = _take(spots, focus, taken, 200.0)
        notes = {"candidate": "闲置核酸采样亭，可改造（示例）", "planned": "已列入改造计划（示例）",
                 "removed": "采样亭已拆除（示例）"}[status]
        booths.append({"id": f"demo-{area['area']}-b{len(booths) + 1:02d}",
                       "address": f"{where}{street}{rng.integers(1, 300)}号旁（示例地址）", "status": status,
                       "station_id": "", "notes": notes, "geometry": point})
    for booth in booths:
        booth.update(district=area["district"], subdistrict=area["code"], source="demo")
    return (gpd.GeoDataFrame(stations, geometry="geometry", crs=WORK_CRS),
            gpd.GeoDataFrame(booths, geometry="geometry", crs=WORK_CRS))


# --- the whole dataset ---------------------------------------------------------------------------

def build_layers() -> dict[str, gpd.GeoDataFrame]:
    """All four layers, conformed to the model, in the work CRS."""
    areas = read_source("areas")
    subs = read_source("subdistricts")
    reported = read_source("stations_public_report")
    templates = read_source("demo_stations")

    reported_points = to_work_points(reported)
    public = gpd.GeoDataFrame(reported.drop(columns=["lon", "lat", "crs", "precision_m", "placement"]),
                              geometry=reported_points, crs=WORK_CRS)
    public["id"] = [model.stable_id("st", r.name, r.address) for r in public.itertuples()]
    public["source"] = "public-report"
    parts: dict[str, list[gpd.GeoDataFrame]] = {name: [] for name in model.LAYERS}
    parts["stations"].append(public)

    for index, area in areas.iterrows():
        rng = np.random.default_rng([SEED, index])
        focus_row = subs[subs["code"] == area["focus_code"]].iloc[0]
        area = pd.concat([area, focus_row[["code", "name"]]])  # the area now knows its focus by name
        in_area = subs[subs["area"] == area["area"]].reset_index(drop=True)
        mine = reported_points[(reported["subdistrict"] == area["code"]).to_numpy()]
        subdistricts, focus = build_subdistricts(area, in_area, mine)
        streets = build_streets(area, focus, rng)
        stations, booths = build_demo(area, focus, streets, templates[templates["area"] == area["area"]], rng)
        for name, frame in (("subdistricts", subdistricts), ("streets", streets), ("stations", stations),
                            ("booths", booths)):
            parts[name].append(frame)

    layers = {}
    for name, frames in parts.items():
        layers[name] = model.conform(name, pd.concat(frames, ignore_index=True))
        problems = model.validate(name, layers[name])
        if problems:
            raise ValueError(f"{name}: " + "; ".join(str(p) for p in problems[:5]))
    return layers


def build(out: Path) -> dict[str, int]:
    """Write a fresh GeoPackage at ``out`` (replaced atomically) and return the layer counts."""
    os.environ.setdefault("OGR_CURRENT_DATE", GDAL_DATE)
    layers = build_layers()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build in a scratch folder so the store starts from nothing (data version 1) and leaves no lock file.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as scratch:
        fresh = Path(scratch) / out.name
        GeoPackageStore(fresh, work_crs=WORK_CRS).write(layers)
        os.replace(fresh, out)
    return {name: len(frame) for name, frame in layers.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    counts = build(args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {name}" for name, n in counts.items()))


if __name__ == "__main__":
    main()
