"""The street graph without its dead ends and through-nodes, for the coverage search (compiled with numba).

Streets have many nodes that decide nothing: dead-end trees hanging off the network, and nodes on a street
between two junctions (degree 2). The coverage search (:mod:`locator.core.buckets`) runs on the *core*:
what is left after pruning the trees (the 2-core) with every run of degree-2 nodes (a *chain*) replaced by
one edge each way between its end junctions (its steps added up in order). Degree counts the neighbours
either way along an edge the profile may use, so one-way steps stay one-way (a step that can't be taken
leaves its chain closed that way). A cycle of degree-2 nodes alone keeps one of them as a junction.

The labels (quickest two from distinct sources, with metres) of the pruned nodes follow exactly, because a
node's best two distinct labels are among the best two of each way out of it:

- *up*, before the search: each node's own starting labels, then tree nodes from the leaves in, each
  passing its best two on to its parent; along each chain, the chain's own best two reach both ends. What
  reaches a core node becomes a starting label of the core search;
- *down*, after it: along each chain from both ends, each node keeping the best two of what comes from
  either side and its own; then the trees from the root out, each node the best two of its own subtree's
  and of its parent's plus the step.

Of equal times another of the tied sources may be named than in a search of the whole graph; seconds along
a chain edge are added up before the search, so they may differ from a node-by-node sum in the last bit.

Everything here is by the nodes' own *numbers* (``number``; ``node_of`` back), not the graph's: the core's
first, in reverse Cuthill-McKee order, so that neighbours get near numbers (a search reads nearby memory)
and the first ``half`` of them are a ball of the graph with a short border (a level of a breadth-first
search), which the two threads of :mod:`locator.core.halves` search one each; then the chains' inner nodes,
chain by chain; then the trees', a whole tree to one thread (``tree_group``) and each group's together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from locator.core.shortest import _jit, _keep_two

_INF = np.inf


@_jit
def _step(indptr, indices, weight, length, a, b):  # noqa: ANN001, ANN202
    """Seconds and metres of the edge a -> b (inf where there is none)."""
    for e in range(indptr[a], indptr[a + 1]):
        if indices[e] == b:
            return weight[e], length[e]
    return _INF, _INF


@_jit
def _neighbours(indptr, indices, back_ptr, back_idx, n):  # noqa: ANN001, ANN202
    """Each node's neighbours either way (both CSRs have sorted rows), as CSR."""
    count = np.zeros(n + 1, dtype=np.int64)
    for pass_ in range(2):
        fill = count[:-1].copy() if pass_ else count
        out = np.empty(count[n] if pass_ else 0, dtype=np.int32)
        for v in range(n):
            i, j, k = indptr[v], back_ptr[v], 0
            while i < indptr[v + 1] or j < back_ptr[v + 1]:
                if j >= back_ptr[v + 1] or (i < indptr[v + 1] and indices[i] < back_idx[j]):
                    u = indices[i]
                    i += 1
                elif i >= indptr[v + 1] or back_idx[j] < indices[i]:
                    u = back_idx[j]
                    j += 1
                else:
                    u = indices[i]
                    i, j = i + 1, j + 1
                if u == v:
                    continue
                if pass_:
                    out[fill[v] + k] = u
                k += 1
            if not pass_:
                count[v + 1] = k
        if not pass_:
            for v in range(n):
                count[v + 1] += count[v]
    return count, out


@_jit
def _prune(sym_ptr, sym, n):  # noqa: ANN001, ANN202
    """Peel off the trees (leaves first): removal order, each one's parent (-1 for none), the core flags."""
    degree = np.diff(sym_ptr)
    alive = np.ones(n, dtype=np.bool_)
    order = np.empty(n, dtype=np.int32)
    parent = np.empty(n, dtype=np.int32)
    queue = np.empty(2 * n + 1, dtype=np.int32)  # a node comes in at degree <= 1, again at 0: twice at most
    head = tail = 0
    for v in range(n):
        if degree[v] <= 1:
            queue[tail] = v
            tail += 1
    count = 0
    while head < tail:
        v = queue[head]
        head += 1
        if not alive[v] or degree[v] > 1:
            continue
        alive[v] = False
        p = -1
        for e in range(sym_ptr[v], sym_ptr[v + 1]):
            if alive[sym[e]]:
                p = sym[e]
        order[count], parent[count] = v, p
        count += 1
        if p >= 0:
            degree[p] -= 1
            if degree[p] <= 1:
                queue[tail] = p
                tail += 1
    core = alive & (degree != 2)
    return order[:count], parent[:count], alive, core


