"""The plan against licence regimes by scenario decomposition: one subproblem per regime, an honest bound.

``build_regimes`` (planner.optimise.regimes) solves the problem as one extensive-form model: every regime's
horizon model, one shared copy of the first-stage columns (``FIRST_STAGE``), equality rows tying the
columns of periods two regimes cannot yet tell apart (``same`` rows), and the CVaR columns. Here the same
model is split into one subproblem per regime, read from the stitched arrays (``rm.lp``) so that it is
exactly the problem the extensive form solves:

* Regime w's subproblem holds its own rows (its horizon model's block, ``Regime.row0``..., and its CVaR row)
  and every column they touch: its own columns, a copy of each first-stage column it uses (also one its
  model lacks but whose fee its CVaR row counts: ``Regime.missing``), a copy of the CVaR threshold eta.
  Own costs are the stitched ones (already ``p_w x cost``); a shared column's cost is split in proportion
  to the probabilities of the regimes that hold a copy, so the subproblems' costs add up to the model's.
* **Non-anticipativity is relaxed with multipliers** (Lagrangian relaxation, multipliers updated as in
  progressive hedging): the copies of a shared column form a group, and so do the columns that ``same``
  rows tie (connected through them). Subproblem w pays ``p_w W_wg x_wg`` for its member of group g, with
  ``sum_w p_w W_wg = 0`` in every group (Gade et al. 2016). For any such W and any solutions of the
  subproblems, the sum of the subproblems' optima is a lower bound on the extensive optimum (the W terms
  sum to 0 on every non-anticipative plan, and each subproblem is a relaxation of its part). Each term is
  the subproblem's **dual bound** (a MIP's best bound, not its incumbent), so the bound holds whatever gap
  a subproblem stopped at, at every iteration, not only at convergence.
* Only the tied columns whose values reach outside their group are dualised: a tied column that meets, in
  its regime's rows, only columns tied among the same regimes (a 2026 shipment, between 2026 balance rows)
  has its equalities dropped, not priced. Dropping a constraint is a relaxation, so the bound stays valid;
  it is as strong as pricing them, since such columns see the same rows in every regime of the group and
  the ones that carry a period into the next (closing stock, a use tied to a start) stay priced. The
  bundled five-year case against its 16 regimes then prices 157 groups (25 qualification starts, 132 closing
  stocks) and relaxes 1,697.
* Eta's multipliers stay in the box where every subproblem is bounded: eta enters regime w as
  ``(lam + W_w) p_w eta`` beside ``u_w >= cost_w - eta`` at ``lam p_w / (1 - alpha)``, so
  ``-lam < W_w < lam alpha / (1 - alpha)`` (alpha = 1: above -lam only); the box holds the Lagrangian dual's
  optimum, and projecting onto it and the zero sum keeps every bound finite and valid.
* **Why no proximal term**: HiGHS has no MIQP. The PH proximal term is linear on binaries (x^2 = x), but the
  first stage also has continuous columns (reserved volumes) and the tied columns are continuous flows and
  stocks; an L1 proximal term would add two columns and a row per priced column and would itself need a
  second, proximal-free solve per iteration for the bound. Plain Lagrangian steps give the bound from the
  one solve per regime per iteration; the primal plan comes from fixing (below), not from PH's consensus
  converging. The step is Polyak's (target: the best upper bound), scaled per group by the spread of its
  members' values (binaries and USD-sized eta in one step), halved after ``patience`` iterations without
  a better bound. Nothing depends on the clock: an iteration cap and a gap target.
* **Upper bound, only from a plan of the whole problem**: the priced columns are fixed at the
  probability-weighted consensus of the subproblems' copies (rounded for integer columns; a continuous
  one at the average, within its bounds): the first stage, and the state a shared period hands on (if that
  leaves a regime without a plan, the first stage alone). The regimes are re-solved with their Lagrangian
  costs in order of their ties: a tied column is fixed at the value of its group's first regime (the
  representative), solved before it. A consensus already tried is not tried again. The assembled vector
  gets eta and u_w from the regimes' costs (eta at the CVaR minimiser) and is checked against every row,
  bound and integrality of ``rm.lp``; only a vector that passes is an upper bound. Status: ``optimal`` when
  the gap (as ``solve`` measures it) is within the target, else ``feasible`` with its gap, ``bound only``
  without a plan, ``infeasible`` when a regime alone is.

Subproblems are solved in a process pool (``workers``) or in turn; each is a cold, single-threaded HiGHS
run on its own arrays, so both give the same iterations and the same plan.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from planner.errors import NoSolutionError
from planner.input.data import SolveOptions
from planner.optimise.model import LinearModel
from planner.optimise.regimes import COST_SCALE, RegimeModel
from planner.optimise.solve import (
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    SolveResult,
    _gap,
    _highs_lp,
    _new_highs,
    solve,
)

METHODS = ("extensive", "decomposed")
BOUND_ONLY = "bound only"
# eta's multipliers are kept this far (relative to lam) inside the box where every subproblem is bounded, so
# that rounding cannot leave eta a negative cost with nothing to stop it
ETA_MARGIN = 1e-6
# a continuous priced column whose copies differ by less than this (relative to its scale) agrees
AGREE = 1e-9
# a subproblem MIP HiGHS calls a "Solve error" for 1e-6 of absolute infeasibility is solved again at this
MIP_FEASIBILITY_RETRY = 1e-5


@dataclass
class Subproblem:
    """One regime's part of the stitched model, in its own (local) numbering."""

    w: int
    p: float
    cols: np.ndarray  # local column l is the stitched column cols[l]
    c: np.ndarray  # costs: own columns as stitched, shared ones' share
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray
    a_row: np.ndarray
    a_col: np.ndarray
    a_val: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray

    def model(self, c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> LinearModel:
        return LinearModel(c=c, col_lo=lo, col_hi=hi, integer=self.integer, a_row=self.a_row, a_col=self.a_col,
                           a_val=self.a_val, row_lo=self.row_lo, row_hi=self.row_hi, cols=None, rows=None,
                           net=None, inputs=None)  # type: ignore[arg-type]


@dataclass
class Group:
    """Columns that non-anticipativity makes one decision: a shared column's copies, or ``same``-tied ones."""

    kind: str  # "shared" (a first-stage column or eta: one stitched column) or "tied"
    w: np.ndarray  # member regimes
    local: np.ndarray  # each member's local column
    stitched: np.ndarray  # each member's stitched column
    integer: bool
    priced: bool  # dualised (a relaxed one is dropped: see the module's docstring)
    eta: bool = False


@dataclass
class Split:
    rm: RegimeModel
    lp: LinearModel  # the model decomposed: rm.lp, or one like it with other bounds (first stage fixed)
    subs: list[Subproblem]
    groups: list[Group]
    # per regime: (local column, stitched column of the representative's member) fixed in the upper-bound pass
    follow: list[list[tuple[int, int]]]
    level: list[int]  # the upper-bound pass solves regimes level by level (a level after its representatives)
    cvar_rows: dict[int, int] = field(default_factory=dict)  # regime -> its CVaR row in lp

    @property
    def priced(self) -> list[int]:
        return [g for g, grp in enumerate(self.groups) if grp.priced]


@dataclass
class Iteration:
    k: int
    bound: float  # this iteration's Lagrangian bound (sum of the subproblems' dual bounds)
    best_bound: float
    upper: float | None  # best upper bound so far
    gap: float | None
    theta: float
    step: float
    zero_sum: float  # the largest |sum_w p_w W_wg| / max|W_g| over groups: 0 up to rounding
    disagreement: float  # the largest spread of a priced group's members, relative to its scale
    subproblem_s: float  # wall time of the iteration's subproblem solves
    upper_tried: bool


@dataclass
class DecomposedResult:
    status: str  # optimal, feasible, bound only, infeasible
    x: np.ndarray | None  # a solution of rm.lp (None without an upper bound)
    upper: float | None
    lower: float
    gap: float | None
    iterations: int
    history: list[Iteration]
    priced_groups: int
    relaxed_groups: int
    runtime_s: float
    cpu_s: float  # this process's and its workers' CPU time
    workers: int
    upper_passes: int = 0
    message: str = ""

    def describe(self) -> str:
        if self.status == FEASIBLE:
            return f"feasible, gap {100 * (self.gap or 0.0):.3g} %"
        return self.status

    def as_solve_result(self) -> SolveResult:
        """As ``solve`` would report it, for the plan's reading (``planner.api.plan_regimes``)."""
        if self.status == BOUND_ONLY:
            raise NoSolutionError(
                f"the scenario decomposition found no feasible plan in {self.iterations} iterations (lower bound "
                f"{self.lower:,.0f}); plan with regime_method = extensive")
        status = {OPTIMAL: OPTIMAL, FEASIBLE: FEASIBLE, INFEASIBLE: INFEASIBLE}[self.status]
        import highspy  # noqa: PLC0415

        return SolveResult(status=status, objective=self.upper, bound=self.lower if np.isfinite(self.lower) else None,
                           gap=self.gap, runtime_s=self.runtime_s, solver="decomposition",
                           solver_version=f"HiGHS {highspy.Highs().version()}, scenario decomposition",
                           x=self.x, row_dual=None, message=self.message, limit_hit=status == FEASIBLE)


# --------------------------------------------------------------------------- the split


def split(rm: RegimeModel, lp: LinearModel | None = None, relax_internal: bool = True) -> Split:
    """Regime subproblems and non-anticipativity groups of the stitched model ``lp`` (default ``rm.lp``).

    Raises
    ------
    ValueError
        ``lp`` has a row that is neither a regime's, a CVaR row nor a ``same`` row: a structure this split
        does not know, which it must not guess at.
    """
    lp = lp if lp is not None else rm.lp
    n_reg = len(rm.regimes)
    p = np.array([r.probability for r in rm.regimes], dtype=float)
    owner = np.full(lp.n_rows, -1, dtype=np.int64)  # row -> its regime; -2: a same row
    for w, r in enumerate(rm.regimes):
        assert r.hm is not None
        owner[r.row0:r.row0 + r.hm.lp.n_rows] = w
    keys = lp.rows["key"].tolist()
    kinds = lp.rows["kind"].to_numpy()
    cvar_rows = {}
    for i in np.flatnonzero(kinds == "cvar").tolist():
        owner[i] = int(keys[i][1])
        cvar_rows[int(keys[i][1])] = i
    owner[kinds == "same"] = -2
    if (owner == -1).any():
        odd = sorted({str(k) for k in kinds[owner == -1]})
        raise ValueError(f"rows of kinds {', '.join(odd)} are neither a regime's nor non-anticipativity rows")

    entry_owner = owner[lp.a_row]
    holders: list[np.ndarray] = []
    for w, r in enumerate(rm.regimes):
        assert r.cols is not None
        holders.append(np.unique(np.concatenate([r.cols, lp.a_col[entry_owner == w]])))
    count = np.bincount(np.concatenate(holders), minlength=lp.n_cols)
    if (count == 0).any():
        raise ValueError(f"{int((count == 0).sum())} columns belong to no regime")
    mass = np.zeros(lp.n_cols)
    for w, cols in enumerate(holders):
        mass[cols] += p[w]
    shared = count > 1

    subs = []
    for w, cols in enumerate(holders):
        mine = entry_owner == w
        rows = np.unique(lp.a_row[mine])
        rows = np.union1d(rows, np.flatnonzero(owner == w))  # rows without entries still hold their bounds
        c = lp.c[cols].copy()
        sh = shared[cols]
        c[sh] = lp.c[cols[sh]] * (p[w] / mass[cols[sh]] if p[w] > 0 else 0.0)
        subs.append(Subproblem(
            w, float(p[w]), cols, c, lp.col_lo[cols].copy(), lp.col_hi[cols].copy(), lp.integer[cols].copy(),
            np.searchsorted(rows, lp.a_row[mine]), np.searchsorted(cols, lp.a_col[mine]), lp.a_val[mine].copy(),
            lp.row_lo[rows].copy(), lp.row_hi[rows].copy()))

    # column -> (regime, local) for own columns; shared ones have a copy per holder
    col_owner = np.full(lp.n_cols, -1, dtype=np.int64)
    col_local = np.full(lp.n_cols, -1, dtype=np.int64)
    for w, cols in enumerate(holders):
        own = ~shared[cols]
        col_owner[cols[own]] = w
        col_local[cols[own]] = np.flatnonzero(own)

    groups: list[Group] = []
    for j in np.flatnonzero(shared).tolist():
        ws = np.array([w for w in range(n_reg) if _holds(holders[w], j)], dtype=np.int64)
        loc = np.array([int(np.searchsorted(holders[w], j)) for w in ws.tolist()], dtype=np.int64)
        groups.append(Group("shared", ws, loc, np.full(len(ws), j, dtype=np.int64), bool(lp.integer[j]), True,
                            eta=j == rm.eta))

    # tied columns: components of the graph whose edges are same rows
    same = np.flatnonzero(owner == -2)
    parent = np.arange(lp.n_cols)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    at = np.isin(lp.a_row, same)
    order = np.argsort(lp.a_row[at], kind="stable")
    rows_, cols_, vals_ = lp.a_row[at][order], lp.a_col[at][order], lp.a_val[at][order]
    starts = np.searchsorted(rows_, same)
    ends = np.searchsorted(rows_, same, side="right")
    for i, s, e in zip(same.tolist(), starts.tolist(), ends.tolist(), strict=True):
        pair, v = cols_[s:e], vals_[s:e]
        if len(pair) != 2 or v.sum() != 0 or lp.row_lo[i] != 0 or lp.row_hi[i] != 0 or shared[pair].any():
            raise ValueError(f"the non-anticipativity row {keys[i]} is not an equality of two regimes' columns")
        a, b = find(int(pair[0])), find(int(pair[1]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    tied_cols = np.unique(cols_)
    roots = np.array([find(int(j)) for j in tied_cols.tolist()], dtype=np.int64)
    comp_order = np.lexsort((col_owner[tied_cols], roots))
    tied_cols, roots = tied_cols[comp_order], roots[comp_order]
    bounds = np.flatnonzero(np.diff(roots)) + 1
    follow: list[list[tuple[int, int]]] = [[] for _ in range(n_reg)]
    tied_groups: list[np.ndarray] = []
    for members in np.split(tied_cols, bounds) if len(tied_cols) else []:
        ws = col_owner[members]
        if len(np.unique(ws)) != len(ws):
            raise ValueError("a regime's own columns are tied to each other")
        tied_groups.append(members)
        for j in members[1:].tolist():  # sorted by regime: the first is the representative
            follow[int(col_owner[j])].append((int(col_local[j]), int(members[0])))

    # which tied groups reach outside themselves: a member in a row (of its regime, CVaR rows aside) with a
    # column that the group's regimes may hold at different values (an untied column, one tied among fewer
    # regimes, a first stage that not all of them hold). A column tied among more regimes (an earlier period,
    # a first stage all hold) is one value for the whole group once its own equalities hold
    sets: dict[frozenset[int], int] = {}
    set_id = np.full(lp.n_cols, -1, dtype=np.int64)
    for w in range(n_reg):
        set_id[col_owner == w] = sets.setdefault(frozenset((w,)), len(sets))
    # a regime's untied column of a period it shares with others is one its representative lacks, which its
    # own rows hold at 0 there (planner.optimise.regimes._period_columns): the same in every regime of the
    # period's class
    period_of = {t: k for k, t in enumerate(rm.periods)}
    col_keys = lp.cols["key"].tolist()
    for j in np.flatnonzero(col_owner >= 0).tolist():
        key = col_keys[j]
        k = period_of.get(key[2]) if len(key) > 2 and isinstance(key[2], str) else None
        if k is not None:
            w = int(col_owner[j])
            cls = frozenset(v for v, rep in enumerate(rm.same_as[k]) if rep == rm.same_as[k][w])
            if len(cls) > 1:
                set_id[j] = sets.setdefault(cls, len(sets))
    for grp in groups:
        set_id[grp.stitched[0]] = sets.setdefault(frozenset(grp.w.tolist()), len(sets))
    tied_ids = set()
    for members in tied_groups:
        set_id[members] = sets.setdefault(frozenset(col_owner[members].tolist()), len(sets))
        tied_ids.add(int(set_id[members[0]]))
    by_id = list(sets)
    regime_entry = (entry_owner >= 0) & (kinds[lp.a_row] != "cvar")
    r_, s_ = lp.a_row[regime_entry], set_id[lp.a_col[regime_entry]]
    pairs = np.unique(r_ * len(sets) + s_)  # (row, set) present, by row
    p_row, p_set = pairs // len(sets), pairs % len(sets)
    cuts = np.flatnonzero(np.diff(p_row)) + 1
    bad = []
    for ids, rows_at in zip(np.split(p_set, cuts), np.split(p_row, cuts), strict=True):
        if len(ids) < 2:
            continue
        for t in ids.tolist():
            if t in tied_ids and any(not by_id[u] >= by_id[t] for u in ids.tolist()):
                bad.append(int(rows_at[0]) * len(sets) + t)
    reach = np.zeros(lp.n_cols, dtype=bool)
    hit = np.isin(r_ * len(sets) + s_, np.asarray(bad, dtype=np.int64))
    reach[lp.a_col[regime_entry][hit]] = True
    for members in tied_groups:
        ws = col_owner[members]
        groups.append(Group("tied", ws, col_local[members], members, bool(lp.integer[members].any()),
                            bool(reach[members].any()) or not relax_internal))

    level = [0] * n_reg
    for w in range(n_reg):
        reps = {int(col_owner[src]) for _, src in follow[w]}
        level[w] = 1 + max((level[v] for v in reps), default=-1)
    return Split(rm, lp, subs, groups, follow, level, cvar_rows)


def _holds(cols: np.ndarray, j: int) -> bool:
    i = int(np.searchsorted(cols, j))
    return i < len(cols) and int(cols[i]) == j


# --------------------------------------------------------------------------- subproblem solves


@dataclass
class Task:
    w: int
    c: np.ndarray
    fix: np.ndarray | None = None  # local columns fixed ...
    at: np.ndarray | None = None  # ... at these values


@dataclass
class Solved:
    w: int
    status: str  # optimal, feasible (a limit, with a plan), infeasible, unbounded, failed
    x: np.ndarray | None
    objective: float | None
    bound: float  # the dual bound: -inf when none is known
    cpu_s: float = 0.0
    message: str = ""  # HiGHS's model status


def solve_subproblem(sub: Subproblem, task: Task, options: SolveOptions) -> Solved:
    """One regime's subproblem with the task's costs (and fixings), single-threaded HiGHS, cold."""
    import highspy  # noqa: PLC0415

    c0 = time.process_time()
    lo, hi = sub.lo, sub.hi
    if task.fix is not None and len(task.fix):
        lo, hi = lo.copy(), hi.copy()
        lo[task.fix] = hi[task.fix] = task.at
    model = sub.model(task.c, lo, hi)
    h = _new_highs(dataclasses.replace(options, verbose=False, threads=1))
    h.passModel(_highs_lp(model))
    h.run()
    ms = h.getModelStatus()
    if ms in (highspy.HighsModelStatus.kUnboundedOrInfeasible, highspy.HighsModelStatus.kUnbounded):
        h.setOptionValue("presolve", "off")
        h.run()
        ms = h.getModelStatus()
    if ms == highspy.HighsModelStatus.kSolveError and model.is_mip:
        # HiGHS checks a MIP's final plan against an absolute tolerance (1e-6), which a CVaR row summing a
        # regime's cost in USD (1e10) misses by rounding (1e-6 USD over 1e10); the plan is checked again,
        # relative to each row's size, before it counts (``feasible``)
        h.setOptionValue("mip_feasibility_tolerance", MIP_FEASIBILITY_RETRY)
        h.run()
        ms = h.getModelStatus()
    info = h.getInfo()
    cpu = time.process_time() - c0
    said = h.modelStatusToString(ms)
    if ms == highspy.HighsModelStatus.kInfeasible:
        return Solved(sub.w, INFEASIBLE, None, None, np.inf, cpu, said)
    if ms == highspy.HighsModelStatus.kUnbounded:
        return Solved(sub.w, "unbounded", None, None, -np.inf, cpu, said)
    has_x = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    objective = float(info.objective_function_value) if has_x else None
    if model.is_mip:
        bound = float(info.mip_dual_bound)
        bound = bound if np.isfinite(bound) else -np.inf
    else:  # an LP's bound is its optimum, once proven
        bound = objective if ms == highspy.HighsModelStatus.kOptimal and objective is not None else -np.inf
    status = OPTIMAL if ms == highspy.HighsModelStatus.kOptimal else (FEASIBLE if has_x else "failed")
    return Solved(sub.w, status, x, objective, bound, cpu, said)


_WORKER: dict[str, object] = {}


def _init_worker(subs: list[Subproblem], options: SolveOptions) -> None:
    _WORKER["subs"], _WORKER["options"] = subs, options


def _pool_task(task: Task) -> Solved:
    return solve_subproblem(_WORKER["subs"][task.w], task, _WORKER["options"])  # type: ignore[index]


# --------------------------------------------------------------------------- the method


class _Runner:
    """Solves a list of tasks in order, in turn or in a process pool (the same results either way)."""

    def __init__(self, subs: list[Subproblem], options: SolveOptions, workers: int) -> None:
        self.subs, self.options, self.workers = subs, options, workers
        self.pool = None
        self.cpu_s = 0.0
        if workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(subs, options))

    def __call__(self, tasks: list[Task]) -> list[Solved]:
        if self.pool is None:
            out = [solve_subproblem(self.subs[t.w], t, self.options) for t in tasks]
        else:
            out = list(self.pool.map(_pool_task, tasks))
        self.cpu_s += sum(o.cpu_s for o in out)
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers(n: int) -> int:
    return max(1, min(available_cores(), n))


def solve_decomposed(rm: RegimeModel, *, workers: int | None = None, max_iter: int = 50, gap: float = 1e-4,
                     options: SolveOptions | None = None, lp: LinearModel | None = None, sub_gap: float | None = None,
                     theta: float = 1.0, patience: int = 3, relax_internal: bool = True,
                     solver: Callable[[Iterable[Task]], list[Solved]] | None = None) -> DecomposedResult:
    """Solve the plan against regimes ``rm`` (its stitched model ``lp``, default ``rm.lp``) by scenario
    decomposition (see the module's docstring).

    ``workers``: processes for the subproblems (None: one per core, at most one per regime; 1: in turn, in
    this process). ``max_iter``: the iteration cap; ``gap``: stop once the upper and lower bounds are this
    close (relative, as ``solve`` measures a MIP's gap). ``sub_gap``: each subproblem MIP's own gap (default
    ``gap / 10``; only the bound's strength depends on it). ``solver``: solves a list of tasks in place of
    the built-in runner (tests).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    opts = options or SolveOptions()
    lp = lp if lp is not None else rm.lp
    sp = split(rm, lp, relax_internal)
    n_reg = len(sp.subs)
    n_workers = default_workers(n_reg) if workers is None else max(1, int(workers))
    sub_opts = dataclasses.replace(opts, mip_gap=gap / 10 if sub_gap is None else sub_gap, time_limit_s=np.inf)
    runner = _Runner(sp.subs, sub_opts, n_workers if solver is None else 1)
    run = solver if solver is not None else runner
    try:
        return _iterate(sp, run, runner, max_iter, gap, theta, patience, t0, c0, n_workers)
    finally:
        runner.close()


def _iterate(sp: Split, run, runner: _Runner, max_iter: int, gap: float, theta: float, patience: int,  # noqa: ANN001, PLR0913
             t0: float, c0: float, n_workers: int) -> DecomposedResult:
    rm, lp = sp.rm, sp.lp
    priced = [sp.groups[g] for g in sp.priced]
    p = np.array([s.p for s in sp.subs])
    W = [np.zeros(len(g.w)) for g in priced]
    lam, alpha = rm.risk_aversion * COST_SCALE, rm.alpha  # eta's objective coefficient: it is in M USD
    eta_box = (-lam * (1 - ETA_MARGIN), lam * alpha / (1 - alpha) * (1 - ETA_MARGIN) if alpha < 1 else np.inf)

    best_lb, ub, x_best = -np.inf, None, None
    history: list[Iteration] = []
    tried: set[bytes] = set()
    tied = any(g.kind == "tied" for g in sp.groups)
    stall, passes, status, message = 0, 0, None, ""
    reason = f"stopped at the iteration cap ({max_iter})"
    k = 0
    for k in range(max_iter):
        costs = [s.c.copy() for s in sp.subs]
        for g, wg in zip(priced, W, strict=True):
            for m, (w, loc) in enumerate(zip(g.w.tolist(), g.local.tolist(), strict=True)):
                costs[w][loc] += p[w] * wg[m]
        s0 = time.perf_counter()
        out = run([Task(w, costs[w]) for w in range(len(sp.subs))])
        sub_s = time.perf_counter() - s0
        if any(o.status == INFEASIBLE for o in out):
            bad = [rm.regimes[o.w].name for o in out if o.status == INFEASIBLE]
            status, message = INFEASIBLE, f"regime {bad[0]} has no feasible plan even on its own"
            break
        lb = float(sum(o.bound for o in out))
        improved = np.isfinite(lb) and (not np.isfinite(best_lb) or lb > best_lb + 1e-12 * max(1.0, abs(best_lb)))
        if improved:
            best_lb, stall = lb, 0
        else:
            stall += 1
        have = all(o.x is not None for o in out)
        # the upper bound: the priced columns at their consensus, the regimes re-solved in order of their ties
        upper_tried = False
        if have:
            agreed = _consensus(sp, out, p)
            key = np.asarray([float(f"{v:.9g}") for v in agreed.values()]).tobytes()
            if key not in tried:
                tried.add(key)
                upper_tried = True
                for tied_too in ((True, False) if tied else (False,)):
                    passes += 1
                    x = _upper_pass(sp, run, costs, agreed, tied_too)
                    if x is not None:
                        obj = float(lp.c @ x)
                        if ub is None or obj < ub:
                            ub, x_best = obj, x
                        break
        g_now = _gap(ub, best_lb) if ub is not None and np.isfinite(best_lb) else None
        # the step: Polyak's towards the best upper bound, each priced group scaled by its members' spread
        d, scale = [], []
        for g in priced:
            vals = np.array([out[w].x[loc] if out[w].x is not None else 0.0
                             for w, loc in zip(g.w.tolist(), g.local.tolist(), strict=True)])
            pw = p[g.w]
            mean = float(pw @ vals / pw.sum()) if pw.sum() > 0 else float(vals.mean())
            s = 1.0 if g.integer else max(1.0, float(np.abs(vals).max()))
            dev = vals - mean
            dev[np.abs(dev) <= AGREE * s] = 0.0  # solver noise is not disagreement: its step would be huge
            d.append(dev)
            scale.append(s)
        norm = sum(float(p[g.w] @ (di / s) ** 2) for g, di, s in zip(priced, d, scale, strict=True))
        spread = max((float(np.abs(di).max()) / s for di, s in zip(d, scale, strict=True)), default=0.0)
        zero = max((abs(float(p[g.w] @ wg)) / max(1e-300, float(np.abs(wg).max(initial=0.0)))
                    for g, wg in zip(priced, W, strict=True) if np.abs(wg).max(initial=0.0) > 0), default=0.0)
        if stall >= patience:
            theta, stall = theta / 2, 0
        target = ub if ub is not None else (lb + 0.05 * max(1.0, abs(lb)) if np.isfinite(lb) else None)
        step = theta * (target - lb) / norm if norm > 0 and target is not None and np.isfinite(lb) else 0.0
        step = max(step, 0.0)
        history.append(Iteration(k, lb, best_lb, ub, g_now, theta, step, zero, spread, sub_s, upper_tried))
        if g_now is not None and g_now <= gap:
            status, reason = OPTIMAL, "gap closed"
            break
        if norm == 0 and have:
            # every priced copy agrees: a zero supergradient, so the multipliers are the Lagrangian dual's optimum
            # and further steps change nothing; what gap is left is the relaxation's (or the plan's)
            reason = "the multipliers are optimal (every priced copy agrees); the gap left is the relaxation's"
            break
        for i, (g, di, s) in enumerate(zip(priced, d, scale, strict=True)):
            W[i] = W[i] + step * di / s**2
            W[i] = _project(W[i], p[g.w], eta_box if g.eta else (-np.inf, np.inf))
    iterations = len(history)
    if status is None:
        status = FEASIBLE if ub is not None else BOUND_ONLY
    gap_final = _gap(ub, best_lb) if ub is not None and np.isfinite(best_lb) else None
    if status == OPTIMAL and (gap_final is None or gap_final > gap):
        status = FEASIBLE
    if not message:
        message = (f"scenario decomposition: {iterations} iterations, {len(priced)} priced groups, "
                   f"{passes} upper-bound passes; {reason}")
    return DecomposedResult(
        status=status, x=x_best if status != INFEASIBLE else None, upper=ub if status != INFEASIBLE else None,
        lower=best_lb if status != INFEASIBLE else np.inf, gap=gap_final if status != INFEASIBLE else None,
        iterations=iterations, history=history, priced_groups=len(priced),
        relaxed_groups=len(sp.groups) - len(priced), runtime_s=time.perf_counter() - t0,
        cpu_s=time.process_time() - c0 + (runner.cpu_s if runner.pool is not None else 0.0), workers=n_workers,
        upper_passes=passes, message=message)


def _project(v: np.ndarray, p: np.ndarray, box: tuple[float, float]) -> np.ndarray:
    """The nearest (in the p-weighted norm) multipliers to ``v`` within ``box`` with ``sum p W = 0``."""
    lo, hi = box
    if p.sum() <= 0:
        return np.clip(v - v.mean(), lo, hi)
    if not (np.isfinite(lo) or np.isfinite(hi)):
        return v - float(p @ v) / float(p.sum())

    def total(tau: float) -> float:
        return float(p @ np.clip(v - tau, lo, hi))

    a, b = float(v.min()), float(v.max())  # total(a) >= 0 >= total(b), as lo < 0 < hi
    for _ in range(200):  # total() falls with tau: bisection, a fixed number of halvings
        mid = 0.5 * (a + b)
        if total(mid) > 0:
            a = mid
        else:
            b = mid
    out = np.clip(v - 0.5 * (a + b), lo, hi)
    # what is left of the sum after bisection (a few ulps) goes to the members furthest from the box's edges
    rest = float(p @ out)
    room = np.where(rest > 0, out - lo, hi - out)
    i = int(np.argmax(np.where(p > 0, room, -np.inf)))
    out[i] -= rest / p[i]
    return out


def _consensus(sp: Split, out: list[Solved], p: np.ndarray) -> dict[int, float]:
    """Per priced group (eta aside): the probability-weighted mean of its members' values, rounded if integer,
    within the column's bounds."""
    vals = {}
    for gi, g in enumerate(sp.groups):
        if not g.priced or g.eta:
            continue
        v = np.array([out[w].x[loc] for w, loc in zip(g.w.tolist(), g.local.tolist(), strict=True)])
        pw = p[g.w]
        mean = float(pw @ v / pw.sum()) if pw.sum() > 0 else float(v.mean())
        j = int(g.stitched[0])
        mean = float(np.clip(mean, sp.lp.col_lo[j], sp.lp.col_hi[j]))
        vals[gi] = float(np.round(mean)) if g.integer else mean
    return vals


def _upper_pass(sp: Split, run, costs: list[np.ndarray], agreed: dict[int, float],  # noqa: ANN001
                tied_too: bool) -> np.ndarray | None:
    """A plan of the whole problem, or None. The first stage is fixed at ``agreed`` (and, ``tied_too``, the
    priced tied columns: the state a shared period hands on); each regime is solved after its
    representatives with its tied columns at their values, so every non-anticipativity row holds; the
    assembled vector is checked against every row of ``sp.lp``."""
    lp = sp.lp
    x = np.zeros(lp.n_cols)
    fixed: list[list[tuple[int, float]]] = [[] for _ in sp.subs]
    for gi, v in agreed.items():
        g = sp.groups[gi]
        if g.kind == "tied" and not tied_too:
            continue
        for w, loc, j in zip(g.w.tolist(), g.local.tolist(), g.stitched.tolist(), strict=True):
            fixed[w].append((loc, v))
            x[j] = v
    for level in range(max(sp.level) + 1):
        tasks = []
        for w in [w for w in range(len(sp.subs)) if sp.level[w] == level]:
            fixes = dict(fixed[w])
            fixes.update({loc: float(x[src]) for loc, src in sp.follow[w]})
            idx = np.array(sorted(fixes), dtype=np.int64)
            at = np.array([fixes[i] for i in idx.tolist()], dtype=float)
            ints = sp.subs[w].integer[idx]
            at[ints] = np.round(at[ints])
            tasks.append(Task(w, costs[w], idx, at))
        for o in run(tasks):
            if o.x is None:
                return None
            x[sp.subs[o.w].cols] = o.x  # a shared column comes back at the value it was fixed at
    ints = np.flatnonzero(lp.integer)
    x[ints] = np.round(x[ints])
    _set_cvar(sp, x)
    return x if feasible(lp, x) else None


def _set_cvar(sp: Split, x: np.ndarray) -> None:
    """eta and u_w at their best for the plan's regime costs (Rockafellar-Uryasev: eta at a regime's cost)."""
    rm, lp = sp.rm, sp.lp
    if rm.eta < 0:
        return
    costs = np.zeros(len(rm.regimes))
    for w, i in sp.cvar_rows.items():
        at = np.flatnonzero(lp.a_row == i)
        cols, vals = lp.a_col[at], lp.a_val[at]
        mine = (cols != rm.eta) & ~np.isin(cols, rm.tail)
        costs[w] = -float(vals[mine] @ x[cols[mine]])
    p = np.array([r.probability for r in rm.regimes])
    if rm.alpha >= 1.0:
        eta = float(costs.max())
    else:
        def f(e: float) -> float:
            return e + float(p @ np.maximum(costs - e, 0.0)) / (1.0 - rm.alpha)

        eta = min(sorted(costs.tolist()), key=f)
    x[rm.eta] = eta
    for w, u in enumerate(rm.tail):
        x[u] = max(costs[w] - eta, 0.0)


def feasible(lp: LinearModel, x: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether ``x`` satisfies every row, bound and integrality of ``lp``: a row within ``tol`` of its bound
    relative to the size of its terms (a cost row of 1e10 USD may be off by cents, a tonne row by 1e-6 t)."""
    if len(x) != lp.n_cols or not np.isfinite(x).all():
        return False
    terms = lp.a_val * x[lp.a_col]
    act = np.bincount(lp.a_row, weights=terms, minlength=lp.n_rows)
    size = np.bincount(lp.a_row, weights=np.abs(terms), minlength=lp.n_rows)
    slack = tol * (1.0 + size + np.where(np.isfinite(lp.row_lo), np.abs(lp.row_lo), 0.0)
                   + np.where(np.isfinite(lp.row_hi), np.abs(lp.row_hi), 0.0))
    rows_ok = (act >= lp.row_lo - slack).all() and (act <= lp.row_hi + slack).all()
    col_slack = tol * (1.0 + np.abs(x))
    cols_ok = (x >= lp.col_lo - col_slack).all() and (x <= lp.col_hi + col_slack).all()
    ints_ok = bool(np.all(np.abs(x[lp.integer] - np.round(x[lp.integer])) <= 1e-9))
    return bool(rows_ok and cols_ok and ints_ok)


# --------------------------------------------------------------------------- dispatch


def solve_regimes(rm: RegimeModel, options: SolveOptions, method: str = "extensive",
                  lp: LinearModel | None = None) -> SolveResult:
    """The plan against regimes ``rm`` (its stitched model, or ``lp``: one like it with other bounds) by the
    Settings ``regime_method``: the extensive form in one solve, or the scenario decomposition."""
    if method == "decomposed":
        return solve_decomposed(rm, options=options, lp=lp, gap=max(options.mip_gap, 1e-9)).as_solve_result()
    # The stitched model's LP relaxation by the simplex, not the interior point a one-year model of its size
    # gets: on the bundled 16 regimes (54k columns) 0.6 s against 3.1 s, and its vertex opens 69 of 281 yes/no
    # decisions where the interior point's iterate opens 114, so the restricted MIP takes 3.4 s, not 6.2 s;
    # on 64 synthetic regimes (197k columns) 1.3 s against 1.9 s, the same support. One-year models keep the
    # interior point (scale 24, 69k columns: 10 s against 24 s). bench/RESULTS.md, issue 13.
    return solve(lp if lp is not None else rm.lp, dataclasses.replace(options, relaxation="simplex"))
