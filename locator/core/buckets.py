"""The two-label multi-source search of the coverage pass, over a bucket queue (compiled with numba).

Every node gets its quickest label from its nearest source (``d1``, metres ``m1``, source ``s1``) and from the
nearest *other* source (``d2, m2, s2``), in two passes, each node expanded about once in each:

Pass 1 is a multi-source search for the nearest source. Pass 2 finds ``d2``: take a quickest path from a
source ``s != s1(v)`` to ``v`` and its last node ``y`` with ``s1(y) != s1(v)``; from ``y`` on, every node has
``s1 = s1(v)``, and ``d1(y)`` (from ``s1(y)``, not ``s1(v)``) is no slower than the path's way to ``y``. So
``d2(v)`` is the least of the *seeds* (``d1(y) + w`` over edges ``y -> x`` with ``s1(y) != s1(x)``, and starting
labels from a source other than ``s1(x)``) carried on along edges that stay within one nearest source's
*region*. Pass 1 leaves each node the quickest label offered to it from another source than its nearest,
which is no slower than its seeds (all of them are offered) and no quicker than its true second (each
label is a path), so it serves as the seed. Pass 2 never leaves a region, so regions can be shared out
between threads (by ``owner``, per source) that write disjoint nodes.

Both passes keep nodes in buckets of a fixed width of seconds (``key / width``, cyclic over a window wider
than any pending spread of keys) and expand the least bucket's nodes, several times quicker than a heap.
Inside a bucket the order is not by time, so an edge shorter than the width may improve a node already
expanded in the same bucket; it is put back and expanded again (label-correcting), so the labels are exact:
seconds equal to Dijkstra's, and of equal times possibly another of the tied sources than the reference
(:func:`locator.core.shortest.two_label_search`) names. Bucket entries come from a pool, reused through a
free list; an entry whose node has since got a better label is stale and skipped. A pool too small (labels
corrected many times) is reported, and the caller starts again with a larger one.
"""

from __future__ import annotations

import numpy as np

from locator.core.shortest import _jit, _jit_inline

_INF = np.inf
_MAX_BUCKETS = 1 << 20  # at most 4 MB of bucket heads, however the weights spread


@_jit
def bucket_scale(weight):  # noqa: ANN001, ANN201
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


@_jit_inline
def _offer(d1, m1, s1, d2, m2, s2, u, nd, nm, s):  # noqa: ANN001, ANN202
    """Label (nd, nm) from source s to node u: True where it is u's quickest now. Else it may be the quickest
    from another source than the quickest (``d2``); a quickest label beaten by another source's becomes that."""
    if nd < d1[u]:
        if s1[u] != s and s1[u] >= 0:
            d2[u], m2[u], s2[u] = d1[u], m1[u], s1[u]
        d1[u], m1[u], s1[u] = nd, nm, s
        return True
    if s != s1[u] and nd < d2[u]:
        d2[u], m2[u], s2[u] = nd, nm, s
    return False


@_jit_inline
def _push(node_of, key_of, next_of, head, free, used, v, key, slot):  # noqa: ANN001, ANN202
    """Queue node v with its label's seconds in bucket ``slot``, in a pooled entry (a freed one first).
    Returns the pool's free list and count used, and False where the pool is full."""
    if free >= 0:
        k, free = free, next_of[free]
    elif used < len(node_of):
        k, used = used, used + 1
    else:
        return free, used, False
    node_of[k], key_of[k], next_of[k], head[slot] = v, key, head[slot], k
    return free, used, True


@_jit_inline
def _pop(node_of, key_of, next_of, head, slot, free):  # noqa: ANN001, ANN202
    """Take the first entry of bucket ``slot`` (its node and seconds), its entry back on the free list."""
    k = head[slot]
    v, d, head[slot] = node_of[k], key_of[k], next_of[k]
    next_of[k] = free
    return v, d, k