@_jit
def _chains(sym_ptr, sym, alive, core, n):  # noqa: ANN001, ANN202
    """Runs of degree-2 nodes between junctions: each chain's ends, and its inner nodes (concatenated)."""
    seen = np.zeros(n, dtype=np.bool_)
    ends = np.empty((n, 2), dtype=np.int32)
    first = np.zeros(n + 1, dtype=np.int64)
    inner = np.empty(n, dtype=np.int32)
    chains = used = 0
    for sweep in range(2):  # then cycles of degree-2 nodes alone: one of each becomes a junction
        for a in range(n):
            if not alive[a] or seen[a] or (not core[a] and sweep == 0):
                continue
            if not core[a]:
                core[a] = True
            for e in range(sym_ptr[a], sym_ptr[a + 1]):
                x = sym[e]
                if not alive[x] or core[x] or seen[x]:
                    continue
                prev, cur = a, x
                while not core[cur]:
                    seen[cur] = True
                    inner[used] = cur
                    used += 1
                    nxt = -1
                    for f in range(sym_ptr[cur], sym_ptr[cur + 1]):
                        if alive[sym[f]] and sym[f] != prev:
                            nxt = sym[f]
                    prev, cur = cur, nxt
                ends[chains, 0], ends[chains, 1] = a, cur
                chains += 1
                first[chains] = used
    return ends[:chains].copy(), first[:chains + 1].copy(), inner[:used].copy()


@_jit
def _steps(indptr, indices, weight, length, ends, first, inner):  # noqa: ANN001, ANN202
    """Per chain step i (from the i-th node of a, inner..., b to the next): seconds and metres forward
    (towards b) and backward, at ``first[c] + c + i``."""
    total = len(inner) + len(ends)
    fw, fl, bw, bl = np.empty(total), np.empty(total), np.empty(total), np.empty(total)
    for c in range(len(ends)):
        k = first[c + 1] - first[c]
        for i in range(k + 1):
            x = ends[c, 0] if i == 0 else inner[first[c] + i - 1]
            y = ends[c, 1] if i == k else inner[first[c] + i]
            at = first[c] + c + i
            fw[at], fl[at] = _step(indptr, indices, weight, length, x, y)
            bw[at], bl[at] = _step(indptr, indices, weight, length, y, x)
    return fw, fl, bw, bl


