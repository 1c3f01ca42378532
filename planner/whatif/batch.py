"""Run a baseline and its what-if scenarios, and compare them (no printing, no files).

The input is read and validated once; each scenario is applied to the
validated tables and solved on its own, in worker processes when ``jobs > 1``
(each solve is single-threaded, so processes are how a batch uses the cores).
A scenario that fails (a change that matches nothing, an invalid result, an
infeasible plan) is reported with its reason; the others still run.

On an input over periods (contract v2) each scenario is a plan over the whole horizon: the comparison
compares the horizon's totals (discounted costs, tonnes summed over the periods), ``period_comparison``
each period's figures, and lanes are compared period by period.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from planner.api import plan
from planner.errors import InfeasibleError, PlannerError, UsageError
from planner.input.data import Inputs, SolveOptions
from planner.optimise.model import EPS_CLASS, LinearModel
from planner.optimise.solve import OPTIMAL, SolveResult, WarmHighs, basic_rows, bounds_keep_basis, same_arrays, solve
from planner.results import tiers
from planner.results.report import Plan, build_plan
from planner.whatif.delta import DeltaBase, DeltaModel, Fallback, eligible, plan_delta
from planner.whatif.scenarios import Change, Scenario, ScenarioError, apply_scenario

BASELINE = "baseline"


@dataclass
class Outcome:
    scenario: str
    changes: tuple[Change, ...]
    status: str  # optimal, feasible, infeasible or error
    plan: Plan | None = None
    message: str = ""
    findings: list[str] = field(default_factory=list)
    capacity_t: float = 0.0  # total Supply capacity of the scenario, for the value of a capacity change
    # what a single solve of this scenario would have exited with (0: planned; 3: the scenario cannot be
    # applied), so the command line can exit with the baseline's own code
    exit_code: int = 0
    made_where: pd.DataFrame | None = None  # planner.results.tiers.by_country of the plan
    closest_s: float = 0.0  # time of the second, closest-to-baseline solve (0: none)


# Plans whose cost is within this of the least cost count as equally cheap (relative): the
# solver's tolerances are of this order, and the reported cost must match a single solve of the scenario.
EQUAL_COST = 1e-11


def lane_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that name a lane's flow: its ends and product, and its period in a plan over periods."""
    return [*(["period"] if "period" in frame else []), "from_site", "to_site", "product"]


def lane_flows(p: Plan) -> dict[tuple[str, ...], float]:
    f = p.flows
    if not len(f):
        return {}
    return {tuple(k): float(t) for *k, t in zip(*(f[c] for c in lane_keys(f)), f["tonnes"], strict=True)}


TIE_WEIGHT = 10.0
# Primal simplex iterations allowed to the closest-plan LP started from the least-cost plan's basis
# (``WarmClosest``); if they do not suffice it is solved from scratch. Measured at scale 24
# (bench/warm_bench.py): 1 to 6 iterations, whether the what-if moves the plan or not (0.08 s with setting
# the basis, against 0.2-0.3 s from scratch, which takes 1,400 iterations after presolve); dual simplex from
# that basis takes 1,400, and from the baseline's closest-plan basis up to 6,000 when the plan moves.
WARM_CLOSEST_ITERATIONS = 200


