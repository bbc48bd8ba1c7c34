"""Compiled shortest-path kernels (numba) over CSR arrays: the inner loops of network and coverage.

:func:`two_label_search` is a multi-source Dijkstra in which every node keeps its quickest label from two
*distinct* sources (each node settled at most twice): the reference that the quicker bucket search of the
coverage pass (:mod:`locator.core.buckets`) is tested against. :func:`segment_best_two` turns node labels
into per-segment ones. Metres along the quickest path ride along with the seconds.

The kernels are compiled on first use and cached on disk (``cache=True``) in a folder named by a digest of
all the kernel files (:func:`_cache_dir`): next to this file, else in the user's cache directory, else not
at all (each process then compiles once, some seconds); ``NUMBA_CACHE_DIR`` puts it elsewhere. :func:`warm`
compiles them on a tiny input; the street-graph builder calls it when a snapshot loads, so no request pays
for compilation.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numba
import numpy as np

_INF = np.inf
_KERNEL_FILES = ("shortest.py", "buckets.py", "contract.py", "snapgrid.py", "halves.py")


def kernel_digest(folder: Path) -> str:
    """A digest of the kernel files in ``folder``."""
    return hashlib.sha256(b"".join((folder / name).read_bytes() for name in _KERNEL_FILES)).hexdigest()[:16]


def _cache_dir() -> bool:
    """Where compiled kernels are kept; False where nowhere can be written.

    numba checks a cached kernel against its own file's date only, yet a kernel holds the compiled code of
    the kernels it calls from the other files: after an update of those alone (a deploy, a ``git pull``) it
    would go on running their old code. Named by a digest of every kernel file, the folder changes with any
    of them.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True  # (the user's choice, as it is)
    here = Path(__file__).parent
    digest = kernel_digest(here)
    for base in (here / "__pycache__", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "locator"):
        folder = base / f"numba-{digest}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".written").touch()
        except OSError:
            continue
        numba.config.CACHE_DIR = str(folder)
        return True
    return False


_CACHE = _cache_dir()


def _jit(func, **options):  # noqa: ANN001, ANN003, ANN202 - a decorator
    try:
        return numba.njit(cache=_CACHE, nogil=True, **options)(func)
    except RuntimeError:  # (NUMBA_CACHE_DIR can't be written either) compile per process instead
        return numba.njit(cache=False, nogil=True, **options)(func)


def _jit_parallel(func):  # noqa: ANN001, ANN202 - a decorator
    """For kernels with ``prange`` loops (the threading layer is chosen in :mod:`locator.core.parallel`)."""
    from locator.core import parallel  # noqa: F401 - (before any parallel kernel runs)

    # only the explicit prange loops: numba would otherwise make every array expression (np.full, a fancy
    # index) a parallel loop of its own, each a hand-over to the other thread for a few microseconds' work
    only_prange = {"prange": True, "comprehension": False, "setitem": False, "reduction": False, "numpy": False,
                   "stencil": False, "fusion": False, "inplace_binop": False}
    return _jit(func, parallel=only_prange)


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
def _keep_two(s, m, w, s1, m1, w1, s2, m2, w2):  # noqa: ANN001, ANN202, PLR0913
    """Fold candidate (seconds s, metres m, source w) into the quickest (1) and the quickest from another
    source (2) of the candidates so far, the first on a tie; a candidate with w < 0 or s = inf is none."""
    if w < 0 or not s < _INF:
        return s1, m1, w1, s2, m2, w2
    if s < s1:
        if w != w1:
            return s, m, w, s1, m1, w1
        return s, m, w, s2, m2, w2
    if w != w1 and s < s2:
        return s1, m1, w1, s, m, w
    return s1, m1, w1, s2, m2, w2