@dataclass
class Contraction:
    """The core of one search graph (see the module docstring), with what is needed to go up and down."""

    core: tuple[np.ndarray, ...]  # the core graph as the search takes it (indptr, indices, seconds, metres)
    number: np.ndarray  # each node's number (below: all nodes by number; the core's are the lowest)
    node_of: np.ndarray  # the node of each number
    half: int  # core numbers below it are one half, the rest the other
    border: int  # core edges between the halves
    scale: tuple[float, float]  # its bucket width and longest edge
    pruned: np.ndarray  # each node's row among the pruned (trees in order, then chains' inner nodes), -1: core
    order: np.ndarray  # tree nodes, leaves first
    parent: np.ndarray
    up: np.ndarray  # (tree nodes, 4): seconds and metres to the parent, from it
    ends: np.ndarray  # (chains, 2): junctions at either end
    first: np.ndarray  # chain c's inner nodes are inner[first[c]:first[c + 1]]
    inner: np.ndarray
    steps: np.ndarray  # (4, steps): seconds and metres forward, then backward, of each step along a chain
    tree_group: np.ndarray  # 0 or 1 per tree node (in order): the thread that fills in its labels

    @property
    def chains(self) -> tuple[np.ndarray, ...]:
        return self.pruned, self.order, self.parent, self.up, self.ends, self.first, self.inner, self.steps

    @property
    def split(self) -> tuple[object, ...]:
        """The core in halves, as :func:`locator.core.halves.labels` takes it."""
        return (*self.core, self.half, self.border, self.tree_group, *self.scale)

    @classmethod
    def build(cls, search: tuple[np.ndarray, ...], back: tuple[np.ndarray, ...], n: int) -> Contraction:
        """From the search graph and the same turned round (CSR: indptr, indices, seconds, metres)."""
        from locator.core import buckets
        from locator.core.network import csr_from_edges

        sym_ptr, sym = _neighbours(search[0], search[1], back[0], back[1], n)
        order, parent, alive, core = _prune(sym_ptr, sym, n)
        ends, first, inner = _chains(sym_ptr, sym, alive, core, n)
        steps = np.stack(_steps(*search, ends, first, inner))
        up = _tree_steps(*search, order, parent)
        pruned = np.full(n, -1, dtype=np.int32)
        pruned[order] = np.arange(len(order), dtype=np.int32)
        pruned[inner] = len(order) + np.arange(len(inner), dtype=np.int32)
        # core edges: those between two junctions, and each chain's sum either way
        rows = np.repeat(np.arange(n), np.diff(search[0]))
        both = core[rows] & core[search[1]]
        a, b = [rows[both]], [search[1][both]]
        w, m = [search[2][both]], [search[3][both]]
        fw, fl, bw, bl = _chain_sums(steps, first)
        for x, y, ws, ms in ((ends[:, 0], ends[:, 1], fw, fl), (ends[:, 1], ends[:, 0], bw, bl)):
            ok = np.isfinite(ws) & (x != y)
            a.append(x[ok])
            b.append(y[ok])
            w.append(ws[ok])
            m.append(ms[ok])
        a, b, w, m = np.concatenate(a), np.concatenate(b), np.concatenate(w), np.concatenate(m)
        core_nodes = _near_numbers(np.nonzero(core)[0], a, b, n)
        group = _tree_groups(order, parent, pruned)
        # numbers: the core first (near numbers), then the chains' inner nodes chain by chain, then the trees'
        # group by group: each thread writes its own stretch of memory
        number = np.full(n, -1, dtype=np.int64)
        number[core_nodes] = np.arange(len(core_nodes))
        number[inner] = len(core_nodes) + np.arange(len(inner))
        by_group = np.argsort(group, kind="stable")
        number[order[by_group]] = len(core_nodes) + len(inner) + np.arange(len(order))
        assert (number >= 0).all()  # (every node is of the core, a chain or a tree)
        matrix, metres = csr_from_edges(number[a], number[b], w, m, len(core_nodes))
        graph = (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data.astype(np.float64),
                 metres.astype(np.float64))
        def numbered(nodes: np.ndarray) -> np.ndarray:
            return np.where(nodes >= 0, number[nodes], -1).astype(np.int32)

        half = len(core_nodes) // 2
        rows = np.repeat(np.arange(len(core_nodes)), np.diff(graph[0]))
        border = int(np.count_nonzero((rows < half) != (graph[1] < half)))
        node_of = np.argsort(number)
        return cls(graph, number, node_of, half, border, buckets.bucket_scale(graph[2]), pruned[node_of],
                   numbered(order), numbered(parent), up, numbered(ends), first, numbered(inner), steps, group)


