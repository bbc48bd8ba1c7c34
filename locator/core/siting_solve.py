"""Solvers for booth siting on a sparse coverage relation: lazy greedy with an online bound, and HiGHS MIP.

Everything here works on integers and sparse matrices, not on geometry: ``rows`` is a CSR matrix with one
row per demand *group* (street segments that the same set of candidates would cover, aggregated) and one
column per candidate; ``weight`` is each group's weighted street length. ``locator.core.siting`` builds
these from the street network.

Every answer states its quality. For maximal coverage the upper bound is the tighter of

- the online submodular bound: for any greedy state S containing the forced booths,
  OPT <= f(S) + the sum of the k largest marginal gains with respect to S (k = p minus the forced
  booths; the gains are taken over every candidate OPT could hold, including ones the greedy's own
  picks ruled out by spacing) — evaluated exactly at every greedy state, one sparse mat-vec each;
- the classic (1 - 1/e) guarantee where it holds (no spacing conflicts);
- the MIP dual bound (which includes the LP relaxation) when HiGHS runs.

For set covering the lower bound on the number of booths comes from the same online bounds (the fewest
booths whose bound could reach the target) and from the MIP dual bound.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

# Above this many nonzeros in the aggregated relation the MIP is not attempted (greedy with bound only).
MAX_MIP_NONZEROS = 5_000_000
_TOL = 1e-9


@dataclass(frozen=True)
class Problem:
    """A siting instance on aggregated demand groups.

    Parameters
    ----------
    rows : groups x candidates CSR matrix; nonzero where the candidate would cover the group.
    weight : weighted street length of each group (metres times weight).
    allowed : boolean mask of candidates that may be chosen (forced ones included).
    forced : indices of candidates that must be chosen.
    conflicts : (k, 2) array of candidate pairs too close to both be chosen.
    """

    rows: sp.csr_matrix
    weight: np.ndarray
    allowed: np.ndarray
    forced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conflicts: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def n_candidates(self) -> int:
        return int(self.rows.shape[1])

    def neighbours(self) -> list[set[int]]:
        out: list[set[int]] = [set() for _ in range(self.n_candidates)]
        for i, j in self.conflicts.tolist():
            out[i].add(j)
            out[j].add(i)
        return out

    def pool(self) -> np.ndarray:
        """Candidates an optimal answer may add beyond the forced ones: allowed, not forced, no forced conflict."""
        mask = self.allowed.copy()
        mask[self.forced] = False
        neigh = self.neighbours()
        for i in self.forced.tolist():
            mask[list(neigh[i])] = False
        return mask


@dataclass
class Answer:
    """A solver's answer.

    ``objective`` is the newly covered weighted length (``sense="max"``, MCLP) or the number of booths
    (``sense="min"``, set covering); ``bound`` is the matching upper (max) or lower (min) bound on the optimum.
    """

    chosen: list[int]
    objective: float
    bound: float
    status: str  # optimal | feasible | infeasible
    method: str
    sense: str
    solve_time_s: float = 0.0
    covered_weight: float = 0.0
    reachable_weight: float = math.nan
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float:
        """How far from optimal at worst, as a fraction: (UB - value) / UB, or (count - LB) / LB."""
        if self.status == "infeasible" or not math.isfinite(self.objective):
            return math.nan
        if self.sense == "max":
            return 0.0 if self.bound <= 0 else max(0.0, (self.bound - self.objective) / self.bound)
        return 0.0 if self.bound <= 0 else max(0.0, (self.objective - self.bound) / self.bound)

    @property
    def quality(self) -> str:
        if self.status in {"optimal", "infeasible"}:
            return self.status
        return f"within {100 * self.gap:.2f}% of optimal"


def _close(value: float, bound: float) -> bool:
    return abs(bound - value) <= 1e-7 * max(1.0, abs(bound))


class _Greedy:
    """Lazy greedy state: covered groups, chosen candidates, a heap of gain upper bounds."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.cand = problem.rows.T.tocsr()
        self.neigh = problem.neighbours()
        self.pool = problem.pool()
        self.covered = np.zeros(problem.rows.shape[0], dtype=bool)
        self.chosen: list[int] = []
        self.value = 0.0
        self.blocked = ~problem.allowed
        for i in problem.forced.tolist():
            self._take(int(i))
        fresh = self.gains()
        self.heap = [(-float(fresh[i]), int(i)) for i in np.flatnonzero(~self.blocked)]
        heapq.heapify(self.heap)
        self.fresh_at = dict.fromkeys((i for _, i in self.heap), len(self.chosen))

    def gains(self) -> np.ndarray:
        """Exact marginal gain of every candidate now (one sparse mat-vec)."""
        return self.cand @ np.where(self.covered, 0.0, self.problem.weight)

    def _gain(self, i: int) -> float:
        groups = self.cand.indices[self.cand.indptr[i]: self.cand.indptr[i + 1]]
        return float(self.problem.weight[groups][~self.covered[groups]].sum())

    def _take(self, i: int) -> None:
        groups = self.cand.indices[self.cand.indptr[i]: self.cand.indptr[i + 1]]
        new = groups[~self.covered[groups]]
        self.value += float(self.problem.weight[new].sum())
        self.covered[new] = True
        self.chosen.append(i)
        self.blocked[i] = True
        self.blocked[list(self.neigh[i])] = True

    def step(self) -> int | None:
        """Take the best remaining candidate; lazy: a stale gain is re-evaluated until one stays on top."""
        now = len(self.chosen)
        while self.heap:
            neg, i = heapq.heappop(self.heap)
            if self.blocked[i]:
                continue
            if self.fresh_at[i] == now:
                if -neg <= 0:
                    return None  # nothing left adds coverage
                self._take(i)
                return i
            self.fresh_at[i] = now
            heapq.heappush(self.heap, (-self._gain(i), i))
        return None

    def sorted_free_gains(self) -> np.ndarray:
        """Marginal gains of the pool (what OPT could still add), largest first, as a running sum."""
        fresh = self.gains()[self.pool]
        return np.cumsum(np.sort(fresh)[::-1])

    def bound_with(self, k: int, running: np.ndarray) -> float:
        if k <= 0 or running.size == 0:
            return self.value
        return self.value + float(running[min(k, running.size) - 1])


