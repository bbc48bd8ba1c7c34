"""Compiled shortest-path kernels (numba) over CSR arrays: the inner loops of network and coverage.

:func:`two_label_search` is a multi-source Dijkstra in which every node keeps its quickest label from two
*distinct* sources, so one pass gives both the nearest station and the nearest other one. A label whose
source already has a label at the node, or that is beaten there by two other sources, is dropped: two other
sources that beat it at a node also beat it at every node it could reach from there. Each node is settled
at most twice. Metres along the quickest path ride along with the seconds.

The kernels are compiled on first use and cached on disk (``cache=True``) where numba can write its cache:
next to this file, else the user-wide cache directory (``NUMBA_CACHE_DIR``), else not at all (each process
then compiles once, a few seconds). :func:`warm` compiles them on a tiny input; the street-graph builder
calls it when a snapshot loads, so no request pays for compilation.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

_INF = np.inf


def _jit(func, **options):  # noqa: ANN001, ANN003, ANN202 - a decorator
    try:
        return numba.njit(cache=True, nogil=True, **options)(func)
    except RuntimeError:  # no writable cache location: compile per process instead
        return numba.njit(cache=False, nogil=True, **options)(func)


def _jit_inline(func):  # noqa: ANN001, ANN202
    return _jit(func, inline="always")


@_jit_inline
def _sift_up(hkey, hnode, pos, i):  # noqa: ANN001, ANN202
    """Move heap entry i up to its place (a 4-ary min-heap: shallower than a binary one)."""
    key, node = hkey[i], hnode[i]
    while i > 0:
        parent = (i - 1) >> 2
        if hkey[parent] <= key:
            break
        hkey[i], hnode[i] = hkey[parent], hnode[parent]
        pos[hnode[i]] = i
        i = parent
    hkey[i], hnode[i] = key, node
    pos[node] = i


@_jit_inline
def _sift_down(hkey, hnode, pos, i, size):  # noqa: ANN001, ANN202
    key, node = hkey[i], hnode[i]
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best, best_key = first, hkey[first]
        last = min(first + 4, size)
        for c in range(first + 1, last):
            if hkey[c] < best_key:
                best, best_key = c, hkey[c]
        if best_key >= key:
            break
        hkey[i], hnode[i] = best_key, hnode[best]
        pos[hnode[i]] = i
        i = best
    hkey[i], hnode[i] = key, node
    pos[node] = i


@_jit_inline
def _offer(dist, met, src, settled, node, s, d, m):  # noqa: ANN001, ANN202
    """Offer label (d, m) from source ``s`` to ``node``: True when the node's best unsettled label (its key in
    the queue) got better. Slot 0 holds the better label; slots below ``settled`` are final."""
    k = settled[node]
    if k == 2:
        return False
    if k == 1:
        if src[node, 0] == s or not d < dist[node, 1]:
            return False
        dist[node, 1], met[node, 1], src[node, 1] = d, m, s
        return True
    if src[node, 0] == s:
        if d < dist[node, 0]:
            dist[node, 0], met[node, 0] = d, m
            return True
        return False
    if src[node, 1] == s:
        if not d < dist[node, 1]:
            return False
        dist[node, 1], met[node, 1] = d, m
        if d < dist[node, 0]:
            dist[node, 0], dist[node, 1] = dist[node, 1], dist[node, 0]
            met[node, 0], met[node, 1] = met[node, 1], met[node, 0]
            src[node, 0], src[node, 1] = src[node, 1], src[node, 0]
            return True
        return False
    if d < dist[node, 0]:
        dist[node, 1], met[node, 1], src[node, 1] = dist[node, 0], met[node, 0], src[node, 0]
        dist[node, 0], met[node, 0], src[node, 0] = d, m, s
        return True
    if d < dist[node, 1]:
        dist[node, 1], met[node, 1], src[node, 1] = d, m, s
    return False


@_jit
def two_label_search(indptr, indices, weight, length, start_node, start_src, start_s, start_m,  # noqa: ANN001, ANN201
                     n, limit_s):
    """Multi-source Dijkstra keeping each node's best two labels from distinct sources.

    Parameters
    ----------
    indptr, indices, weight, length
        The graph in CSR form: edge ``e`` of row ``a`` goes to ``indices[e]`` in ``weight[e]`` seconds over
        ``length[e]`` metres.
    start_node, start_src, start_s, start_m
        Starting labels: source ``start_src[i]`` reaches ``start_node[i]`` in ``start_s[i]`` seconds over
        ``start_m[i]`` metres (a source may start at several nodes).
    n
        Number of nodes.
    limit_s
        Labels beyond this many seconds are not made (``inf`` for none).

    Returns
    -------
    seconds, metres, source
        ``(n, 2)`` arrays: column 0 the nearest source, column 1 the nearest other source (``inf``/``-1``
        where there is none).
    """
    dist = np.full((n, 2), _INF)
    met = np.full((n, 2), _INF)
    src = np.full((n, 2), -1, dtype=np.int64)
    settled = np.zeros(n, dtype=np.int8)
    pos = np.full(n, -1, dtype=np.int64)
    hkey = np.empty(n)
    hnode = np.empty(n, dtype=np.int64)
    size = 0
    for i in range(len(start_node)):
        v = start_node[i]
        if start_s[i] <= limit_s and _offer(dist, met, src, settled, v, start_src[i], start_s[i], start_m[i]):
            if pos[v] < 0:
                hkey[size], hnode[size] = dist[v, 0], v
                size += 1
                _sift_up(hkey, hnode, pos, size - 1)
            else:
                hkey[pos[v]] = dist[v, 0]
                _sift_up(hkey, hnode, pos, pos[v])
    # an indexed queue of nodes keyed by their best unsettled label: no stale entries, at most n of them
    while size > 0:
        v = hnode[0]
        pos[v] = -1
        size -= 1
        if size > 0:
            hkey[0], hnode[0] = hkey[size], hnode[size]
            _sift_down(hkey, hnode, pos, 0, size)
        k = settled[v]
        d, m, s = dist[v, k], met[v, k], src[v, k]
        settled[v] = k + 1
        if k == 0 and dist[v, 1] < _INF:  # back in the queue for its second label
            hkey[size], hnode[size] = dist[v, 1], v
            size += 1
            _sift_up(hkey, hnode, pos, size - 1)
        for e in range(indptr[v], indptr[v + 1]):
            nd = d + weight[e]
            if nd > limit_s:
                continue
            u = indices[e]
            if _offer(dist, met, src, settled, u, s, nd, m + length[e]):
                key = dist[u, settled[u]]
                if pos[u] < 0:
                    hkey[size], hnode[size] = key, u
                    size += 1
                    _sift_up(hkey, hnode, pos, size - 1)
                else:
                    hkey[pos[u]] = key
                    _sift_up(hkey, hnode, pos, pos[u])
    return dist, met, src


@_jit_inline
def _push(hkey, hnode, size, key, node):  # noqa: ANN001, ANN202
    """Add an entry to a plain 4-ary min-heap of ``size`` entries (the caller counts it in)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 2
        if hkey[parent] <= key:
            break
        hkey[i], hnode[i] = hkey[parent], hnode[parent]
        i = parent
    hkey[i], hnode[i] = key, node


