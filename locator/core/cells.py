"""Neighbour lists per grid cell: the k-d tree's answer precomputed where queries land, proved per query.

For each square cell near the stations we keep the ``CELL_LIST`` stations nearest to the cell's centre ``c``
and the distance ``R`` of the last of them. Every station closer than ``R`` to ``c`` is in the list, so for a
query point ``q`` in the cell every station closer than ``R - |q - c|`` to ``q`` is in it (triangle
inequality). A query measures its distance to the listed stations and keeps the answer only when everything
it needs -- the k-th passing distance stretched by the candidate margin, or the radius -- lies strictly
inside that sure radius; otherwise the caller asks the tree. So the answer is always the tree's answer; the
lists only make the common case cheaper (a dictionary look-up and a few dozen float operations instead of
a k-d tree call, whose fixed cost dominates a single small query).

Two grids (``LEVELS``). The fine one is sized from the layer's own density: 0.8 times the distance at which a
quarter of the stations have their ``CELL_DENSITY_K``-th neighbour, so in the densest quarter of the layer
the k-th neighbour of a query point usually lies well inside the sure radius; it covers the cells within
one cell of a station. Query points in the gaps between stations, where neighbours are farther, fall in the
coarse grid (four times the side, covering two coarse cells around each station); points farther out still
use the tree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

CELL_LIST = 16  # stations listed per cell: k up to ~8 is usually answered from the list
CELL_DENSITY_K = 5  # the k that sizes the cells (the API's default k)
LEVELS = ((1.0, 1), (4.0, 2))  # (side in fine cells, cells around each station that get lists)
MAX_CELLS = 250_000  # per grid, about 16 MB of lists; beyond it cells grow until they fit
# Tolerance between cKDTree's and math.hypot's rounding of the same distance (metres).
_EPS_M = 1e-6


@dataclass(frozen=True)
class CellLists:
    x0: float
    y0: float
    size: float  # cell side in work-CRS metres
    ny: int  # cells along y: key = ix * ny + iy
    rows: dict[int, int]  # cell key -> row of ``lists``
    lists: np.ndarray  # (cells, CELL_LIST) station positions, nearest to the cell's centre first
    radius: list[float]  # per row: every station closer than this to the centre is listed

    def __len__(self) -> int:
        return len(self.rows)


def build_levels(x: np.ndarray, y: np.ndarray, tree: cKDTree, *, m: int = CELL_LIST) -> tuple[CellLists, ...]:
    """The grids of ``LEVELS`` for the points, finest first; none for layers too small to need them."""
    if len(x) <= max(m, CELL_DENSITY_K + 1):
        return ()
    kth, _ = tree.query(np.column_stack([x, y]), k=CELL_DENSITY_K + 1)  # column 0 is the point itself
    fine = max(0.8 * float(np.percentile(kth[:, CELL_DENSITY_K], 25)), 1.0)
    return tuple(build_cells(x, y, tree, size=fine * factor, reach=reach, m=m) for factor, reach in LEVELS)


def build_cells(x: np.ndarray, y: np.ndarray, tree: cKDTree, *, size: float, reach: int,
                m: int = CELL_LIST) -> CellLists:
    """Neighbour lists for the cells within ``reach`` cells of a point (``size`` grows past MAX_CELLS)."""
    around = range(-reach, reach + 1)
    while True:
        x0, y0 = float(x.min()) - reach * size, float(y.min()) - reach * size  # keys stay >= 0
        ix = np.floor((x - x0) / size).astype(np.int64)
        iy = np.floor((y - y0) / size).astype(np.int64)
        ny = int(iy.max()) + reach + 1
        keys = np.unique(np.concatenate([(ix + dx) * ny + (iy + dy) for dx in around for dy in around]))
        if len(keys) <= MAX_CELLS:
            break
        size *= 1.5
    cx = x0 + (keys // ny + 0.5) * size
    cy = y0 + (keys % ny + 0.5) * size
    dist, pos = tree.query(np.column_stack([cx, cy]), k=m)
    return CellLists(x0=x0, y0=y0, size=size, ny=ny, rows=dict(zip(keys.tolist(), range(len(keys)), strict=True)),
                     lists=pos.astype(np.int32), radius=dist[:, m - 1].tolist())


def level_candidates(levels: tuple[CellLists, ...], xs: list[float], ys: list[float], x: float, y: float, *,
                     k: int, bound_r: float, stretch: float, passes: bytes | None) -> list[int] | None:
    """``cell_candidates`` from the finest grid whose cell holds the point and proves the answer, or None."""
    for cells in levels:
        found = cell_candidates(cells, xs, ys, x, y, k=k, bound_r=bound_r, stretch=stretch, passes=passes)
        if found is not None:
            return found
    return None


def cell_candidates(cells: CellLists, xs: list[float], ys: list[float], x: float, y: float, *, k: int,
                    bound_r: float, stretch: float, passes: bytes | None) -> list[int] | None:
    """Candidate positions as ``nearest._candidates`` defines them, or None when the cell's list can't prove
    them (the caller then asks the tree).

    ``bound_r`` caps the work-CRS distance (``inf`` for none); ``stretch`` is the candidate margin over the
    k-th passing distance; ``passes`` the mask as bytes, non-zero where a station passes (None: all pass).
    """
    fx, fy = (x - cells.x0) / cells.size, (y - cells.y0) / cells.size
    if not (fx >= 0.0 and 0.0 <= fy < cells.ny):  # also False for NaN
        return None
    ix, iy = int(fx), int(fy)
    row = cells.rows.get(ix * cells.ny + iy)
    if row is None:
        return None
    half = 0.5 * cells.size
    sure = cells.radius[row] - math.hypot(x - (cells.x0 + ix * cells.size + half),
                                          y - (cells.y0 + iy * cells.size + half)) - _EPS_M
    hypot = math.hypot
    kept = []
    for pos in cells.lists[row].tolist():
        if passes is None or passes[pos]:
            d = hypot(xs[pos] - x, ys[pos] - y)
            if d <= bound_r:
                kept.append((d, pos))
    if len(kept) >= k:
        kept.sort()
        bound = min(kept[k - 1][0] * stretch + 1e-6, bound_r)
        return [pos for d, pos in kept if d <= bound] if bound < sure else None
    return [pos for _, pos in kept] if bound_r < sure else None