def greedy_mclp(problem: Problem, *, p: int) -> Answer:
    """Lazy greedy for maximal coverage, with its online upper bound."""
    started = time.perf_counter()
    state = _Greedy(problem)
    forced_value = state.value
    k_free = max(0, p - len(problem.forced))
    bound = state.bound_with(k_free, state.sorted_free_gains())
    while len(state.chosen) < p and state.step() is not None:
        bound = min(bound, state.bound_with(k_free, state.sorted_free_gains()))
    if not problem.conflicts.size:
        bound = min(bound, forced_value + (state.value - forced_value) / (1 - 1 / math.e))
    bound = max(bound, state.value)
    status = "optimal" if _close(state.value, bound) else "feasible"
    return Answer(state.chosen, state.value, bound, status, "greedy", "max", time.perf_counter() - started,
                  covered_weight=state.value)


def greedy_cover(problem: Problem, *, need: float) -> Answer:
    """Greedy set covering: add the best booth until ``need`` weight is newly covered; lower bound on the count."""
    started = time.perf_counter()
    state = _Greedy(problem)
    n_forced = len(problem.forced)
    states = [(state.value, state.sorted_free_gains())]
    while state.value < need - _TOL and state.step() is not None:
        states.append((state.value, state.sorted_free_gains()))
    lower = _count_lower_bound(states, need, n_forced)
    elapsed = time.perf_counter() - started
    if state.value < need - _TOL:
        # greedy could not reach the target: infeasible only if even every reachable group falls short
        return Answer(state.chosen, math.inf, lower, "feasible", "greedy", "min", elapsed,
                      covered_weight=state.value, notes=["greedy did not reach the target"])
    count = len(state.chosen)
    status = "optimal" if count <= lower else "feasible"
    return Answer(state.chosen, float(count), float(lower), status, "greedy", "min", elapsed,
                  covered_weight=state.value)