@_jit_inline
def _drop_root(hkey, hnode, size):  # noqa: ANN001, ANN202
    """Replace the root by the entry at ``size`` (the last, already counted out) and sift it down."""
    key, node = hkey[size], hnode[size]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best, best_key = first, hkey[first]
        last = min(first + 4, size)
        for c in range(first + 1, last):
            if hkey[c] < best_key:
                best, best_key = c, hkey[c]
        if best_key >= key:
            break
        hkey[i], hnode[i] = best_key, hnode[best]
        i = best
    hkey[i], hnode[i] = key, node


@_jit
def nearest_two_search(indptr, indices, weight, length, start_node, start_src, start_s, start_m,  # noqa: ANN001, ANN201
                       n, limit_s):
    """The same labels as :func:`two_label_search`, from two plain Dijkstra passes (each node settled once in
    each), which is quicker than settling every node twice in one.

    Pass 1 is a multi-source Dijkstra: each node's nearest source ``o1`` at ``d1``. Pass 2 finds ``d2``, the
    quickest label from a source other than ``o1``: the last edge ``u -> v`` of such a path from source ``s``
    either leaves ``u`` on its nearest label (``s == o1(u)``, so ``o1(u) != o1(v)``: a *seed*
    ``d1(u) + w``, known after pass 1), or on a label from another source, which ``d2(u) + w`` matches or
    beats; should ``o2(u)`` be ``o1(v)``, then ``o1(u) != o1(v)`` and the seed ``d1(u) + w`` beats it. So
    ``d2(v)`` is the least of the seeds, the starting labels from other sources, and ``d2(u) + w`` over
    edges with ``o2(u) != o1(v)``: a Dijkstra over ``d2`` from the seeds. Equal times may name a different
    one of the tied sources than :func:`two_label_search` does. Same parameters; returns seconds, metres and
    source of the nearest (``d1, m1, s1``) and of the nearest other source (``d2, m2, s2``) as 1-d arrays.
    """
    # one array per quantity and pass: each pass reads only its own and the nearest source (cache lines)
    d1, m1, s1 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int64)
    d2, m2, s2 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int64)
    # a plain heap with stale entries (skipped when popped: their key is no longer the node's label); each
    # push is a strict improvement, so it holds at most starts + edges + nodes entries
    cap = len(start_node) + len(indices) + n + 1
    hkey = np.empty(cap)
    hnode = np.empty(cap, dtype=np.int32)
    size = 0
    for i in range(len(start_node)):
        v = start_node[i]
        if start_s[i] <= limit_s and start_s[i] < d1[v]:
            d1[v], m1[v], s1[v] = start_s[i], start_m[i], start_src[i]
            _push(hkey, hnode, size, start_s[i], v)
            size += 1
    while size > 0:
        d, v = hkey[0], hnode[0]
        size -= 1
        if size > 0:
            _drop_root(hkey, hnode, size)
        if d != d1[v]:
            continue
        m, s = m1[v], s1[v]
        for e in range(indptr[v], indptr[v + 1]):
            nd = d + weight[e]
            u = indices[e]
            if nd < d1[u] and nd <= limit_s:
                d1[u], m1[u], s1[u] = nd, m + length[e], s
                _push(hkey, hnode, size, nd, u)
                size += 1
    # pass 2: seeds from the starting labels of other sources and from edges between two nearest sources
    for i in range(len(start_node)):
        v = start_node[i]
        if start_src[i] != s1[v] and start_s[i] <= limit_s and start_s[i] < d2[v]:
            d2[v], m2[v], s2[v] = start_s[i], start_m[i], start_src[i]
    for v in range(n):
        s = s1[v]
        if s < 0:
            continue
        d, m = d1[v], m1[v]
        for e in range(indptr[v], indptr[v + 1]):
            u = indices[e]
            nd = d + weight[e]
            if s1[u] != s and nd < d2[u] and nd <= limit_s:
                d2[u], m2[u], s2[u] = nd, m + length[e], s
    for v in range(n):
        if s2[v] >= 0:
            _push(hkey, hnode, size, d2[v], v)
            size += 1
    while size > 0:
        d, v = hkey[0], hnode[0]
        size -= 1
        if size > 0:
            _drop_root(hkey, hnode, size)
        if d != d2[v]:
            continue
        m, s = m2[v], s2[v]
        for e in range(indptr[v], indptr[v + 1]):
            nd = d + weight[e]
            u = indices[e]
            if nd < d2[u] and s1[u] != s and nd <= limit_s:
                d2[u], m2[u], s2[u] = nd, m + length[e], s
                _push(hkey, hnode, size, nd, u)
                size += 1
    return d1, m1, s1, d2, m2, s2