@_jit
def search_range(indptr, indices, weight, length, lo, hi, d1, m1, s1, d2, m2, s2, seed_node, seed_src, seed_s, seed_m,  # noqa: ANN001, ANN201, C901, PLR0912
                 limit_s, width, top, entries, out_node, out_src, out_s, out_m):
    """The nearest source of nodes ``lo <= v < hi`` (``d1, m1, s1``, updated in place), from seeds on them
    (labels, kept where quicker than the node's), searching only among these nodes: a label offered across to
    a node outside goes to ``out_*`` instead (as many as they hold). A queue entry holds its label's seconds:
    it is stale once the node's label got better, so each label a node gets is expanded once (label-correcting
    within a bucket). Every label offered to a node is also weighed for
    its quickest from another source (``d2, m2, s2``): what is left there at the end are the seeds of pass 2
    (a label is a path: none is quicker than the true second, and the final labels of the neighbours are
    among those offered).

    Returns the count of labels sent out (-1 where the entry pool, of ``entries``, or ``out_*`` ran out), the
    slowest label expanded and the slowest seed kept.
    """
    least, most, far = _INF, 0.0, 0.0
    for i in range(len(seed_node)):
        if seed_s[i] <= limit_s and _offer(d1, m1, s1, d2, m2, s2, seed_node[i], seed_s[i], seed_m[i], seed_src[i]):
            least, most = min(least, seed_s[i]), max(most, seed_s[i])
    if least == _INF:
        return 0, far, most
    width, count = _window(most - least + top, width)
    head = np.full(count, -1, dtype=np.int32)
    node_of, key_of, next_of = np.empty(entries, dtype=np.int32), np.empty(entries), np.empty(entries, dtype=np.int32)
    mask, inv = count - 1, 1.0 / width
    free, used, pending, sent = -1, 0, 0, 0
    b = np.int64(least * inv)
    for i in range(len(seed_node)):
        v = seed_node[i]
        if d1[v] == seed_s[i] and s1[v] == seed_src[i]:  # (kept)
            free, used, ok = _push(node_of, key_of, next_of, head, free, used, v, d1[v], np.int64(d1[v] * inv) & mask)
            if not ok:
                return -1, far, most
            pending += 1
    while pending > 0:
        slot = b & mask
        while head[slot] >= 0:
            v, d, free = _pop(node_of, key_of, next_of, head, slot, free)
            pending -= 1
            if d1[v] != d:  # (stale: the node has a better label since, in its own entry)
                continue
            far = max(far, d)
            m, s = m1[v], s1[v]
            for e in range(indptr[v], indptr[v + 1]):
                nd = d + weight[e]
                u = indices[e]
                if nd > limit_s:
                    continue
                if u < lo or u >= hi:
                    if sent == len(out_node):
                        return -1, far, most
                    out_node[sent], out_src[sent], out_s[sent], out_m[sent] = u, s, nd, m + length[e]
                    sent += 1
                elif nd < d1[u]:  # (:func:`_offer`, written out: this is the inner loop)
                    if s1[u] != s and s1[u] >= 0:
                        d2[u], m2[u], s2[u] = d1[u], m1[u], s1[u]
                    d1[u], m1[u], s1[u] = nd, m + length[e], s
                    free, used, ok = _push(node_of, key_of, next_of, head, free, used, u, nd, np.int64(nd * inv) & mask)
                    if not ok:
                        return -1, far, most
                    pending += 1
                elif s != s1[u] and nd < d2[u]:
                    d2[u], m2[u], s2[u] = nd, m + length[e], s
        b += 1
    return sent, far, most


@_jit
def first_pass(indptr, indices, weight, length, start_node, start_src, start_s, start_m, n, limit_s, width,  # noqa: ANN001, ANN201
               top, entries, whole):
    """Pass 1: each node's nearest source (``d1, m1, s1``; sources as int32), from the starting labels, and
    the seeds of pass 2 (``d2, m2, s2``: of the labels offered to a node, the quickest from another source
    than its nearest; :func:`search_range`).

    ``width`` and ``top`` come from :func:`bucket_scale`; ``entries`` is the size of the entry pool. ``whole``:
    the search will reach about every node (many sources, no limit), so the graph is read through once
    first, in order, which is quicker than meeting it piece by piece where it has fallen out of the caches.
    Also returns the slowest label made (``far``), the slowest start, whether there are several sources (so
    that pass 2 has something to find), and False where the pool ran out.
    """
    d1, m1, s1 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int32)
    d2, m2, s2 = np.full(n, _INF), np.full(n, _INF), np.full(n, -1, dtype=np.int32)
    touch = 0.0
    if whole:
        for e in range(0, len(indices), 16):  # a cache line at a time
            touch += indices[e]
        for e in range(0, len(weight), 8):
            touch += weight[e] + length[e]
        for v in range(0, len(indptr), 8):
            touch += indptr[v]
    nowhere = np.empty(0, dtype=np.int32)
    sent, far, hi = search_range(indptr, indices, weight, length, 0, n, d1, m1, s1, d2, m2, s2, start_node,
                                 start_src.astype(np.int32), start_s, start_m, limit_s, width, top, entries, nowhere,
                                 nowhere, np.empty(0), np.empty(0))
    far = far if touch >= 0 else -far  # (used, so that the reads are made)
    return d1, m1, s1, d2, m2, s2, far, hi, not one_source(start_src), sent >= 0


@_jit
def second_pass(indptr, indices, weight, length, limit_s, d1, s1, d2, m2, s2, width, top, far, hi, owner, part,  # noqa: ANN001, ANN201, C901
                entries):
    """Pass 2 over the regions of sources ``s`` with ``owner[s] == part``: their seeds (from
    :func:`first_pass`) carried on within each region; only these regions' nodes are written. Returns False
    where the entry pool ran out (the seeds are then spent: start again from a copy)."""
    n = len(d1)
    node_of, key_of, next_of = np.empty(entries, dtype=np.int32), np.empty(entries), np.empty(entries, dtype=np.int32)
    free, used, pending = -1, 0, 0
    width, count = _window(max(far + top, hi), width)  # every seed is within the window from 0
    head = np.full(count, -1, dtype=np.int32)
    mask, inv = count - 1, 1.0 / width
    b = np.int64(1) << 62
    for v in range(n):
        if s2[v] >= 0 and owner[s1[v]] == part:
            key = np.int64(d2[v] * inv)
            b = min(b, key)
            free, used, ok = _push(node_of, key_of, next_of, head, free, used, v, d2[v], key & mask)
            if not ok:
                return False
            pending += 1
    while pending > 0:
        slot = b & mask
        while head[slot] >= 0:
            v, d, free = _pop(node_of, key_of, next_of, head, slot, free)
            pending -= 1
            if d2[v] != d:  # (stale)
                continue
            m, s, region = m2[v], s2[v], s1[v]
            for e in range(indptr[v], indptr[v + 1]):
                nd = d + weight[e]
                u = indices[e]
                if nd < d2[u] and s1[u] == region and nd <= limit_s:
                    d2[u], m2[u], s2[u] = nd, m + length[e], s
                    free, used, ok = _push(node_of, key_of, next_of, head, free, used, u, nd, np.int64(nd * inv) & mask)
                    if not ok:
                        return False
                    pending += 1
        b += 1
    return True