def _count_lower_bound(states: list[tuple[float, np.ndarray]], need: float, n_forced: int) -> int:
    """Fewest booths m whose online bound, at every recorded greedy state, could still reach ``need``."""
    if need <= _TOL:
        return n_forced
    longest = max(r.size for _, r in states)
    for k in range(0, longest + 1):
        if all(value + (float(r[min(k, r.size) - 1]) if k and r.size else 0.0) >= need - _TOL
               for value, r in states):
            return n_forced + k
    return n_forced + longest + 1  # no choice reaches it (the caller reports infeasible)


def reachable_weight(problem: Problem) -> float:
    """Weight of groups some allowed booth could cover (an upper bound on any answer; exact without conflicts)."""
    pool = problem.pool()
    pool[problem.forced] = True
    hit = problem.rows[:, np.flatnonzero(pool)].getnnz(axis=1) > 0
    return float(problem.weight[hit].sum())


def mip_mclp(problem: Problem, *, p: int, time_limit_s: float, start: list[int] | None = None,
             gap_tolerance: float = 0.0) -> Answer:
    """Exact maximal coverage: max sum w_g y_g s.t. y_g <= sum_{i in N_g} x_i, sum x <= p, spacing, forced.
    With ``gap_tolerance`` HiGHS stops once its answer is proven within that fraction of the optimum."""
    started = time.perf_counter()
    model = _Model(problem, time_limit_s, gap_tolerance=gap_tolerance)
    model.h.changeColsCost(model.n_y, np.arange(model.n_x, model.n_x + model.n_y, dtype=np.int32), model.weight)
    model.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    model.h.addRow(-highspy.kHighsInf, float(p), model.n_x, np.arange(model.n_x, dtype=np.int32),
                   np.ones(model.n_x))
    return model.run(start, started, sense="max")


def mip_cover(problem: Problem, *, need: float, time_limit_s: float, start: list[int] | None = None) -> Answer:
    """Exact set covering: min sum x s.t. sum w_g y_g >= need, y_g <= sum_{i in N_g} x_i, spacing, forced."""
    started = time.perf_counter()
    model = _Model(problem, time_limit_s)
    model.h.changeColsCost(model.n_x, np.arange(model.n_x, dtype=np.int32), np.ones(model.n_x))
    model.h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    model.h.addRow(need - model.constant, highspy.kHighsInf, model.n_y,
                   np.arange(model.n_x, model.n_x + model.n_y, dtype=np.int32), model.weight)
    return model.run(start, started, sense="min")