@_jit
def best_two(secs, metres, src):  # noqa: ANN001, ANN201
    """Per row of candidate columns: the quickest (first on ties) and the quickest from another source.

    Candidates with ``src < 0`` don't count. Returns seconds, metres and source of both (``inf``/``-1``).
    """
    rows, cols = secs.shape
    d1, m1, s1 = np.full(rows, _INF), np.full(rows, _INF), np.full(rows, -1, dtype=np.int64)
    d2, m2, s2 = np.full(rows, _INF), np.full(rows, _INF), np.full(rows, -1, dtype=np.int64)
    for r in range(rows):
        best = -1
        for c in range(cols):
            if src[r, c] >= 0 and secs[r, c] < _INF and (best < 0 or secs[r, c] < secs[r, best]):
                best = c
        if best < 0:
            continue
        d1[r], m1[r], s1[r] = secs[r, best], metres[r, best], src[r, best]
        other = -1
        for c in range(cols):
            if src[r, c] >= 0 and src[r, c] != s1[r] and secs[r, c] < _INF and (
                    other < 0 or secs[r, c] < secs[r, other]):
                other = c
        if other >= 0:
            d2[r], m2[r], s2[r] = secs[r, other], metres[r, other], src[r, other]
    return d1, m1, s1, d2, m2, s2