@_jit
def segment_best_two(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, d1, m1, o1, d2, m2, o2,  # noqa: ANN001, ANN201
                     st_seg, st_s, st_m, order, first, last, t1, out_m1, out_s1, t2, out_m2, out_s2):
    """Per segment ``first <= k < last``, from its midpoint: the quickest station and the quickest other one.

    Candidates, in this order (the first wins a tie): leave forward through ``seg_v`` (its nearest and
    second labels: half of ``fwd_s`` + ``d1[v]``, half of ``seg_length_m`` + ``m1[v]``, ...), backward (half of
    ``bwd_s``) through ``seg_u``, then the
    stations placed on the segment itself (``st_seg``, seconds ``st_s``, metres ``st_m`` from the midpoint;
    ``order`` lists the stations by segment, in station order within one): the quickest, and the quickest of
    another source, each the first of equals. Writes minutes, metres and source of both
    (``inf``/``-1`` where there is none) into ``t1, out_m1, out_s1, t2, out_m2, out_s2`` at ``k``.
    """
    lo, hi = 0, len(order)  # the first station on a segment from ``first`` on
    while lo < hi:
        mid = (lo + hi) // 2
        if st_seg[order[mid]] < first:
            lo = mid + 1
        else:
            hi = mid
    i = lo
    for k in range(first, last):
        v, u = seg_v[k], seg_u[k]
        fwd, bwd, hm = 0.5 * fwd_s[k], 0.5 * bwd_s[k], 0.5 * seg_length_m[k]
        a_s, a_m, a_w, b_s, b_m, b_w = _INF, _INF, -1, _INF, _INF, -1
        a_s, a_m, a_w, b_s, b_m, b_w = _keep_two(fwd + d1[v], hm + m1[v], o1[v], a_s, a_m, a_w, b_s, b_m, b_w)
        a_s, a_m, a_w, b_s, b_m, b_w = _keep_two(fwd + d2[v], hm + m2[v], o2[v], a_s, a_m, a_w, b_s, b_m, b_w)
        a_s, a_m, a_w, b_s, b_m, b_w = _keep_two(bwd + d1[u], hm + m1[u], o1[u], a_s, a_m, a_w, b_s, b_m, b_w)
        a_s, a_m, a_w, b_s, b_m, b_w = _keep_two(bwd + d2[u], hm + m2[u], o2[u], a_s, a_m, a_w, b_s, b_m, b_w)
        while i < len(order) and st_seg[order[i]] == k:
            j = order[i]
            a_s, a_m, a_w, b_s, b_m, b_w = _keep_two(st_s[j], st_m[j], j, a_s, a_m, a_w, b_s, b_m, b_w)
            i += 1
        t1[k], out_m1[k], out_s1[k] = a_s / 60.0, a_m, a_w
        t2[k], out_m2[k], out_s2[k] = b_s / 60.0, b_m, b_w


@_jit
def midpoint_reach(segment, fraction, snap_m, seg_length_m, fwd_s, bwd_s, walk_ms):  # noqa: ANN001, ANN201
    """Seconds and metres from the midpoint of each point's segment to the point (segment -1: not placed,
    0), the reach to the street walked at ``walk_ms``."""
    n = len(segment)
    secs, metres = np.zeros(n), np.zeros(n)
    for i in range(n):
        seg = max(segment[i], 0)
        t, snap = fraction[i], snap_m[i]
        if t >= 0.5:
            part, way = max(t - 0.5, 0.0), fwd_s[seg]
        else:
            part, way = max(0.5 - t, 0.0), bwd_s[seg]
        secs[i] = (0.0 if part == 0 else part * way) + snap / walk_ms
        metres[i] = abs(t - 0.5) * seg_length_m[seg] + snap
    return secs, metres


@functools.cache
def warm() -> None:
    """Compile (or load from the cache) every kernel, on a two-node graph."""
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([1, 0], dtype=np.int32)
    weight = np.ones(2)
    one = np.zeros(1, dtype=np.int64)
    two_label_search(indptr, indices, weight, weight, one, one, np.zeros(1), np.zeros(1), 2, _INF)
    from locator.core import buckets, snapgrid  # (they import this module)

    buckets.nearest_two_search(indptr, indices, weight, weight, one, one, np.zeros(1), np.zeros(1), 2, _INF)
    two = np.array([0, 1], dtype=np.int64)  # two sources: pass 2 too
    buckets.nearest_two_search(indptr, indices, weight, weight, two, two, np.zeros(2), np.zeros(2), 2, _INF)
    xs = np.zeros(1)
    ends = np.zeros(1, dtype=np.int64)
    sources = np.zeros(1, dtype=np.int32)  # as the search gives them
    segment_best_two(ends, ends, xs, xs, xs, xs, xs, sources, xs, xs, sources, ends, xs, xs, ends, 0, 1, xs.copy(),
                     xs.copy(), sources.copy(), xs.copy(), xs.copy(), sources.copy())
    for towards in (True, False):
        buckets.first_pass_from_points(ends, ends, xs, xs, xs, 1.0, ends, xs, xs, towards, indptr, indices, weight,
                                       weight, 2, _INF, 1.0, 1.0, 1, True)
    from locator.core import contract, halves

    core = contract.Contraction.build((indptr, indices, weight, weight), (indptr, indices, weight, weight), 2)
    cells, item_xy, item_piece = snapgrid.grid_cells(xs, xs, xs + 1, xs, 0.0, 0.0, 1.0, 1, 1)
    grid = (cells, item_xy, item_piece, 0.0, 0.0, 1.0, 1, 1, ends, xs + 1)
    snapgrid.grid_nearest(xs, xs, *grid, xs + 1)
    halves.snap(xs, xs, *grid, xs + 1)
    for points in (xs, np.zeros(2)):  # one station, then two (pass 2 too)
        halves.coverage(points, points.copy(), *grid, ends, ends + 1, xs + 1, xs + 1, xs + 1, 1.0, *core.chains,
                        *core.split, 1)
        halves.labels_from_points(ends, ends + 1, xs + 1, xs + 1, xs + 1, 1.0, np.zeros(len(points), dtype=np.int64),
                                  points, points, *core.chains, *core.split, 1)