class _Model:
    """The shared part of both MIPs: x per allowed candidate (binary), y per group (continuous in [0, 1],
    integral at an optimum because y_g <= sum x and x is binary), link rows, spacing rows, forced bounds.
    Groups a forced booth covers are constant and left out."""

    def __init__(self, problem: Problem, time_limit_s: float, *, gap_tolerance: float = 0.0) -> None:
        self.problem = problem
        self.cols = np.flatnonzero(problem.allowed)
        rows = problem.rows.tocsc()[:, self.cols].tocsr()
        forced_local = np.flatnonzero(np.isin(self.cols, problem.forced))
        by_forced = (rows[:, forced_local].getnnz(axis=1) > 0) if forced_local.size else np.zeros(
            rows.shape[0], dtype=bool)
        keep = (np.diff(rows.indptr) > 0) & ~by_forced
        self.constant = float(problem.weight[by_forced].sum())
        self.rows, self.weight = rows[keep], problem.weight[keep].astype(float)
        self.n_x, self.n_y = self.cols.size, self.rows.shape[0]
        h = highspy.Highs()
        for name, value in (("output_flag", False), ("time_limit", float(max(time_limit_s, 0.01))),
                            ("mip_rel_gap", float(gap_tolerance)), ("mip_abs_gap", 1e-6), ("threads", 1),
                            ("random_seed", 0)):
            h.setOptionValue(name, value)
        lower = np.zeros(self.n_x + self.n_y)
        lower[forced_local] = 1.0
        h.addVars(self.n_x + self.n_y, lower, np.ones(self.n_x + self.n_y))
        h.changeColsIntegrality(self.n_x, np.arange(self.n_x, dtype=np.int32),
                                np.full(self.n_x, highspy.HighsVarType.kInteger))
        self.h = h
        self._link_rows()
        self._conflict_rows()

    def _link_rows(self) -> None:
        """y_g - sum_{i in N_g} x_i <= 0 for every group, added in one call."""
        n_y, rows = self.n_y, self.rows
        if not n_y:  # (no booth reaches any group not already covered: nothing to link)
            return
        counts = np.diff(rows.indptr) + 1
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
        index = np.empty(int(counts.sum()), dtype=np.int32)
        value = np.full(index.size, -1.0)
        head = np.zeros(index.size, dtype=bool)
        head[starts] = True
        index[head], value[head] = self.n_x + np.arange(n_y), 1.0
        index[~head] = rows.indices
        self.h.addRows(n_y, np.full(n_y, -highspy.kHighsInf), np.zeros(n_y), index.size, starts, index, value)

    def _conflict_rows(self) -> None:
        if not self.problem.conflicts.size:
            return
        local = np.full(self.problem.n_candidates, -1, dtype=np.int64)
        local[self.cols] = np.arange(self.n_x)
        pairs = local[self.problem.conflicts]
        pairs = pairs[(pairs >= 0).all(axis=1)]
        m = pairs.shape[0]
        if m:
            self.h.addRows(m, np.full(m, -highspy.kHighsInf), np.ones(m), 2 * m,
                           np.arange(0, 2 * m, 2, dtype=np.int32), pairs.ravel().astype(np.int32), np.ones(2 * m))

    def run(self, start: list[int] | None, started: float, *, sense: str) -> Answer:
        if start:
            local = np.flatnonzero(np.isin(self.cols, start)).astype(np.int32)
            self.h.setSolution(int(local.size), local, np.ones(local.size))
        self.h.run()
        status, info = self.h.getModelStatus(), self.h.getInfo()
        elapsed = time.perf_counter() - started
        if status == highspy.HighsModelStatus.kInfeasible:
            return Answer([], math.nan, math.nan, "infeasible", "mip", sense, elapsed)
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(self.h.getSolution().col_value[: self.n_x]) if has_solution else np.zeros(self.n_x)
        chosen = [int(c) for c in self.cols[x > 0.5]]
        covered = self.constant + float(np.dot(self.weight, self._covered_groups(x))) if has_solution else 0.0
        if sense == "max":
            value = covered if has_solution else -math.inf
            bound = float(info.mip_dual_bound) + self.constant
        else:
            value = float(len(chosen)) if has_solution else math.inf
            bound = float(math.ceil(float(info.mip_dual_bound) - 1e-6))
        optimal = status == highspy.HighsModelStatus.kOptimal and (
            self.h.getOptionValue("mip_rel_gap") == 0.0 or _close(value, bound))
        answer = Answer(chosen, value, bound, "optimal" if optimal else "feasible", "mip", sense, elapsed,
                        covered_weight=covered)
        if not optimal:
            answer.notes.append(f"HiGHS stopped: {self.h.modelStatusToString(status)}")
        return answer

    def _covered_groups(self, x: np.ndarray) -> np.ndarray:
        return (self.rows @ (x > 0.5).astype(float)) > 0


