"""The coverage pass on two threads at once: numba ``prange`` loops (TBB; see :mod:`locator.core.parallel`).

Each stage is shared out so that the two threads write different memory (nodes by their numbers,
:mod:`locator.core.contract`):

- snapping: the stations in two halves;
- pass 1 (nearest station): the graph's core in two halves (:mod:`locator.core.contract` numbers it so that
  each half is a piece of the map with a short border). Each thread searches its own half; a label that
  crosses the border is sent to the other thread rather than written, which takes it in the next round
  and searches on from it, until a round sends nothing. A node is expanded again whenever its label got
  better, so the labels end exact, as one search would make them (of equal times, perhaps another source);
- pass 2 (nearest other station, from the seeds pass 1 left): the regions of the stations
  (:mod:`locator.core.buckets`) whose start lies in each half;
- the pruned nodes: the chains in two runs, then whole trees by ``tree_group``;
- the per-segment table: the segments in two halves.

A pass whose entry pool or border mail ran out returns ``ok = False`` and is made again with more room
(``more``), as in :mod:`locator.core.buckets`.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from locator.core.buckets import one_source, search_range, second_pass, start_labels
from locator.core.contract import down_chains, down_trees, going_up
from locator.core.shortest import _jit, _jit_parallel, midpoint_reach, segment_best_two
from locator.core.snapgrid import grid_nearest

_INF = np.inf


@_jit_parallel
def snap(px, py, start, item_xy, item_piece, x0, y0, cell_m, nx, ny, piece_seg, piece_offset_m, seg_length_m):  # noqa: ANN001, ANN201
    """:func:`locator.core.snapgrid.grid_nearest` in two halves at once."""
    n = len(px)
    segment, fraction, dist = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n)
    bounds = np.array([0, n // 2, n])
    for p in prange(2):
        lo, hi = bounds[p], bounds[p + 1]
        got = grid_nearest(px[lo:hi], py[lo:hi], start, item_xy, item_piece, x0, y0, cell_m, nx, ny, piece_seg,
                           piece_offset_m, seg_length_m)
        segment[lo:hi], fraction[lo:hi], dist[lo:hi] = got
    return segment, fraction, dist


@_jit_parallel
def _pass_one(indptr, indices, weight, length, half, border, node, src, secs, metres, width, top, more, d1, m1, s1,  # noqa: ANN001, ANN202
              d2, m2, s2):
    """Pass 1 on the core (into d1, m1, s1 by core number, and the seeds of pass 2 into d2, m2, s2), a half
    per thread, in rounds until no label crosses the ``border`` edges (see the module docstring). Returns
    False where room ran out."""
    n = len(indptr) - 1
    d1[:], m1[:], s1[:], d2[:], m2[:], s2[:] = _INF, _INF, -1, _INF, _INF, -1
    bounds = np.array([0, half, n])
    room = len(node) + more * (2 * border + 16)  # (round 0 holds every start)
    # mail[r % 2, p]: what half p sent in round r (node, source, seconds, metres), sent[r % 2, p] how many
    mail_node = np.empty((2, 2, room), dtype=np.int32)
    mail_src = np.empty((2, 2, room), dtype=np.int32)
    mail_s, mail_m = np.empty((2, 2, room)), np.empty((2, 2, room))
    sent = np.zeros((2, 2), dtype=np.int64)
    for i in range(len(node)):  # round 0: the starting labels, as if sent by the other half
        q = 0 if node[i] >= half else 1
        k = sent[1, q]
        mail_node[1, q, k], mail_src[1, q, k], mail_s[1, q, k], mail_m[1, q, k] = node[i], src[i], secs[i], metres[i]
        sent[1, q] += 1
    rnd = 0
    while sent[1 - rnd % 2, 0] > 0 or sent[1 - rnd % 2, 1] > 0:
        now, last = rnd % 2, 1 - rnd % 2
        for p in prange(2):
            q = 1 - p
            got = sent[last, q]
            sent[now, p] = search_range(indptr, indices, weight, length, bounds[p], bounds[p + 1], d1, m1, s1, d2, m2,
                                        s2, mail_node[last, q, :got], mail_src[last, q, :got], mail_s[last, q, :got],
                                        mail_m[last, q, :got], _INF, width, top,
                                        more * (bounds[p + 1] - bounds[p] + got + 1), mail_node[now, p],
                                        mail_src[now, p], mail_s[now, p], mail_m[now, p])[0]
        if sent[now, 0] < 0 or sent[now, 1] < 0:
            return False
        rnd += 1
    return True


@_jit_parallel
def labels(point, node, secs, metres, pruned, order, parent, up, ends, first, inner, steps, indptr, indices,  # noqa: ANN001, ANN201
           weight, length, half, border, tree_group, width, top, more):
    """Every node's quickest seconds, metres and source to the nearest and the nearest other source, from
    starting labels (point, node, seconds, metres; nodes by their numbers), on two threads. Returns d1, m1,
    s1, d2, m2, s2 by node number and False where room ran out (call again with a larger ``more``)."""
    n = len(pruned)
    own, node, src, secs, metres = going_up(point, node, secs, metres, pruned, order, parent, up, ends, first, inner,
                                            steps)
    nc = len(indptr) - 1  # (the core's numbers come first)
    d1, m1, s1 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    d2, m2, s2 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    c1, cm1, cs1, c2, cm2, cs2 = d1[:nc], m1[:nc], s1[:nc], d2[:nc], m2[:nc], s2[:nc]
    ok = _pass_one(indptr, indices, weight, length, half, border, node, src, secs, metres, width, top, more, c1, cm1,
                   cs1, c2, cm2, cs2)
    if ok and not one_source(src):
        far, hi = 0.0, 0.0
        for v in range(nc):
            if c1[v] < _INF:
                far = max(far, c1[v])
        owner = np.zeros(np.max(src) + 1, dtype=np.int8)  # a region to the thread of its source's half
        for i in range(len(node) - 1, -1, -1):
            owner[src[i]] = node[i] >= half
            hi = max(hi, secs[i])
        done = np.zeros(2, dtype=np.bool_)
        for p in prange(2):
            done[p] = second_pass(indptr, indices, weight, length, _INF, c1, cs1, c2, cm2, cs2, width, top, far, hi,
                                  owner, p, more * (nc + 1))
        ok = done[0] and done[1]
    for p in prange(2):
        down_chains(own, d1, m1, s1, d2, m2, s2, pruned, order, parent, up, ends, first, inner, steps, p, 2)
    for p in prange(2):
        down_trees(own, d1, m1, s1, d2, m2, s2, order, parent, up, tree_group, p)
    return d1, m1, s1, d2, m2, s2, ok


@_jit
def labels_from_points(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment, fraction, snap_m, pruned, order,  # noqa: ANN001, ANN201
                       parent, up, ends, first, inner, steps, indptr, indices, weight, length, half, border,
                       tree_group, width, top, more):
    """:func:`labels` towards points placed on segments (the coverage search), ``seg_u``, ``seg_v`` by node
    number."""
    point, node, secs, metres = start_labels(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment, fraction,
                                             snap_m, True)
    return labels(point, node, secs, metres, pruned, order, parent, up, ends, first, inner, steps, indptr, indices,
                  weight, length, half, border, tree_group, width, top, more)


@_jit_parallel
def table(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, d1, m1, s1, d2, m2, s2, segment, fraction, snap_m):  # noqa: ANN001, ANN201
    """Per segment, from its midpoint, the nearest and the nearest other station
    (:func:`locator.core.shortest.segment_best_two`), the segments in two halves at once: minutes, metres,
    station of each."""
    n = len(seg_u)
    st_s, st_m = midpoint_reach(segment, fraction, snap_m, seg_length_m, fwd_s, bwd_s, walk_ms)
    by_segment = np.argsort(segment, kind="mergesort")
    t1, out_m1, out_s1 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    t2, out_m2, out_s2 = np.empty(n), np.empty(n), np.empty(n, dtype=np.int32)
    bounds = np.array([0, n // 2, n])
    for p in prange(2):
        segment_best_two(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, d1, m1, s1, d2, m2, s2, segment, st_s, st_m,
                         by_segment, bounds[p], bounds[p + 1], t1, out_m1, out_s1, t2, out_m2, out_s2)
    return t1, out_m1, out_s1, t2, out_m2, out_s2


@_jit
def coverage(px, py, start, item_xy, item_piece, x0, y0, cell_m, nx, ny, piece_seg, piece_offset_m, seg_u, seg_v,  # noqa: ANN001, ANN201
             seg_length_m, fwd_s, bwd_s, walk_ms, pruned, order, parent, up, ends, first, inner, steps, indptr, indices,
             weight, length, half, border, tree_group, width, top, more):
    """The whole coverage pass in one call: :func:`snap` the stations (x, y), :func:`labels_from_points`,
    :func:`table`. Returns the stations' segment, fraction and snap distance, the table's six columns and
    False where room ran out (call again with a larger ``more``)."""
    segment, fraction, snap_m = snap(px, py, start, item_xy, item_piece, x0, y0, cell_m, nx, ny, piece_seg,
                                     piece_offset_m, seg_length_m)
    d1, m1, s1, d2, m2, s2, ok = labels_from_points(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, segment,
                                                    fraction, snap_m, pruned, order, parent, up, ends, first, inner,
                                                    steps, indptr, indices, weight, length, half, border, tree_group,
                                                    width, top, more)
    t1, out_m1, out_s1, t2, out_m2, out_s2 = table(seg_u, seg_v, seg_length_m, fwd_s, bwd_s, walk_ms, d1, m1, s1, d2,
                                                   m2, s2, segment, fraction, snap_m)
    return segment, fraction, snap_m, t1, out_m1, out_s1, t2, out_m2, out_s2, ok