@_jit
def segment_best_two(seg_u, seg_v, half_m, half_fwd_s, half_bwd_s, d1, m1, o1, d2, m2, o2,  # noqa: ANN001, ANN201
                     st_seg, st_s, st_m):
    """Per segment, from its midpoint: the quickest station and the quickest other one, in one loop.

    Candidates, in this order (the first wins a tie): leave forward through ``seg_v`` (its nearest and
    second labels: ``half_fwd_s + d1[v]``, ``half_m + m1[v]``, ...), backward through ``seg_u``, then the two
    quickest stations placed on the segment itself (``st_seg``, seconds ``st_s``, metres ``st_m`` from the
    midpoint; ties by station order). The same choice as :func:`best_two` over those six columns, without
    building them. Returns minutes, metres and source of both (``inf``/``-1`` where there is none).
    """
    n = len(seg_u)
    on_s = np.full((n, 2), _INF)
    on_m = np.full((n, 2), _INF)
    on_src = np.full((n, 2), -1, dtype=np.int64)
    for i in range(len(st_seg)):
        k = st_seg[i]
        if k < 0:
            continue
        if on_src[k, 0] < 0 or st_s[i] < on_s[k, 0]:
            on_s[k, 1], on_m[k, 1], on_src[k, 1] = on_s[k, 0], on_m[k, 0], on_src[k, 0]
            on_s[k, 0], on_m[k, 0], on_src[k, 0] = st_s[i], st_m[i], i
        elif on_src[k, 1] < 0 or st_s[i] < on_s[k, 1]:
            on_s[k, 1], on_m[k, 1], on_src[k, 1] = st_s[i], st_m[i], i
    t1, out_m1, out_s1 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int64)
    t2, out_m2, out_s2 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int64)
    cs = np.empty(6)
    cm = np.empty(6)
    cw = np.empty(6, dtype=np.int64)
    for k in range(n):
        v, u = seg_v[k], seg_u[k]
        cs[0], cm[0], cw[0] = half_fwd_s[k] + d1[v], half_m[k] + m1[v], o1[v]
        cs[1], cm[1], cw[1] = half_fwd_s[k] + d2[v], half_m[k] + m2[v], o2[v]
        cs[2], cm[2], cw[2] = half_bwd_s[k] + d1[u], half_m[k] + m1[u], o1[u]
        cs[3], cm[3], cw[3] = half_bwd_s[k] + d2[u], half_m[k] + m2[u], o2[u]
        for j in range(2):
            cs[4 + j], cm[4 + j], cw[4 + j] = on_s[k, j], on_m[k, j], on_src[k, j]
        best = -1
        for c in range(6):
            if cw[c] >= 0 and cs[c] < _INF and (best < 0 or cs[c] < cs[best]):
                best = c
        if best < 0:
            continue
        t1[k], out_m1[k], out_s1[k] = cs[best] / 60.0, cm[best], cw[best]
        other = -1
        for c in range(6):
            if cw[c] >= 0 and cw[c] != cw[best] and cs[c] < _INF and (other < 0 or cs[c] < cs[other]):
                other = c
        if other >= 0:
            t2[k], out_m2[k], out_s2[k] = cs[other] / 60.0, cm[other], cw[other]
    return t1, out_m1, out_s1, t2, out_m2, out_s2


@_jit
def nearest_pieces(px, py, cand, ax, ay, bx, by):  # noqa: ANN001, ANN201
    """For each point, the candidate piece (straight line a -> b) nearest to it: index into ``cand``'s row,
    distance and the fraction along the piece of the nearest point. ``cand`` rows are padded with -1."""
    n, k = cand.shape
    pick = np.full(n, -1, dtype=np.int64)
    best = np.full(n, _INF)
    frac = np.zeros(n)
    for i in range(n):
        for j in range(k):
            c = cand[i, j]
            if c < 0:
                continue
            dx, dy = bx[c] - ax[c], by[c] - ay[c]
            span = dx * dx + dy * dy
            t = 0.0
            if span > 0:
                t = min(1.0, max(0.0, ((px[i] - ax[c]) * dx + (py[i] - ay[c]) * dy) / span))
            ex, ey = ax[c] + t * dx - px[i], ay[c] + t * dy - py[i]
            d = np.sqrt(ex * ex + ey * ey)
            if d < best[i] or (d == best[i] and c < pick[i]):
                best[i], pick[i], frac[i] = d, c, t
    return pick, best, frac


@_jit
def grid_cells(ax, ay, bx, by, x0, y0, cell_m, nx, ny):  # noqa: ANN001, ANN201
    """Bucket every piece into each grid cell its bounding box touches: CSR (cell start, piece ids)."""
    count = np.zeros(nx * ny + 1, dtype=np.int64)
    for p in range(len(ax)):
        i0, i1 = int((min(ax[p], bx[p]) - x0) / cell_m), int((max(ax[p], bx[p]) - x0) / cell_m)
        j0, j1 = int((min(ay[p], by[p]) - y0) / cell_m), int((max(ay[p], by[p]) - y0) / cell_m)
        for i in range(max(i0, 0), min(i1, nx - 1) + 1):
            for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                count[i * ny + j + 1] += 1
    start = np.cumsum(count)
    fill = start[:-1].copy()
    items = np.empty(start[-1], dtype=np.int64)
    for p in range(len(ax)):
        i0, i1 = int((min(ax[p], bx[p]) - x0) / cell_m), int((max(ax[p], bx[p]) - x0) / cell_m)
        j0, j1 = int((min(ay[p], by[p]) - y0) / cell_m), int((max(ay[p], by[p]) - y0) / cell_m)
        for i in range(max(i0, 0), min(i1, nx - 1) + 1):
            for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                items[fill[i * ny + j]] = p
                fill[i * ny + j] += 1
    return start, items