def closest_plan(model: LinearModel, result: SolveResult, reference: dict[tuple[str, str, str], float],
                 options: SolveOptions, layout: _Layout | None = None) -> SolveResult:
    """Among the plans as cheap as ``result`` (within EQUAL_COST), the one whose lane flows are closest to
    ``reference`` (L1 distance over lanes): a second, lexicographic solve.

    A what-if is read against the baseline plan, but a model with ties has many least-cost plans, and the
    solver's choice among them moves with any change to the model: the comparison then shows thousands of
    tonnes of lane changes that cost nothing and mean nothing. Here the cost is held at its optimum
    (on the optimal face of the least-cost solve's duals; without duals, c x <= c x* (1 + EQUAL_COST)), the
    yes/no decisions at the plan's, and the objective becomes the sum of |lane tonnes - baseline lane tonnes|
    (one auxiliary column per lane, two rows). The row duals stay those of the least-cost solve: they are
    optimal for every plan on that face.

    The columns the face fixes (every one with a non-zero reduced cost: about half of them) are substituted
    into the rows before HiGHS sees the LP, and the rows left without a free column dropped: HiGHS's presolve
    would remove them too, but at a cost of its own (0.07 of 0.2 s at scale 24). ``layout``: the LP's matrix
    for this model's structure and ``reference``, if already laid out (``WarmClosest``).
    """
    import highspy  # noqa: PLC0415

    from planner.optimise.solve import _new_highs, run_interruptible  # noqa: PLC0415

    si = model.ship_info
    if result.x is None or si is None or not len(si):
        return result
    face = _face(model, result)
    lp, free, _ = _closest_lp(model, result, face, layout or _layout(model, reference), reduce=True)
    h = _new_highs(replace(options, verbose=False))
    h.passModel(lp)
    run_interruptible(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return result  # the least-cost plan as solved: still right, only perhaps further from the baseline
    x2 = np.concatenate([face[0], np.zeros(len(free) - model.n_cols)])
    x2[free] = np.asarray(h.getSolution().col_value, dtype=float)
    return replace(result, x=x2[:model.n_cols], objective=result.objective)


def _face(model: LinearModel, result: SolveResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column and row bounds of the least-cost solve's optimal face: (col_lo, col_hi, row_lo, row_hi)."""
    x = result.x
    assert x is not None
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    ints = np.flatnonzero(model.integer)
    lo[ints] = hi[ints] = np.round(x[ints])
    row_lo, row_hi = model.row_lo.copy(), model.row_hi.copy()
    y = result.row_dual
    if y is not None:
        # the optimal face, exactly: complementary slackness with the least-cost solve's duals. A column with
        # a positive reduced cost stays at its lower bound (negative: upper), a row with a non-zero dual stays
        # at its bound; every plan left is as cheap. (A dense cost row "c x <= c x*" instead is at the mercy of
        # the solver's tolerances at 1e9 USD, and fails or lets the cost creep.)
        rc = model.c - np.bincount(model.a_col, weights=model.a_val * y[model.a_row], minlength=model.n_cols)
        tol = 1e-7 * max(1.0, float(np.abs(model.c).max(initial=0.0)))
        up = (rc > tol) & np.isfinite(lo)
        hi[up] = lo[up]
        down = (rc < -tol) & np.isfinite(hi)
        lo[down] = hi[down]
        at_lo = (y > tol) & np.isfinite(row_lo)
        row_hi[at_lo] = row_lo[at_lo]
        at_hi = (y < -tol) & np.isfinite(row_hi)
        row_lo[at_hi] = row_hi[at_hi]
    return lo, hi, row_lo, row_hi


@dataclass
class _Layout:
    """The matrix of a closest-plan LP for one model structure and reference, in column-major order.

    Per lane group g a distance column d_g (cost 1) and two rows, 2g: flow_g - d_g <= b_g and 2g+1:
    flow_g + d_g >= b_g (``lo``, ``hi``), after the model's rows; ``row``, ``col``: the entries of the model's
    matrix and of the distance rows, sorted by column then row; ``order``: where each comes from in the
    model's entries followed by the distance rows' (``val``)."""

    m: int
    row: np.ndarray
    col: np.ndarray
    order: np.ndarray
    val: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    ship_cols: np.ndarray
    group: np.ndarray

    def flow(self, x: np.ndarray) -> np.ndarray:
        """Per lane group, the tonnes of ``x`` on it."""
        return np.bincount(self.group, weights=x[self.ship_cols], minlength=self.m)


def _layout(model: LinearModel, reference: dict[tuple[str, ...], float]) -> _Layout:
    si = model.ship_info
    n, nr = model.n_cols, model.n_rows
    group, keys = _lane_groups(si)
    m = len(keys)
    b = np.array([reference.get(k, 0.0) for k in keys], dtype=float)
    cols = si["col"].to_numpy(dtype=np.int64)
    aux = np.arange(m)
    row = np.concatenate([model.a_row, nr + np.concatenate([2 * group, 2 * group + 1, 2 * aux, 2 * aux + 1])])
    col = np.concatenate([model.a_col, cols, cols, n + aux, n + aux])
    val = np.concatenate([np.ones(2 * len(cols)), -np.ones(m), np.ones(m)])
    order = np.lexsort((row, col))
    lo = np.empty(2 * m)
    hi = np.empty(2 * m)
    lo[0::2], hi[0::2] = -np.inf, b
    lo[1::2], hi[1::2] = b, np.inf
    return _Layout(m, row[order], col[order], order, val, lo, hi, cols, group)


def _closest_lp(model: LinearModel, result: SolveResult, face: tuple[np.ndarray, ...], layout: _Layout,
                reduce: bool):  # noqa: ANN202 - (highspy.HighsLp, columns kept, rows kept)
    """The closest-plan LP over ``face``: the model's columns and the distance columns, the model's rows and the
    distance rows (and, without duals, a cost row). ``reduce``: without the columns the face fixes (their
    activity moved into the row bounds) and the rows left empty; the masks say which columns and rows stay."""
    import highspy  # noqa: PLC0415

    n, nr, m = model.n_cols, model.n_rows, layout.m
    lo, hi, row_lo, row_hi = face
    tie = model.tiebreak if model.tiebreak is not None else np.zeros_like(model.c)
    # The face's plans differ in their class labels too, and the least-cost solve's tie-break (the least
    # exposed labels) is below the face's tolerance: keep it, weighted above the distance (TIE_WEIGHT per
    # tonne and flag against 1 per tonne moved), so that no plan is reported exposed for being closer.
    cost = np.concatenate([TIE_WEIGHT / EPS_CLASS * tie, np.ones(m)])
    col_lo = np.concatenate([lo, np.zeros(m)])
    col_hi = np.concatenate([hi, np.full(m, np.inf)])
    row, col = layout.row, layout.col
    val = np.concatenate([model.a_val, layout.val])[layout.order]
    r_lo, r_hi = np.concatenate([row_lo, layout.lo]), np.concatenate([row_hi, layout.hi])
    if result.row_dual is None:  # no duals, no face: hold the cost itself
        nz = np.flatnonzero(model.c)
        x_cost = float(model.c @ result.x)
        row = np.concatenate([row, np.full(len(nz), nr + 2 * m)])
        col = np.concatenate([col, nz])
        val = np.concatenate([val, model.c[nz]])
        again = np.lexsort((row, col))
        row, col, val = row[again], col[again], val[again]
        r_lo = np.append(r_lo, -np.inf)
        r_hi = np.append(r_hi, x_cost + EQUAL_COST * abs(x_cost) + 1e-6)
    n_all, m_all = n + m, len(r_lo)
    free = np.ones(n_all, dtype=bool)
    used = np.ones(m_all, dtype=bool)
    if reduce:
        free = col_lo < col_hi
        on_free = free[col]
        fixed = ~on_free
        act = np.bincount(row[fixed], weights=val[fixed] * col_lo[col[fixed]], minlength=m_all)
        used = np.zeros(m_all, dtype=bool)
        used[row[on_free]] = True
        new_row = np.cumsum(used) - 1
        new_col = np.cumsum(free) - 1
        row, col, val = new_row[row[on_free]], new_col[col[on_free]], val[on_free]
        r_lo, r_hi = (r_lo - act)[used], (r_hi - act)[used]
        cost, col_lo, col_hi = cost[free], col_lo[free], col_hi[free]
        n_all, m_all = int(free.sum()), int(used.sum())
    start = np.zeros(n_all + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=n_all), out=start[1:])
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_all, m_all
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, col_lo, col_hi
    lp.row_lower_, lp.row_upper_ = r_lo, r_hi
    a = lp.a_matrix_
    a.format_ = highspy.MatrixFormat.kColwise
    a.start_ = start.astype(np.int32)
    a.index_ = row.astype(np.int32)
    a.value_ = val
    a.num_col_, a.num_row_ = n_all, m_all
    return lp, free, used


@dataclass
class _BaseClosest:
    """The baseline's own closest-plan LP as solved at ``WarmClosest._load``: its face and coefficients, its
    plan (the model's columns), and per row of the LP its activity and whether it is basic."""

    face: tuple[np.ndarray, ...]
    a_val: np.ndarray
    tiebreak: np.ndarray | None
    x: np.ndarray
    activity: np.ndarray
    basic: np.ndarray


class WarmClosest:
    """The closest-plan LP of a batch's what-ifs, kept in one HiGHS model and started from the least-cost plan.

    The least-cost plan just solved is a vertex of the optimal face, so its basis, completed for the distance
    rows (each lane's d_g basic, and the slack of whichever of its two rows is not tight), is a primal feasible
    basis of the closest-plan LP; primal simplex from there takes a few iterations (1-6 at scale 24, where
    the LP from scratch takes 1,400 after a presolve that costs more than they do). The LP is laid out once per
    baseline (``WarmHighs.home``: the warm solver's model structure); each ``solve`` pushes the face's bounds
    and the model's coefficients where they differ from the loaded ones, sets that basis and allows
    ``WARM_CLOSEST_ITERATIONS``. The start depends on this scenario's least-cost solve only (which starts from
    the baseline's basis), so a scenario's plan does not depend on the scenarios before it. None when it is not
    tried (the least-cost solve was not a warm one) or not enough: the caller then solves the LP from scratch
    (``closest_plan``).

    The baseline's own closest-plan LP is solved when the LP is laid out, before any scenario's. A scenario
    whose closest-plan LP differs from it only in bounds of rows that are basic in its optimal basis, and
    whose new bounds hold that plan's activity, has that plan as its own optimum (the basis stays primal and
    dual feasible: same costs, same matrix, same values of the basic rows): ``solve`` returns it without a
    solve (``hit``). A capacity what-if that moves nothing is such a scenario: its least-cost solve ends on the
    baseline's plan and duals (the same face), and the changed capacity row is slack."""

    def __init__(self, warm: WarmHighs, options: SolveOptions, reference: dict[tuple[str, ...], float]) -> None:
        self.warm, self.options, self.reference = warm, options, reference
        self.h = None
        self.home_id = -1
        self.loaded: tuple[np.ndarray, ...] = ()
        self.layout: _Layout | None = None
        self.home_status: tuple[list, list] | None = None  # the warm solver's home basis, as lists
        self.home_start: tuple[bytes, object] | None = None  # the start made from it, per distance pattern
        self.base: _BaseClosest | None = None
        # the plan tables and tiers.by_country of the baseline's closest plan, per base model (``tables_under``)
        self.base_tables: tuple[LinearModel, Plan, pd.DataFrame] | None = None
        self.hit = False  # the latest ``solve`` returned the baseline's closest plan
        self.tried = self.solved = self.hits = 0

    def _load(self) -> bool:
        """The baseline's closest-plan LP, laid out, handed to HiGHS and solved (``base``)."""

        from planner.optimise.solve import _new_highs  # noqa: PLC0415

        self.home_id, self.h, self.layout = self.warm.home_id, None, None
        self.home_status = self.home_start = None
        self.base = self.base_tables = None
        model, result = self.warm.home  # type: ignore[misc]
        if result.x is None or result.row_dual is None or model.ship_info is None or not len(model.ship_info):
            return False
        face = _face(model, result)
        self.layout = layout = _layout(model, self.reference)
        lp, _, _ = _closest_lp(model, result, face, layout, reduce=False)
        h = _new_highs(replace(self.options, verbose=False))
        h.passModel(lp)
        h.setOptionValue("simplex_strategy", 4)  # primal: the start is primal feasible, not dual feasible
        h.setOptionValue("simplex_iteration_limit", WARM_CLOSEST_ITERATIONS)
        self.h = h
        self.loaded = (*face, model.a_val)
        # solved here, on a fresh HiGHS and before any scenario, so that what a scenario takes from it cannot
        # depend on the scenarios before it
        x = self._run(model, result, face, from_home=True)
        if x is not None:
            self.base = _BaseClosest(face, model.a_val, model.tiebreak, x[:model.n_cols],
                                     np.asarray(h.getSolution().row_value, dtype=float), basic_rows(h.getBasis()))
        return True

    def layout_for(self, model: LinearModel) -> _Layout | None:
        """The laid-out closest-plan matrix, if ``model`` (just solved by the warm solver) has the baseline's
        structure."""
        w = self.warm
        same = w.last[0] == "warm" and self.home_id == w.home_id and self.layout is not None
        return self.layout if same and model.n_cols == w.home[0].n_cols else None  # type: ignore[index]

    def solve(self, model: LinearModel, result: SolveResult) -> SolveResult | None:
        self.hit = False
        w = self.warm
        if w.home is None or w.h is None or w.last[0] != "warm" or result.x is None or result.row_dual is None:
            return None
        if self.home_id != w.home_id and not self._load():
            return None
        if self.h is None or self.layout is None:
            return None
        face = _face(model, result)
        if self._base_holds(model, face):
            self.hit = True
            self.hits += 1
            return replace(result, x=self.base.x.copy(), objective=result.objective)  # type: ignore[union-attr]
        self.tried += 1
        x = self._run(model, result, face, from_home=w.last[1] == 0)
        if x is None:
            return None
        self.solved += 1
        return replace(result, x=x[:model.n_cols], objective=result.objective)

    def _base_holds(self, model: LinearModel, face: tuple[np.ndarray, ...]) -> bool:
        """Whether the baseline's closest plan is optimal for this closest-plan LP by its basis (see the class):
        exactly, not within a tolerance."""
        b = self.base
        return b is not None and same_arrays((model.a_val, b.a_val), (model.tiebreak, b.tiebreak),
                                             (face[0], b.face[0]), (face[1], b.face[1])) \
            and bounds_keep_basis(face[2], face[3], b.face[2], b.face[3], b.activity, b.basic)

    def _run(self, model: LinearModel, result: SolveResult, face: tuple[np.ndarray, ...],
             from_home: bool) -> np.ndarray | None:
        """Push ``face`` and ``model``'s coefficients, start from the least-cost plan's basis (``from_home``: the
        warm solver's home basis, which it is after a re-solve in no iteration) and solve: the LP's columns."""
        import highspy  # noqa: PLC0415

        from planner.optimise.solve import limit_from_now, run_interruptible  # noqa: PLC0415

        w, h, layout = self.warm, self.h, self.layout
        assert h is not None and layout is not None and result.x is not None
        if from_home:
            # the least-cost plan's basis is the home one, read (0.02 s) only once
            if self.home_status is None:
                self.home_status = (list(w.home_basis.col_status), list(w.home_basis.row_status))
            col_status, row_status = self.home_status
        else:
            start = w.h.getBasis()  # the least-cost plan's, still in the warm solver
            if not start.valid:
                return None
            col_status, row_status = start.col_status, start.row_status
        lo, hi, row_lo, row_hi = face
        cur_lo, cur_hi, cur_rlo, cur_rhi, cur_a = self.loaded
        idx = np.flatnonzero((lo != cur_lo) | (hi != cur_hi)).astype(np.int32)
        if len(idx):
            h.changeColsBounds(len(idx), idx, lo[idx], hi[idx])
        idx = np.flatnonzero((row_lo != cur_rlo) | (row_hi != cur_rhi)).astype(np.int32)
        if len(idx):
            h.changeRowsBounds(len(idx), idx, row_lo[idx], row_hi[idx])
        for k in np.flatnonzero(model.a_val != cur_a):
            h.changeCoeff(int(model.a_row[k]), int(model.a_col[k]), float(model.a_val[k]))
        self.loaded = (*face, model.a_val)
        # the distance part of the basis: d_g basic; flow above the reference: row 2g (flow - d <= b) tight,
        # row 2g+1's slack basic; below it: the other way round
        st = highspy.HighsBasisStatus
        above = layout.flow(result.x) >= layout.lo[1::2]
        if from_home and self.home_start is not None and self.home_start[0] == above.tobytes():
            basis = self.home_start[1]  # the same start as before: handing HiGHS 100k statuses again costs 0.015 s
        else:
            pair = np.empty(2 * layout.m, dtype=object)
            pair[0::2] = np.where(above, st.kUpper, st.kBasic)
            pair[1::2] = np.where(above, st.kBasic, st.kLower)
            basis = highspy.HighsBasis()
            basis.col_status = [*col_status, *[st.kBasic] * layout.m]
            basis.row_status = [*row_status, *pair.tolist()]
            basis.valid = True
            basis.alien = False  # as many basic as rows, by construction: HiGHS need not repair it at setBasis
            if from_home:
                self.home_start = (above.tobytes(), basis)
        h.clearSolver()  # nothing of the previous solve but this basis: see WarmHighs.solve
        if h.setBasis(basis) == highspy.HighsStatus.kError:
            return None
        limit_from_now(h, self.options.time_limit_s)
        run_interruptible(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(h.getSolution().col_value, dtype=float)

    def tables_under(self, model: LinearModel, base_model: LinearModel, result: SolveResult) \
            -> tuple[Plan, pd.DataFrame] | None:
        """``build_plan(model, result, detail=False)`` and its ``tiers.by_country``, from the tables of the
        baseline's closest plan under ``base_model`` (built once), for a ``result`` that ``solve`` returned as
        that plan (``hit``) and whose duals and figures are the baseline's, of a ``model`` that differs from
        ``base_model`` in Supply capacities alone (the caller's to know): only the production table reads
        those, and it is built again; the summary's solve time is this result's. None if not so."""
        from planner.results.report import _production  # noqa: PLC0415

        home = self.warm.home
        if not self.hit or self.base is None or home is None or result.row_dual is None:
            return None
        first = home[1]
        if any(getattr(result, k) != getattr(first, k) for k in
               ("status", "objective", "bound", "gap", "solver", "solver_version", "message", "limit_hit")) \
                or not np.array_equal(result.row_dual, first.row_dual):
            return None
        if self.base_tables is None or self.base_tables[0] is not base_model:
            p0 = build_plan(base_model, replace(result, x=self.base.x), detail=False)
            self.base_tables = (base_model, p0, tiers.by_country(tiers.sourcing_of(p0, base_model.net)))
        _, p0, made = self.base_tables
        production, _ = _production(model, p0.batches, p0.shipments, result.row_dual)
        frames = {f.name: getattr(p0, f.name).copy() for f in fields(p0)
                  if isinstance(getattr(p0, f.name), pd.DataFrame)}
        plan = replace(p0, **{**frames, "production": production},
                       summary={**p0.summary, "solve_time_s": round(result.runtime_s, 3)},
                       cost_breakdown=dict(p0.cost_breakdown), warnings=list(p0.warnings), run_info={})
        return plan, made.copy()


def _lane_groups(si: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Per ship column its lane group (lane keys in sorted order), and the groups' keys."""
    frame = si[lane_keys(si)]
    codes = [pd.factorize(frame[c], sort=True) for c in frame.columns]
    mixed = np.zeros(len(frame), dtype=np.int64)
    for code, uniques in codes:
        mixed = mixed * max(len(uniques), 1) + code
    uniq, group = np.unique(mixed, return_inverse=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[group[::-1]] = np.arange(len(group))[::-1]
    keys = list(zip(*(frame[c].to_numpy()[first].tolist() for c in frame.columns), strict=True))
    return group.astype(np.int64), keys


class _ClosestSolver:
    """The solver ``api.plan`` calls: the least-cost solve (warm when it can be), then the closest plan
    (warm when ``closest`` can, else from scratch)."""

    def __init__(self, warm: WarmHighs | None, options: SolveOptions,
                 reference: dict[tuple[str, str, str], float] | None, closest: WarmClosest | None = None) -> None:
        self.warm, self.options, self.reference, self.closest = warm, options, reference, closest
        self.model: LinearModel | None = None
        self.closest_s = 0.0
        self.hit = False  # the closest plan is the baseline's own (``WarmClosest.hit``)
        self.made_where: pd.DataFrame | None = None  # set by ``reused_tables``

    def solve(self, model: LinearModel) -> SolveResult:
        self.model = model
        self.hit = False
        result = self.warm.solve(model) if self.warm is not None else solve(model, self.options)
        if self.reference is None or result.status != OPTIMAL:
            return result
        t0 = time.perf_counter()
        out = layout = None
        c = self.closest
        if c is not None and c.reference is self.reference and self.warm is c.warm:
            out = c.solve(model, result)
            self.hit = out is not None and c.hit
            layout = c.layout_for(model)
        if out is None:
            out = closest_plan(model, result, self.reference, self.options, layout)
        self.closest_s = time.perf_counter() - t0
        return out

    def reused_tables(self, delta: DeltaModel, result: SolveResult) -> Plan | None:
        """For ``plan_delta``: the plan tables of ``result`` under ``delta``'s model made from those of the
        baseline's closest plan, when ``result`` is that plan and ``delta`` changed Supply capacities alone
        (else None: the caller builds them). The sourcing trace's ``tiers.by_country`` goes to ``made_where``."""
        if not self.hit or self.closest is None or delta.base_model is None \
                or not delta.changed <= {("Supply", "capacity_t")}:
            return None
        got = self.closest.tables_under(delta.model, delta.base_model, result)
        if got is None:
            return None
        out, self.made_where = got
        return out


def run_one(inputs: Inputs, scenario: Scenario, options: SolveOptions, warm: WarmHighs | None = None,
            reference: dict[tuple[str, str, str], float] | None = None, delta: DeltaBase | None = None,
            closest: WarmClosest | None = None) -> Outcome:
    """Apply and solve one scenario; never raises for a scenario's own failure.

    ``reference``: the baseline's lane flows; among equally cheap plans the closest to them is chosen, so
    that every change against the baseline is caused by the scenario. ``delta``: the baseline's model, to
    which a scenario that changes only numbers of it is applied directly (planner.whatif.delta).
    ``closest``: the baseline's closest-plan LP kept warm (``WarmClosest``, on ``warm`` and ``reference``).
    """
    try:
        moved = None
        if delta is not None and scenario.changes:
            with contextlib.suppress(Fallback):
                moved = delta.apply(scenario)
        changed = moved.inputs if moved is not None else apply_scenario(inputs, scenario) if scenario.changes \
            else inputs
        cap = float(changed.supply["capacity_t"].sum())
        solver = _ClosestSolver(warm, options, reference if scenario.changes else None, closest)
        # over periods, each period's plan carries its own sourcing trace (the stitched model has no one network
        # to trace with afterwards); China's share is then over every period's tonnes
        over = changed.periods is not None
        if moved is not None:
            result = plan_delta(moved, options, solver)
        else:
            result = plan(changed, options, solver=solver, detail=over)
        made = solver.made_where if solver.made_where is not None else \
            tiers.by_country(tiers.sourcing_of(result, None if over or solver.model is None else solver.model.net))
        return Outcome(scenario.name, scenario.changes, result.status, result, capacity_t=cap, made_where=made,
                       closest_s=solver.closest_s)
    except ScenarioError as exc:
        return Outcome(scenario.name, scenario.changes, "error", message=str(exc), exit_code=3)
    except InfeasibleError as exc:
        return Outcome(scenario.name, scenario.changes, "infeasible", message=exc.message, findings=exc.findings,
                       exit_code=exc.exit_code)
    except PlannerError as exc:
        return Outcome(scenario.name, scenario.changes, "error", message=exc.message, exit_code=exc.exit_code)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_chunk(inputs: Inputs, scenarios: list[Scenario], options: SolveOptions, warm: bool = True,
              progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Solve scenarios one after another on one persistent HiGHS model (a worker's share of a batch).

    The baseline model is loaded first; a scenario that only changes numbers
    (capacities, prices, demand, limits, settings) has the same shape and is
    re-solved from the previous basis instead of from scratch.
    """
    solver = WarmHighs(options) if warm else None
    reference = None
    delta = None
    if warm and eligible(inputs) and any(s.changes for s in scenarios):
        with contextlib.suppress(PlannerError, ScenarioError):
            delta = DeltaBase(inputs)
    if not any(s.name == BASELINE for s in scenarios):
        # the baseline's plan: its flows are the reference each scenario is compared against (and its basis
        # the warm start)
        with contextlib.suppress(PlannerError):
            reference = lane_flows(plan(inputs, options, solver=solver, detail=False))
    out = []
    closest = None
    for sc in scenarios:
        if solver is not None and reference is not None and (closest is None or closest.reference is not reference):
            closest = WarmClosest(solver, options, reference)
        res = run_one(inputs, sc, options, solver, reference, delta, closest)
        if sc.name == BASELINE and res.plan is not None:
            reference = lane_flows(res.plan)
        out.append(res)
        if progress:
            progress(res)
    return out


def run_batch(
    inputs: Inputs,
    scenarios: list[Scenario],
    options: SolveOptions,
    jobs: int = 1,
    progress: Callable[[Outcome], None] | None = None,
    warm: bool = True,
    executor: str = "process",
    scheduler: str | None = None,
) -> list[Outcome]:
    """The baseline first, then every scenario, in input order whatever order they finish in.

    With ``jobs > 1`` the scenarios are split into contiguous chunks, one per
    worker process, each with its own persistent solver (``warm``). With
    ``executor="dask"`` the chunks go to the Dask cluster at ``scheduler``
    (``jobs`` chunks; default: one per worker thread of the cluster).
    """
    todo = [Scenario(BASELINE), *scenarios]
    if executor == "dask":
        return _run_dask(inputs, todo, options, jobs, warm, scheduler, progress)
    if jobs <= 1 or len(todo) == 1:
        return run_chunk(inputs, todo, options, warm, progress)
    chunks = _chunks(todo, jobs)
    results: list[list[Outcome]] = [[] for _ in chunks]
    pool = ProcessPoolExecutor(max_workers=len(chunks))
    try:
        futures = {pool.submit(run_chunk, inputs, chunk, options, warm): i for i, chunk in enumerate(chunks)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if progress:
                for res in results[futures[fut]]:
                    progress(res)
    except BaseException:
        # Ctrl-C, SIGTERM or a failed worker: end the workers now instead of waiting for their chunks
        # (they write nothing, so killing them loses nothing)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [o for chunk in results for o in chunk]


def _chunks(todo: list[Scenario], jobs: int) -> list[list[Scenario]]:
    n = max(1, min(jobs, len(todo)))
    bounds = [round(i * len(todo) / n) for i in range(n + 1)]
    return [todo[bounds[i]:bounds[i + 1]] for i in range(n)]


def _run_dask(inputs: Inputs, todo: list[Scenario], options: SolveOptions, jobs: int, warm: bool,
              scheduler: str | None, progress: Callable[[Outcome], None] | None) -> list[Outcome]:
    try:
        from distributed import Client  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError("--executor dask needs the dask extra: pip install 'planner[dask]'") from exc
    if not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    try:
        client = Client(scheduler, timeout=30)
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    except (ValueError, TypeError) as exc:  # an address Dask cannot parse
        raise UsageError(f"{scheduler!r} is not a Dask scheduler address: {exc}") from exc
    try:
        n = jobs if jobs > 1 else max(1, sum(client.nthreads().values()))
        chunks = _chunks(todo, n)
        data = client.scatter(inputs, broadcast=True)  # sent once to every worker, not once per chunk
        futures = [client.submit(run_chunk, data, chunk, options, warm, pure=False) for chunk in chunks]
        results = client.gather(futures)
    finally:
        client.close()
    out = [o for chunk in results for o in chunk]
    if progress:
        for o in out:
            progress(o)
    return out


# --------------------------------------------------------------------------- comparison


def _suppliers(p: Plan) -> set[str]:
    f = p.flows
    if not len(f):
        return set()
    return set(f.loc[f["tonnes"] > 1e-6, "from_site"])


def _flows(p: Plan) -> pd.Series:
    f = p.flows
    if not len(f):
        return pd.Series(dtype=float)
    return f.set_index(lane_keys(f))["tonnes"]


def cost_split(p: Plan) -> dict[str, float]:
    """Cash (production, logistics, qualification), shortage penalty and license risk: the three add up."""
    parts = p.cost_breakdown
    return {"cash": sum(v for k, v in parts.items() if k not in ("shortage", "license_risk")),
            "shortage": parts.get("shortage", 0.0), "license_risk": parts.get("license_risk", 0.0)}


def _m(v: float) -> str:
    return f"{v / 1e6:+,.1f} M"


def change_sentence(delta: float, split: dict[str, float], delta_short_t: float, per: str = "a year") -> str:
    """'Saves 114.5 M USD a year: cash +3.2 M, shortage penalty -117.7 M (-107.5 t short), license risk +0.0 M'.
    ``per``: what the cost is for ("over 2026-2030, discounted" for a plan over periods)."""
    verb = "Saves" if delta < 0 else "Costs"
    return (f"{verb} {abs(delta) / 1e6:,.1f} M USD {per}{'' if delta < 0 else ' more'}: cash {_m(split['cash'])}, "
            f"shortage penalty {_m(split['shortage'])} ({delta_short_t:+,.1f} t short), expected license loss "
            f"{_m(split['license_risk'])}")


def no_effect_reason(changes: tuple[Change, ...], base: Plan) -> str:
    """Why a scenario changes nothing, from what the baseline plan already shows (utilisation, binding limits)."""
    prod = base.production
    names = dict(zip(base.sites["site_id"], base.sites["name"], strict=True)) if "name" in base.sites else {}

    def n(site: str) -> str:
        return str(names.get(site) or site)

    reasons = []
    over_periods = "period" in prod.columns  # a horizon plan: figures per period, read in the changed ones
    for c in changes:
        site, _, product = c.key.partition("/")
        shown = product if product and product != "*" else "output"
        rows = prod[(prod["site_id"].astype(str).str.fullmatch(site.replace("*", ".*")))
                    & (prod["product"].astype(str).str.fullmatch((product or "*").replace("*", ".*")))] \
            if len(prod) and c.sheet == "Supply" else prod.iloc[0:0]
        when = ""
        if over_periods and c.period:
            rows = rows[rows["period"] == c.period]
            when = f" in {c.period}"
        elif over_periods:
            when = " over the horizon"
        if c.sheet == "Supply" and c.column == "capacity_t":
            if len(rows) and (rows["made_t"] > 0).any():
                used = rows["made_t"].sum() / max(rows["capacity_t"].sum(), 1e-9)
                reasons.append(f"the baseline uses only {100 * used:.0f} % of {n(site)}'s {shown} capacity{when}, so "
                               "the change to it moves nothing")
            elif over_periods and len(rows):
                reasons.append(f"the baseline buys none of {n(site)}'s {shown}{when}")
            else:
                reasons.append(f"{n(site)}'s {product or 'output'} is not worth buying at its price and routes even "
                               "with more capacity")
        elif c.sheet == "Supply" and c.column == "unit_cost_usd_per_kg" and len(rows) \
                and not (rows["made_t"] > 0).any():
            reasons.append(f"{n(site)} is not in the baseline's mix and stays out at this price")
        elif c.sheet == "Sites":
            reasons.append(f"{n(site)} is not worth using even so")
        elif c.sheet in ("Controls", "Settings"):
            reasons.append(f"no shipment of the baseline plan is touched by {c.sheet} {c.key} {c.column}")
    binding = prod[prod["capacity_value_usd_per_kg"] > 1e-6].sort_values(
        "capacity_value_usd_per_kg", ascending=False, kind="mergesort").head(3) if len(prod) else prod
    short = base.plants[base.plants["shortage_t"] > 1e-6] if len(base.plants) else base.plants
    def at(r) -> str:  # noqa: ANN001
        return f" in {r.period}" if over_periods else ""

    limits = [f"{n(r.site_id)} {r.product} capacity{at(r)} ({r.capacity_value_usd_per_kg:,.2f} USD per kg/yr)"
              for r in binding.itertuples(index=False)]
    limits += [f"{n(r.site_id)}'s {r.product} shortage{at(r)} ({r.shortage_t:,.1f} t)"
               for r in short.itertuples(index=False)]
    text = "; ".join(dict.fromkeys(reasons)) or "the baseline plan stays the cheapest under this change"
    if limits:
        text += "; what binds in the baseline (its Limits): " + ", ".join(limits[:4])
    return f"No effect, because {text}."


def comparison(outcomes: list[Outcome]) -> pd.DataFrame:
    """One row per scenario: status, cost and its change (cash, shortage penalty, license risk), exposure,
    shortage and China's share with their changes, a ranking by cost, who enters or leaves the mix, and a
    sentence to read it by (for a scenario with no effect, why)."""
    base = outcomes[0]
    bp = base.plan
    base_cn = tiers.country_share(base.made_where) if base.made_where is not None else {}
    rows = []
    for o in outcomes:
        p = o.plan
        row: dict[str, object] = {"scenario": o.scenario, "status": o.status}
        if p is not None:
            s = p.summary
            lead = p.plants["max_lead_time_days"].dropna() if len(p.plants) else pd.Series(dtype=float)
            cn = tiers.country_share(o.made_where) if o.made_where is not None else {}
            row.update({
                "total_cost_usd": s["total_cost_usd"],
                "delta_cost_usd": s["total_cost_usd"] - bp.summary["total_cost_usd"] if bp else None,
                "delta_cost_pct": (s["total_cost_usd"] / bp.summary["total_cost_usd"] - 1.0)
                if bp and bp.summary["total_cost_usd"] else None,
                "cash_usd": cost_split(p)["cash"],
                "exposed_share": s["exposed_share"],
                "exposed_t": s["exposed_t"],
                "shortage_t": s["shortage_t"],
                "expected_license_loss_usd": s["expected_license_loss_usd"],
                "max_lead_time_days": int(lead.max()) if len(lead) else None,
                "gap": s["gap"],
                **{f"china_{st}_share": cn.get(st) for st in ("metal", "magnet")},
            })
            if bp is not None:
                split = {k: v - cost_split(bp)[k] for k, v in cost_split(p).items()}
                row.update({
                    "delta_cash_usd": split["cash"], "delta_shortage_penalty_usd": split["shortage"],
                    "delta_license_risk_usd": split["license_risk"],
                    "delta_exposed_share": s["exposed_share"] - bp.summary["exposed_share"],
                    "delta_shortage_t": s["shortage_t"] - bp.summary["shortage_t"],
                    **{f"delta_china_{st}_share": (cn[st] - base_cn[st]) if cn.get(st) is not None
                       and base_cn.get(st) is not None else None for st in ("metal", "magnet")},
                })
            if bp is not None and o is not base:
                row["suppliers_in"] = ", ".join(sorted(_suppliers(p) - _suppliers(bp)))
                row["suppliers_out"] = ", ".join(sorted(_suppliers(bp) - _suppliers(p)))
                added = o.capacity_t - base.capacity_t
                if added > 1e-9:
                    row["saving_per_t_capacity_usd"] = -float(row["delta_cost_usd"]) / added  # type: ignore[arg-type]
                delta = float(row["delta_cost_usd"])  # type: ignore[arg-type]
                if abs(delta) <= 1e-7 * max(abs(float(s["total_cost_usd"])), 1.0):
                    row["reading"] = no_effect_reason(o.changes, bp)
                else:
                    row["reading"] = change_sentence(delta, split, float(row["delta_shortage_t"]),  # type: ignore[arg-type]
                                                     horizon_words(p)) + _periods_moved(p, bp)
        row["changes"] = "; ".join(c.describe() for c in o.changes)
        row["message"] = o.message if not o.findings else o.message + ": " + " | ".join(o.findings)
        rows.append(row)
    cols = ["scenario", "status", "rank", "total_cost_usd", "delta_cost_usd", "delta_cost_pct", "reading",
            "cash_usd", "delta_cash_usd", "delta_shortage_penalty_usd", "delta_license_risk_usd", "exposed_share",
            "delta_exposed_share", "exposed_t", "shortage_t", "delta_shortage_t", "china_metal_share",
            "delta_china_metal_share", "china_magnet_share", "delta_china_magnet_share",
            "expected_license_loss_usd", "max_lead_time_days", "suppliers_in", "suppliers_out",
            "saving_per_t_capacity_usd", "gap", "changes", "message"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    # 1 = the cheapest plan (ties share the order of the input, baseline first)
    cost = pd.to_numeric(out["total_cost_usd"], errors="coerce")
    out["rank"] = cost.rank(method="first").astype("Int64")
    return out


def flow_changes(outcomes: list[Outcome], top: int = 15) -> pd.DataFrame:
    """The largest changes in lane tonnes of each scenario against the baseline."""
    bp = outcomes[0].plan
    rows = []
    if bp is None:
        return pd.DataFrame(columns=["scenario", "from_site", "to_site", "product", "baseline_t", "scenario_t",
                                     "change_t"])
    base = _flows(bp)
    for o in outcomes[1:]:
        if o.plan is None:
            continue
        sc = _flows(o.plan)
        both = pd.concat([base.rename("baseline_t"), sc.rename("scenario_t")], axis=1).fillna(0.0)
        both["change_t"] = both["scenario_t"] - both["baseline_t"]
        both = both[both["change_t"].abs() > 1e-6]
        both = both.reindex(both["change_t"].abs().sort_values(ascending=False, kind="mergesort").index).head(top)
        names = lane_keys(bp.flows)
        for key, r in both.iterrows():
            rows.append({"scenario": o.scenario, **dict(zip(names, key, strict=True)),
                         "baseline_t": r["baseline_t"], "scenario_t": r["scenario_t"], "change_t": r["change_t"]})
    # a plan over periods compares each period's lanes: a change of timing is a change
    cols = ["scenario", *(["period"] if bp.periods is not None else []), "from_site", "to_site", "product",
            "baseline_t", "scenario_t", "change_t"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- over periods (contract v2)


def horizon_words(p: Plan) -> str:
    """What a plan's total cost is for, in words: a year, or the horizon (discounted when it is)."""
    if p.periods is None:
        return "a year"
    ids = [t for t, _ in p.periods]
    span = ids[0] if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
    return f"over {span}" + (", discounted," if p.summary.get("discount_rate") else "")


def _periods_moved(p: Plan, base: Plan) -> str:
    """For a plan over periods: the periods whose own cost changes, largest first (undiscounted)."""
    if p.periods is None or base.periods is None:
        return "."
    before = {t: float(q.summary["total_cost_usd"]) for t, q in base.periods}
    moved = [(t, float(q.summary["total_cost_usd"]) - before.get(t, 0.0)) for t, q in p.periods]
    moved = [m for m in moved if abs(m[1]) > 0.5]
    if not moved:
        return "."
    moved.sort(key=lambda m: -abs(m[1]))
    return "; by period: " + ", ".join(f"{t} {_m(d)}" for t, d in moved) + "."


def period_comparison(outcomes: list[Outcome]) -> pd.DataFrame:
    """For plans over periods: one row per scenario and period, its figures (undiscounted) and their change
    against the baseline's same period. Empty for one-year plans."""
    cols = ["scenario", "period", "total_cost_usd", "delta_cost_usd", "cash_usd", "delta_cash_usd", "shortage_t",
            "delta_shortage_t", "exposed_share_of_demand", "delta_exposed_share_of_demand", "suppliers_in",
            "suppliers_out"]
    bp = outcomes[0].plan
    if bp is None or bp.periods is None:
        return pd.DataFrame(columns=cols)

    def figures(q: Plan) -> dict[str, object]:
        d = float(q.summary["demand_t"])
        return {"total_cost_usd": float(q.summary["total_cost_usd"]), "cash_usd": cost_split(q)["cash"],
                "shortage_t": float(q.summary["shortage_t"]),
                "exposed_share_of_demand": float(q.summary["exposed_t"]) / d if d > 0 else 0.0}

    base = {t: q for t, q in bp.periods}
    rows = []
    for o in outcomes:
        if o.plan is None or o.plan.periods is None:
            continue
        for t, q in o.plan.periods:
            row: dict[str, object] = {"scenario": o.scenario, "period": t, **figures(q)}
            b = base.get(t)
            if b is not None:
                fb = figures(b)
                for k in ("total_cost_usd", "cash_usd", "shortage_t", "exposed_share_of_demand"):
                    row[f"delta_{k.replace('total_', '')}"] = float(row[k]) - float(fb[k])  # type: ignore[arg-type]
                if o is not outcomes[0]:
                    row["suppliers_in"] = ", ".join(sorted(_suppliers(q) - _suppliers(b)))
                    row["suppliers_out"] = ", ".join(sorted(_suppliers(b) - _suppliers(q)))
            rows.append(row)
    return pd.DataFrame(rows).reindex(columns=cols)