def _near_numbers(nodes: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The core ``nodes`` in reverse Cuthill-McKee order of the edges a -> b between them (either way)."""
    from scipy import sparse
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    if not len(nodes):
        return nodes
    number = np.full(n, -1, dtype=np.int64)
    number[nodes] = np.arange(len(nodes))
    links = sparse.csr_matrix((np.ones(len(a), dtype=np.int8), (number[a], number[b])), shape=(len(nodes),) * 2)
    return nodes[reverse_cuthill_mckee((links + links.T).tocsr(), symmetric_mode=True)]


@_jit
def _tree_groups(order, parent, pruned):  # noqa: ANN001, ANN202
    """0 or 1 per tree node, a whole tree alike (each tree a parent's group, the roots taking turns), so that
    a thread filling in its group's labels from the root out has every parent's before the child's."""
    group = np.zeros(len(order), dtype=np.int8)
    turn = 0
    for j in range(len(order) - 1, -1, -1):  # (a parent comes after its children in ``order``)
        p = parent[j]
        if p >= 0 and 0 <= pruned[p] < len(order):
            group[j] = group[pruned[p]]
        else:
            group[j], turn = turn, 1 - turn
    return group


@_jit
def _tree_steps(indptr, indices, weight, length, order, parent):  # noqa: ANN001, ANN202
    up = np.full((len(order), 4), _INF)
    for j in range(len(order)):
        if parent[j] >= 0:
            up[j, 0], up[j, 1] = _step(indptr, indices, weight, length, order[j], parent[j])
            up[j, 2], up[j, 3] = _step(indptr, indices, weight, length, parent[j], order[j])
    return up


@_jit
def _chain_sums(steps, first):  # noqa: ANN001, ANN202
    """Each chain's seconds and metres from end to end, forward and backward, added up step by step."""
    chains = len(first) - 1
    fw, fl, bw, bl = np.zeros(chains), np.zeros(chains), np.zeros(chains), np.zeros(chains)
    for c in range(chains):
        for at in range(first[c] + c, first[c + 1] + c + 1):
            fw[c] += steps[0, at]
            fl[c] += steps[1, at]
            bw[c] += steps[2, at]
            bl[c] += steps[3, at]
    return fw, fl, bw, bl


@_jit
def _fold(own, v, s, m, w):  # noqa: ANN001, ANN202
    """Offer label (seconds s, metres m, source w) to row v's best two (columns d1 m1 s1 d2 m2 s2)."""
    own[v, 0], own[v, 1], own[v, 2], own[v, 3], own[v, 4], own[v, 5] = _keep_two(
        s, m, w, own[v, 0], own[v, 1], own[v, 2], own[v, 3], own[v, 4], own[v, 5])


@_jit
def _pass_on(into, v, own, u, w, m):  # noqa: ANN001, ANN202
    """Offer row u's best two of ``own``, w seconds and m metres on, to row v of ``into``."""
    for q in (0, 3):
        if own[u, q + 2] >= 0:
            _fold(into, v, own[u, q] + w, own[u, q + 1] + m, own[u, q + 2])


@_jit
def _clear(rows):  # noqa: ANN001, ANN202
    for v in range(len(rows)):
        rows[v, 0], rows[v, 1], rows[v, 2], rows[v, 3], rows[v, 4], rows[v, 5] = _INF, _INF, -1.0, _INF, _INF, -1.0


@_jit
def going_up(point, node, secs, metres, pruned, order, parent, up, ends, first, inner, steps):  # noqa: ANN001, ANN201, C901
    """The pruned nodes' own best two (rows by ``pruned``: d1 m1 s1 d2 m2 s2, sources as floats), once the
    trees and chains passed theirs inwards, and the core search's starting labels (node, source, seconds,
    metres): the starts on core nodes, and what the trees and chains pass on to them."""
    own = np.empty((len(order) + len(inner), 6))
    _clear(own)
    room = len(node) + 2 * len(order) + 4 * len(ends)
    start_node, start_src = np.empty(room, dtype=np.int64), np.empty(room, dtype=np.int64)
    start_s, start_m = np.empty(room), np.empty(room)
    k = 0
    busy = np.zeros(len(ends), dtype=np.bool_)  # chains with a label on an inner node (most have none)
    for i in range(len(node)):
        row = pruned[node[i]]
        if row >= 0:
            _fold(own, row, secs[i], metres[i], point[i])
            if row >= len(order):
                busy[np.searchsorted(first, row - len(order), side="right") - 1] = True
        else:
            start_node[k], start_src[k], start_s[k], start_m[k] = node[i], point[i], secs[i], metres[i]
            k += 1
    carry = np.empty((1, 6))
    for j in range(len(order) + 2 * len(ends)):
        if j < len(order):  # a tree node passes its best two to its parent
            if parent[j] < 0 or own[j, 2] < 0:
                continue
            _clear(carry)
            _pass_on(carry, 0, own, j, up[j, 0], up[j, 1])
            to = parent[j]
        else:  # a chain's inner nodes pass theirs to one end: a (backward steps from the last), then b
            c, toward = (j - len(order)) // 2, (j - len(order)) % 2
            if not busy[c]:
                continue
            count = first[c + 1] - first[c]
            _clear(carry)
            for i in range(count):
                at = first[c] + (count - 1 - i if toward == 0 else i)
                if i > 0:  # the step from the previous inner node to this one
                    step = first[c] + c + (count - i if toward == 0 else i)
                    for q in (0, 3):
                        carry[0, q] += steps[2 * (1 - toward), step]
                        carry[0, q + 1] += steps[2 * (1 - toward) + 1, step]
                _pass_on(carry, 0, own, len(order) + at, 0.0, 0.0)
            last = first[c] + c + (0 if toward == 0 else count)  # from the last inner node to the end
            for q in (0, 3):
                carry[0, q] += steps[2 * (1 - toward), last]
                carry[0, q + 1] += steps[2 * (1 - toward) + 1, last]
            to = ends[c, toward]
        if pruned[to] >= 0:
            _pass_on(own, pruned[to], carry, 0, 0.0, 0.0)
            if pruned[to] >= len(order):
                busy[np.searchsorted(first, pruned[to] - len(order), side="right") - 1] = True
        else:
            for q in (0, 3):
                if carry[0, q + 2] >= 0 and carry[0, q] < _INF:
                    start_node[k], start_src[k] = to, np.int64(carry[0, q + 2])
                    start_s[k], start_m[k] = carry[0, q], carry[0, q + 1]
                    k += 1
    return own, start_node[:k], start_src[:k], start_s[:k], start_m[:k]


@_jit
def _put(d1, m1, s1, d2, m2, s2, v, rows, row):  # noqa: ANN001, ANN202
    """Node v's labels from a row (a label that can't be reached, made by a step one may not take, is none)."""
    for q in (0, 3):
        ok = rows[row, q] < _INF
        d, m, s = (rows[row, q], rows[row, q + 1], np.int32(rows[row, q + 2])) if ok else (_INF, _INF, np.int32(-1))
        if q == 0:
            d1[v], m1[v], s1[v] = d, m, s
        else:
            d2[v], m2[v], s2[v] = d, m, s


@_jit
def down_chains(own, d1, m1, s1, d2, m2, s2, pruned, order, parent, up, ends, first, inner, steps, part, parts):  # noqa: ANN001, ANN201
    """Fill in the best two of the chains' inner nodes (in d1, m1, s1, d2, m2, s2, which hold the core
    search's) from their ends' and ``own`` (from :func:`going_up`), for the ``part``-th of ``parts`` runs of
    chains; each inner node written once."""
    longest = 0
    for c in range(len(ends)):
        longest = max(longest, first[c + 1] - first[c])
    ahead = np.empty((longest + 1, 6))  # a chain's labels from its end a, per inner node
    carry = np.empty((1, 6))
    for c in range(part * len(ends) // parts, (part + 1) * len(ends) // parts):
        count = first[c + 1] - first[c]
        for toward in range(2):  # from a (forward steps, into ``ahead``), then from b (backward), with ``ahead``
            end = ends[c, toward]
            carry[0, 0], carry[0, 1], carry[0, 2] = d1[end], m1[end], s1[end]
            carry[0, 3], carry[0, 4], carry[0, 5] = d2[end], m2[end], s2[end]
            for i in range(count):
                at = first[c] + (i if toward == 0 else count - 1 - i)
                step = first[c] + c + (i if toward == 0 else count - i)  # from the previous node to this one
                for q in (0, 3):
                    carry[0, q] += steps[2 * toward, step]
                    carry[0, q + 1] += steps[2 * toward + 1, step]
                _pass_on(carry, 0, own, len(order) + at, 0.0, 0.0)
                if toward == 0:
                    ahead[i, :] = carry[0, :]
                else:
                    row = count - 1 - i
                    _pass_on(ahead, row, carry, 0, 0.0, 0.0)
                    _put(d1, m1, s1, d2, m2, s2, inner[at], ahead, row)


@_jit
def down_trees(own, d1, m1, s1, d2, m2, s2, order, parent, up, tree_group, part):  # noqa: ANN001, ANN201
    """Then the tree nodes of ``tree_group`` ``part`` (-1: all), from the root out: each the best two of its
    own subtree's and of its parent's plus the step."""
    carry = np.empty((1, 6))
    for j in range(len(order) - 1, -1, -1):
        if part >= 0 and tree_group[j] != part:
            continue
        v, p = order[j], parent[j]
        if p >= 0:
            carry[0, 0], carry[0, 1], carry[0, 2] = d1[p] + up[j, 2], m1[p] + up[j, 3], s1[p]
            carry[0, 3], carry[0, 4], carry[0, 5] = d2[p] + up[j, 2], m2[p] + up[j, 3], s2[p]
            _pass_on(carry, 0, own, j, 0.0, 0.0)
            row, rows = 0, carry
        else:
            row, rows = j, own
        _put(d1, m1, s1, d2, m2, s2, v, rows, row)
