"""Compiled kernels of the snapping index (:class:`locator.core.network.SnapIndex`): straight pieces of street
bucketed in a uniform grid of square cells, and the exact nearest piece to each of many points.

A piece is listed in every cell it passes through, with its end points alongside (one cell's pieces are one
run of memory, which is what a query reads). A query visits rings of cells around its point, nearest first,
and skips a cell farther than the best piece found so far; the nearest point of any piece lies in a cell the
piece passes through, so a skipped cell holds nothing nearer and the answer is exact.
"""

from __future__ import annotations

import numpy as np

from locator.core.shortest import _jit

_INF = np.inf


@_jit
def _near_cell(ax, ay, bx, by, cx, cy, reach):  # noqa: ANN001, ANN202
    """Whether the piece a -> b comes within ``reach`` of (cx, cy)."""
    dx, dy = bx - ax, by - ay
    span = dx * dx + dy * dy
    t = 0.0
    if span > 0:
        t = min(1.0, max(0.0, ((cx - ax) * dx + (cy - ay) * dy) / span))
    ex, ey = ax + t * dx - cx, ay + t * dy - cy
    return ex * ex + ey * ey <= reach * reach


@_jit
def grid_cells(ax, ay, bx, by, x0, y0, cell_m, nx, ny):  # noqa: ANN001, ANN201
    """Bucket every piece into each cell it passes through (each cell of its bounding box whose centre is
    within half a cell diagonal of it, a little more for rounding): CSR cell start, the pieces' end points
    (``item_xy``: ax, ay, bx, by per item) and the piece of each item."""
    reach = cell_m * (0.5 * np.sqrt(2.0) + 1e-6)
    start = np.zeros(nx * ny + 1, dtype=np.int64)
    fill = np.zeros(nx * ny, dtype=np.int64)  # the first sweep counts each cell's items; the second fills them in
    item_xy, item_piece = np.empty((0, 4)), np.empty(0, dtype=np.int32)
    for sweep in range(2):
        if sweep:
            start[1:] = np.cumsum(fill)
            fill = start[:-1].copy()
            item_xy, item_piece = np.empty((start[-1], 4)), np.empty(start[-1], dtype=np.int32)
        for p in range(len(ax)):
            i0, i1 = int((min(ax[p], bx[p]) - x0) / cell_m), int((max(ax[p], bx[p]) - x0) / cell_m)
            j0, j1 = int((min(ay[p], by[p]) - y0) / cell_m), int((max(ay[p], by[p]) - y0) / cell_m)
            for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                    if not _near_cell(ax[p], ay[p], bx[p], by[p], x0 + (i + 0.5) * cell_m, y0 + (j + 0.5) * cell_m,
                                      reach):
                        continue
                    k = fill[i * ny + j]
                    if sweep:
                        item_xy[k, 0], item_xy[k, 1], item_xy[k, 2], item_xy[k, 3] = ax[p], ay[p], bx[p], by[p]
                        item_piece[k] = p
                    fill[i * ny + j] = k + 1
    return start, item_xy, item_piece


@_jit
def grid_nearest(px, py, start, item_xy, item_piece, x0, y0, cell_m, nx, ny, piece_seg, piece_offset_m,  # noqa: ANN001, ANN201, C901
                 seg_length_m):
    """For each point, the segment of the nearest piece (the lower piece on a tie), the fraction along the
    segment of the nearest point (by length, 0 at its start) and the distance; segment -1 where there is none
    (or the point has no coordinates).

    Rings of cells around the point's cell, nearest first: a piece not seen before ring ``r`` comes no nearer
    than ``(r - 1) * cell_m``, so the search stops once the best distance is below that; within a ring, a cell
    farther than the best so far is skipped (with a margin for rounding; exact, ties included). Points outside
    the grid start at its edge.
    """
    n = len(px)
    segment = np.full(n, -1, dtype=np.int64)
    fraction = np.zeros(n)
    dist = np.full(n, _INF)
    pick_of, along_of = np.full(n, -1, dtype=np.int64), np.zeros(n)
    if not len(item_piece):  # (no street to snap to)
        return segment, fraction, dist
    slack = 1e-6 * cell_m
    for q in range(n):
        x, y = px[q], py[q]
        if not (np.isfinite(x) and np.isfinite(y)):  # (an empty point) nowhere
            continue
        ci = int(np.floor((x - x0) / cell_m))
        cj = int(np.floor((y - y0) / cell_m))
        r0 = max(0, -ci, ci - (nx - 1), -cj, cj - (ny - 1))
        r_max = max(ci, nx - 1 - ci, cj, ny - 1 - cj)
        best, pick, frac = _INF, -1, 0.0
        r = r0
        while r <= r_max:
            if pick >= 0 and best < (r - 1 - 1e-6) * cell_m:
                break
            for i in range(max(ci - r, 0), min(ci + r, nx - 1) + 1):
                whole = i == ci - r or i == ci + r  # a whole column of the ring, else its two ends
                step = 1 if whole else 2 * r
                gap_x = max(0.0, x0 + i * cell_m - x, x - x0 - (i + 1) * cell_m)
                for j in range(cj - r, cj + r + 1, max(step, 1)):
                    if j < 0 or j > ny - 1:
                        continue
                    gap_y = max(0.0, y0 + j * cell_m - y, y - y0 - (j + 1) * cell_m)
                    if pick >= 0 and np.sqrt(gap_x * gap_x + gap_y * gap_y) - slack > best:
                        continue
                    cell = i * ny + j
                    for e in range(start[cell], start[cell + 1]):
                        ax, ay = item_xy[e, 0], item_xy[e, 1]
                        dx, dy = item_xy[e, 2] - ax, item_xy[e, 3] - ay
                        span = dx * dx + dy * dy
                        t = 0.0
                        if span > 0:
                            t = min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / span))
                        ex, ey = ax + t * dx - x, ay + t * dy - y
                        d = np.sqrt(ex * ex + ey * ey)
                        c = item_piece[e]
                        if d < best or (d == best and c < pick):
                            best, pick, frac = d, c, t * np.hypot(dx, dy)
            r += 1
        pick_of[q], along_of[q], dist[q] = pick, frac, best
    # the segments after the searches, not inside them: these loads don't wait for each other
    for q in range(n):
        if pick_of[q] >= 0:
            segment[q] = piece_seg[pick_of[q]]
    for q in range(n):
        if pick_of[q] >= 0:
            length = seg_length_m[segment[q]]
            if length > 0:
                fraction[q] = min(1.0, max(0.0, (piece_offset_m[pick_of[q]] + along_of[q]) / length))
    return segment, fraction, dist