def maximise_coverage(problem: Problem, *, p: int, method: str = "auto", time_limit_s: float = 10.0,
                      gap_tolerance: float = 0.0) -> Answer:
    """MCLP: greedy first (fast, with a bound); then HiGHS from the greedy answer unless the bound already
    proves it optimal (or within ``gap_tolerance``), ``method="greedy"``, or the instance is too big for the
    MIP. Best of both is returned, with the tighter bound."""
    greedy = greedy_mclp(problem, p=p)
    if method == "greedy" or greedy.status == "optimal" or greedy.gap <= gap_tolerance:
        return greedy
    if method == "auto" and problem.rows.nnz > MAX_MIP_NONZEROS:
        greedy.notes.append(f"MIP skipped: {problem.rows.nnz} nonzeros > {MAX_MIP_NONZEROS}")
        return greedy
    mip = mip_mclp(problem, p=p, time_limit_s=time_limit_s - greedy.solve_time_s, start=greedy.chosen,
                   gap_tolerance=gap_tolerance)
    best = mip if mip.objective >= greedy.objective else greedy
    bound = min(greedy.bound, mip.bound) if math.isfinite(mip.bound) else greedy.bound
    optimal = mip.status == "optimal" or _close(best.objective, bound)
    return Answer(best.chosen, best.objective, max(bound, best.objective), "optimal" if optimal else "feasible",
                  "greedy+mip", "max", greedy.solve_time_s + mip.solve_time_s, covered_weight=best.objective,
                  notes=mip.notes)


def cover_target(problem: Problem, *, need: float, method: str = "auto", time_limit_s: float = 10.0) -> Answer:
    """Set covering: the fewest booths (forced ones included) that newly cover ``need`` weight, or an
    ``infeasible`` answer whose ``reachable_weight`` is the most any choice of booths can cover."""
    started = time.perf_counter()
    reach = reachable_weight(problem)
    if need > reach + _TOL and not problem.conflicts.size:
        return Answer([], math.inf, math.nan, "infeasible", "bound", "min", time.perf_counter() - started,
                      reachable_weight=reach)
    greedy = greedy_cover(problem, need=need)
    greedy.reachable_weight = reach if not problem.conflicts.size else math.nan
    if greedy.status == "optimal" or (method == "greedy" and math.isfinite(greedy.objective)):
        return greedy
    too_big = method == "auto" and problem.rows.nnz > MAX_MIP_NONZEROS
    if too_big and math.isfinite(greedy.objective):
        greedy.notes.append(f"MIP skipped: {problem.rows.nnz} nonzeros > {MAX_MIP_NONZEROS}")
        return greedy
    left = time_limit_s - greedy.solve_time_s
    mip = mip_cover(problem, need=need, time_limit_s=left,
                    start=greedy.chosen if math.isfinite(greedy.objective) else None)
    if mip.status == "infeasible" or (need > reach + _TOL):
        best = maximise_coverage(problem, p=problem.n_candidates, method=method,
                                 time_limit_s=max(left - mip.solve_time_s, 1.0))
        answer = Answer([], math.inf, math.nan, "infeasible", "greedy+mip", "min",
                        time.perf_counter() - started, reachable_weight=best.objective)
        if best.status != "optimal":
            answer.notes.append(f"best reachable coverage is {best.quality} (at most {best.bound:.0f})")
        return answer
    best = mip if mip.objective <= greedy.objective else greedy
    bound = max(greedy.bound, mip.bound) if math.isfinite(mip.bound) else greedy.bound
    optimal = mip.status == "optimal" or best.objective <= bound
    return Answer(best.chosen, best.objective, min(bound, best.objective), "optimal" if optimal else "feasible",
                  "greedy+mip", "min", time.perf_counter() - started, covered_weight=best.covered_weight,
                  reachable_weight=greedy.reachable_weight, notes=mip.notes)
