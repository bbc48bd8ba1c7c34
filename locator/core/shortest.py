"""Compiled shortest-path kernels (numba) over CSR arrays: the inner loops of network and coverage.

:func:`nearest_two_search` gives every node its quickest label from the nearest source and from the nearest
*other* source in two multi-source passes over a bucket queue (the second pass stays within the regions the
first one drew). :func:`two_label_search`, a multi-source Dijkstra in which every node keeps its quickest
label from two distinct sources (each node settled at most twice), is the reference it is tested against.
Metres along the quickest path ride along with the seconds.

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


_MAX_BUCKETS = 1 << 20  # at most 4 MB of bucket heads, however the weights spread


@_jit
def _bucket_scale(weight):  # noqa: ANN001, ANN202
    """A bucket width (an eighth of the mean positive edge weight: few edges join two nodes of one bucket) and
    the longest edge."""
    total, count, top = 0.0, 0, 0.0
    for w in weight:
        if 0 < w < _INF:
            total += w
            count += 1
            top = max(top, w)
    return (total / count / 8.0 if count else 1.0), top


@_jit
def _window(span, width):  # noqa: ANN001, ANN202
    """Width and count (a power of two) of cyclic buckets that hold every pending key within ``span`` of the
    least: each key lands in bucket ``int(key / width)``, slot ``bucket & (count - 1)``."""
    width = max(width, span / (_MAX_BUCKETS - 3))
    count = 1
    while count < span / width + 3:
        count *= 2
    return width, count


@_jit
def nearest_two_search(indptr, indices, weight, length, start_node, start_src, start_s, start_m,  # noqa: ANN001, ANN201
                       n, limit_s):
    """The same labels as :func:`two_label_search`, in two passes (each node expanded about once in each) over
    a bucket queue instead of a heap, which is several times quicker.

    Pass 1 finds each node's nearest source ``o1`` at ``d1``. Pass 2 finds ``d2``, the quickest label from a
    source other than ``o1``. Take such a quickest path from source ``s`` to ``v`` and its last node ``y`` with
    ``o1(y) != o1(v)``: from ``y`` on, every node has ``o1 = o1(v)``, and ``d1(y)`` (from ``o1(y)``, not
    ``o1(v)``) is no slower than the path's way to ``y``. So ``d2(v)`` is the least of the *seeds* (``d1(y) + w``
    over edges ``y -> x`` with ``o1(y) != o1(x)``, and starting labels from a source other than ``o1(x)``) carried
    on along edges that stay within one nearest source's region: pass 2 never leaves a region.

    Both passes keep nodes in buckets of a fixed width of seconds (``key / width``, cyclic over a window wider
    than any pending spread of keys) and expand the least bucket's nodes. Inside a bucket the order is not by
    time, so an edge shorter than the width may improve a node already expanded in the same bucket; it is
    put back and expanded again (label-correcting), so the labels are exact: seconds equal to Dijkstra's, and
    of equal times possibly another of the tied sources than :func:`two_label_search` names.

    Parameters are those of :func:`two_label_search`. Returns seconds, metres and source of the nearest
    (``d1, m1, s1``) and of the nearest other source (``d2, m2, s2``) as 1-d arrays (sources as int32).
    """
    entries = n + len(start_node) + 1
    while True:  # a pool of entries too small (many labels corrected again) is rare: start again with more
        d1, m1, s1, d2, m2, s2, ok = _two_passes(indptr, indices, weight, length, start_node, start_src, start_s,
                                                 start_m, n, limit_s, entries)
        if ok:
            return d1, m1, s1, d2, m2, s2
        entries *= 4


@_jit
def _two_passes(indptr, indices, weight, length, start_node, start_src, start_s, start_m, n, limit_s,  # noqa: ANN001, ANN202, C901, PLR0912, PLR0915
                entries):
    """The work of :func:`nearest_two_search`, with ``entries`` queue entries; False where they ran out."""
    # one array per quantity and pass: each pass reads only its own and the nearest source (cache lines)
    d1, m1, s1 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int32)
    d2, m2, s2 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int32)
    done = np.zeros(n, dtype=np.bool_)
    # a pool of bucket entries (node, next entry in the bucket), reused through a free list; an entry whose
    # node has since got a better label is stale and skipped
    node_of = np.empty(entries, dtype=np.int32)
    next_of = np.empty(entries, dtype=np.int32)
    free, used = -1, 0
    width, top = _bucket_scale(weight)
    lo, hi = _INF, 0.0
    for i in range(len(start_node)):
        v = start_node[i]
        if start_s[i] <= limit_s and start_s[i] < d1[v]:
            d1[v], m1[v], s1[v] = start_s[i], start_m[i], start_src[i]
            lo, hi = min(lo, start_s[i]), max(hi, start_s[i])
    width1, count = _window(hi - lo + top, width)
    head = np.full(count, -1, dtype=np.int32)
    mask, inv = count - 1, 1.0 / width1
    pending, b = 0, np.int64(0) if lo == _INF else np.int64(lo * inv)
    for i in range(len(start_node)):
        v = start_node[i]
        if d1[v] == start_s[i] and s1[v] == start_src[i]:  # (a start that tied at a node: a stale entry)
            if used == len(node_of):
                return d1, m1, s1, d2, m2, s2, False
            slot = np.int64(d1[v] * inv) & mask
            node_of[used], next_of[used], head[slot] = v, head[slot], used
            used += 1
            pending += 1
    far = 0.0
    while pending > 0:
        slot = b & mask
        while head[slot] >= 0:
            k = head[slot]
            v, head[slot] = node_of[k], next_of[k]
            next_of[k], free = free, k
            pending -= 1
            d = d1[v]
            if done[v] or np.int64(d * inv) != b:
                continue
            done[v] = True
            far = max(far, d)
            m, s = m1[v], s1[v]
            for e in range(indptr[v], indptr[v + 1]):
                nd = d + weight[e]
                u = indices[e]
                if nd < d1[u] and nd <= limit_s:
                    d1[u], m1[u], s1[u] = nd, m + length[e], s
                    done[u] = False
                    if free < 0 and used == len(node_of):
                        return d1, m1, s1, d2, m2, s2, False
                    if free >= 0:
                        k, free = free, next_of[free]
                    else:
                        k, used = used, used + 1
                    at = np.int64(nd * inv) & mask
                    node_of[k], next_of[k], head[at] = u, head[at], k
                    pending += 1
        b += 1
    one_source = True  # (a search from one point, as for the nearest stations: no other source to find)
    for i in range(len(start_node)):
        one_source &= start_src[i] == start_src[0]
    if one_source:
        return d1, m1, s1, d2, m2, s2, True
    # pass 2: the seeds, then on within each region
    for i in range(len(start_node)):
        v = start_node[i]
        if start_src[i] != s1[v] and start_s[i] <= limit_s and start_s[i] < d2[v]:
            d2[v], m2[v], s2[v] = start_s[i], start_m[i], start_src[i]
    for v in range(n):
        s = s1[v]
        if s < 0:
            continue
        done[v] = False
        d, m = d1[v], m1[v]
        for e in range(indptr[v], indptr[v + 1]):
            u = indices[e]
            nd = d + weight[e]
            if s1[u] != s and nd < d2[u] and nd <= limit_s:
                d2[u], m2[u], s2[u] = nd, m + length[e], s
    width2, count = _window(max(far + top, hi), width)
    if count > len(head):
        head = np.full(count, -1, dtype=np.int32)
    mask, inv = count - 1, 1.0 / width2
    b = np.int64(1) << 62
    for v in range(n):
        if s2[v] >= 0:
            if free < 0 and used == len(node_of):
                return d1, m1, s1, d2, m2, s2, False
            if free >= 0:
                k, free = free, next_of[free]
            else:
                k, used = used, used + 1
            key = np.int64(d2[v] * inv)
            b = min(b, key)
            node_of[k], next_of[k], head[key & mask] = v, head[key & mask], k
            pending += 1
    while pending > 0:
        slot = b & mask
        while head[slot] >= 0:
            k = head[slot]
            v, head[slot] = node_of[k], next_of[k]
            next_of[k], free = free, k
            pending -= 1
            d = d2[v]
            if done[v] or np.int64(d * inv) != b:
                continue
            done[v] = True
            m, s, region = m2[v], s2[v], s1[v]
            for e in range(indptr[v], indptr[v + 1]):
                nd = d + weight[e]
                u = indices[e]
                if nd < d2[u] and s1[u] == region and nd <= limit_s:
                    d2[u], m2[u], s2[u] = nd, m + length[e], s
                    done[u] = False
                    if free < 0 and used == len(node_of):
                        return d1, m1, s1, d2, m2, s2, False
                    if free >= 0:
                        k, free = free, next_of[free]
                    else:
                        k, used = used, used + 1
                    at = np.int64(nd * inv) & mask
                    node_of[k], next_of[k], head[at] = u, head[at], k
                    pending += 1
        b += 1
    return d1, m1, s1, d2, m2, s2, True


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
def segment_best_two(seg_u, seg_v, half_m, half_fwd_s, half_bwd_s, d1, m1, o1, d2, m2, o2,  # noqa: ANN001, ANN201
                     st_seg, st_s, st_m):
    """Per segment, from its midpoint: the quickest station and the quickest other one, in one loop.

    Candidates, in this order (the first wins a tie): leave forward through ``seg_v`` (its nearest and
    second labels: ``half_fwd_s + d1[v]``, ``half_m + m1[v]``, ...), backward through ``seg_u``, then the
    stations placed on the segment itself (``st_seg``, seconds ``st_s``, metres ``st_m`` from the midpoint;
    in station order). The same choice as :func:`best_two` over those columns, without building them: the
    segments that hold a station are done again with it. Returns minutes, metres and source (int32) of
    both (``inf``/``-1`` where there is none).
    """
    n = len(seg_u)
    t1, out_m1, out_s1 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    t2, out_m2, out_s2 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    order = np.argsort(st_seg, kind="mergesort")  # stations by segment, in station order within one
    i = 0
    while i < len(order) and st_seg[order[i]] < 0:
        i += 1
    for k in range(n):
        v, u = seg_v[k], seg_u[k]
        fwd, bwd, hm = half_fwd_s[k], half_bwd_s[k], half_m[k]
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
    return t1, out_m1, out_s1, t2, out_m2, out_s2


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
    sources = np.zeros(1, dtype=np.int32)  # as nearest_two_search gives them
    segment_best_two(ends, ends, xs, xs, xs, xs, xs, sources, xs, xs, sources, ends, xs, xs)
    from locator.core import snapgrid  # (it imports this module)

    cells, item_xy, item_piece = snapgrid.grid_cells(xs, xs, xs + 1, xs, 0.0, 0.0, 1.0, 1, 1)
    snapgrid.grid_nearest(xs, xs, cells, item_xy, item_piece, 0.0, 0.0, 1.0, 1, 1, ends, xs + 1, xs + 1)