@_jit_inline
def _visit(q, cell, px, py, start, items, ax, ay, bx, by, pick, best, frac):  # noqa: ANN001, ANN202
    """Offer every piece in one cell to point q (the same arithmetic as :func:`nearest_pieces`)."""
    for e in range(start[cell], start[cell + 1]):
        c = items[e]
        dx, dy = bx[c] - ax[c], by[c] - ay[c]
        span = dx * dx + dy * dy
        t = 0.0
        if span > 0:
            t = min(1.0, max(0.0, ((px[q] - ax[c]) * dx + (py[q] - ay[c]) * dy) / span))
        ex, ey = ax[c] + t * dx - px[q], ay[c] + t * dy - py[q]
        d = np.sqrt(ex * ex + ey * ey)
        if d < best[q] or (d == best[q] and c < pick[q]):
            best[q], pick[q], frac[q] = d, c, t


@_jit
def grid_nearest(px, py, start, items, x0, y0, cell_m, nx, ny, ax, ay, bx, by):  # noqa: ANN001, ANN201
    """For each point, the nearest piece (the lower index on a tie), its distance and the fraction along it.

    Rings of cells around the point's cell, nearest first: a piece not seen before ring ``r`` lies only in
    cells ``r`` or more cells away, so at least ``(r - 1) * cell_m`` from the point; the search stops once
    the best distance is below that (with a margin for rounding; exact, ties included). Points outside the
    grid start at its edge.
    """
    n = len(px)
    pick = np.full(n, -1, dtype=np.int64)
    best = np.full(n, _INF)
    frac = np.zeros(n)
    for q in range(n):
        ci = int(np.floor((px[q] - x0) / cell_m))
        cj = int(np.floor((py[q] - y0) / cell_m))
        r0 = max(0, -ci, ci - (nx - 1), -cj, cj - (ny - 1))
        r_max = max(ci, nx - 1 - ci, cj, ny - 1 - cj)
        r = r0
        while r <= r_max:
            if pick[q] >= 0 and best[q] < (r - 1 - 1e-6) * cell_m:
                break
            for i in range(max(ci - r, 0), min(ci + r, nx - 1) + 1):
                if i == ci - r or i == ci + r:  # a whole column of the ring
                    for j in range(max(cj - r, 0), min(cj + r, ny - 1) + 1):
                        _visit(q, i * ny + j, px, py, start, items, ax, ay, bx, by, pick, best, frac)
                else:  # its two ends
                    if cj - r >= 0:
                        _visit(q, i * ny + cj - r, px, py, start, items, ax, ay, bx, by, pick, best, frac)
                    if cj + r <= ny - 1:
                        _visit(q, i * ny + cj + r, px, py, start, items, ax, ay, bx, by, pick, best, frac)
            r += 1
    return pick, best, frac


@functools.cache
def warm() -> None:
    """Compile (or load from the cache) every kernel, on a two-node graph."""
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([1, 0], dtype=np.int32)
    weight = np.ones(2)
    one = np.zeros(1, dtype=np.int64)
    two_label_search(indptr, indices, weight, weight, one, one, np.zeros(1), np.zeros(1), 2, _INF)
    nearest_two_search(indptr, indices, weight, weight, one, one, np.zeros(1), np.zeros(1), 2, _INF)
    xs = np.zeros(1)
    best_two(np.ones((1, 2)), np.ones((1, 2)), np.zeros((1, 2), dtype=np.int64))
    ends = np.zeros(1, dtype=np.int64)
    segment_best_two(ends, ends, xs, xs, xs, xs, xs, ends, xs, xs, ends, ends, xs, xs)
    nearest_pieces(xs, xs, np.zeros((1, 1), dtype=np.int64), xs, xs, xs + 1, xs)
    cells, items = grid_cells(xs, xs, xs + 1, xs, 0.0, 0.0, 1.0, 1, 1)
    grid_nearest(xs, xs, cells, items, 0.0, 0.0, 1.0, 1, 1, xs, xs, xs + 1, xs)