@_jit
def one_source(start_src):  # noqa: ANN001, ANN201
    """Whether every start is of one source (a search from one point: there is no other source to find)."""
    for i in range(len(start_src)):
        if start_src[i] != start_src[0]:
            return False
    return True


@_jit
def nearest_two_search(indptr, indices, weight, length, start_node, start_src, start_s, start_m,  # noqa: ANN001, ANN201
                       n, limit_s):
    """The nearest and the nearest other source of every node, in one thread (see the module docstring).

    Parameters are those of :func:`locator.core.shortest.two_label_search`. Returns seconds, metres and source
    of the nearest (``d1, m1, s1``) and of the nearest other source (``d2, m2, s2``) as 1-d arrays (sources as
    int32). :func:`locator.core.network._search` runs the same passes, pass 2 shared out between two threads.
    """
    width, top = bucket_scale(weight)
    entries = n + len(start_node) + 1
    while True:  # a pool of entries too small (many labels corrected again) is rare: start again with more
        d1, m1, s1, d2, m2, s2, far, hi, several, ok = first_pass(indptr, indices, weight, length, start_node,
                                                                  start_src, start_s, start_m, n, limit_s, width, top,
                                                                  entries, False)
        if ok:
            break
        entries *= 4
    if not several:
        return d1, m1, s1, d2, m2, s2
    seeds = d2.copy(), m2.copy(), s2.copy()
    entries = n + 1
    owner = np.zeros(np.max(start_src) + 1, dtype=np.int8)  # (one thread: every region its own)
    while not second_pass(indptr, indices, weight, length, limit_s, d1, s1, d2, m2, s2, width, top, far, hi, owner, 0,
                          entries):
        d2[:] = seeds[0]
        m2[:] = seeds[1]
        s2[:] = seeds[2]
        entries *= 4
    return d1, m1, s1, d2, m2, s2


@_jit
def _along(fraction, seconds):  # noqa: ANN001, ANN202
    return 0.0 if fraction == 0 else fraction * seconds  # no distance is no time, even where one may not go


@_jit
def start_labels(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment, fraction, snap_m, towards):  # noqa: ANN001, ANN201
    """Starting labels of points placed on segments (segment -1: not placed): each reaches its segment's ends.

    ``towards``: labels of the turned-round graph (a search from the points gives times *to* them);
    otherwise of the forward graph (times *from* them). The reach to the street is walked at ``walk_ms``.
    Returns the point, the node, seconds and metres of each label: every point's ``seg_u`` label, then every
    point's ``seg_v`` label, leaving out those that can't be made (a way one may not take).
    """
    n = len(segment)
    point = np.empty(2 * n, dtype=np.int64)
    node = np.empty(2 * n, dtype=np.int64)
    secs, metres = np.empty(2 * n), np.empty(2 * n)
    k = 0
    for end in range(2):
        for i in range(n):
            seg = segment[i]
            if seg < 0:
                continue
            t, snap = fraction[i], snap_m[i]
            if end == 0:  # arrive from seg_u going forward (or leave going backward to it)
                s = _along(t, fwd_s[seg] if towards else bwd_s[seg]) + snap / walk_ms
                m, at = t * seg_length_m[seg] + snap, seg_u[seg]
            else:
                s = _along(1 - t, bwd_s[seg] if towards else fwd_s[seg]) + snap / walk_ms
                m, at = (1 - t) * seg_length_m[seg] + snap, seg_v[seg]
            if s < _INF:
                point[k], node[k], secs[k], metres[k] = i, at, s, m
                k += 1
    return point[:k], node[:k], secs[:k], metres[:k]


@_jit
def first_pass_from_points(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment, fraction, snap_m, towards,  # noqa: ANN001, ANN201
                           indptr, indices, weight, length, n, limit_s, width, top, more, whole):
    """:func:`first_pass` from points placed on segments (:func:`start_labels`), in one call; the entry pool
    is ``more`` times the usual size."""
    point, node, secs, metres = start_labels(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment, fraction,
                                             snap_m, towards)
    return first_pass(indptr, indices, weight, length, node, point, secs, metres, n, limit_s, width, top,
                      more * (n + len(node) + 1), whole and len(node) >= 64)
