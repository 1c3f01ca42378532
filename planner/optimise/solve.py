"""Solve a ``LinearModel`` with HiGHS (in process) or CBC (the binary PuLP bundles).

Status is taken from the solver itself, never from PuLP's ``LpStatus``: a
solve stopped by a limit with a plan in hand is ``feasible`` with its gap, not
``optimal`` (PuLP reports "Optimal" in that case). Duals for a MIP come from
the LP with the integer decisions fixed at their values.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from planner.errors import NoSolutionError, OutputError
from planner.input.data import Inputs, SolveOptions
from planner.optimise.model import LinearModel

OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION = "optimal", "feasible", "infeasible", "no_solution"
# The command line's progress display for long solves: PROGRESS["tick"](elapsed_s), set only by the CLI
# (a callable cannot travel to batch worker processes, so it is not part of SolveOptions).
PROGRESS: dict[str, object] = {}
# Above this many columns HiGHS's interior point (with crossover) beats its dual simplex on the
# planner's LPs (bench/RESULTS.md, synthetic cases: 7k columns 0.31 s vs 0.26 s; 35k 4.1 s vs 7.4 s;
# 79k 14.8 s vs 28.0 s; 203k 22 s vs over 150 s; primal simplex and PDLP are slower still).
IPM_ABOVE = 20_000
# MIPs from this many columns are solved LP-guided (``_solve_mip_guided``); below it HiGHS alone is
# fast (every OR-Library instance but capa, the reference case). The shares split the time limit so that
# no phase can starve the others: on a machine half as fast, capa's relaxation alone took more than half
# of a 110 s limit, and the plain MIP that then got the rest stopped 190 % above the optimum.
GUIDED_ABOVE = 20_000
# The relaxation gets the largest share: every later phase depends on it (capa: 30 s of a 100 s limit on an
# idle machine, 45-60 s on a shared one), and the restricted MIP after a finished relaxation is quick (16 s).
# The full MIP, which only ever improved the bound there, gets what is left, at least a tenth.
GUIDED_LP_SHARE = 0.6  # the LP relaxation is stopped at this share of the time limit, finished or not
GUIDED_RESTRICTED_SHARE = 0.3  # the restricted MIP gets at least this share (3/4 of what is left, if more)
GUIDED_RESTRICTED_OF_LEFT = 0.75
GUIDED_MIN_PROOF_S = 1.0  # less time than this left after the restricted MIP: its plan is the answer
GUIDED_SUPPORT = 1e-5  # a yes/no decision the relaxation sets at or below this is closed in the restricted MIP
# An unfinished relaxation's interior iterate sets every decision a little above zero, so a threshold
# cannot tell its support; the decisions it uses most still can. Its sum estimates how many decisions a
# plan takes (capa: 5.5 after 30 of the 88 interior-point iterations, 5.1 finished), and twice that many
# stay open: capa's 11 most used are the finished relaxation's 11 from iteration 50, 10 of them at
# iterations 30-40. Three times (16 open) held all 11 from iteration 30, but that restricted MIP was too
# large to finish on a loaded machine (0.65 % above the optimum); with 11 open it found the optimum.
GUIDED_ITERATE_KEEP = 2.0
GUIDED_LP_ITERATIONS: int | None = None  # tests only: stop the relaxation after this many iterations


@dataclass
class Phase:
    """One step of an LP-guided MIP solve, as reported by ``-v`` and in Run info."""

    name: str
    budget_s: float
    time_s: float
    status: str  # the solver's own words (``Optimal``, ``Time limit reached``)
    objective: float | None = None
    bound: float | None = None
    note: str = ""

    def __str__(self) -> str:
        return self.text(with_time=True)

    def text(self, with_time: bool = True) -> str:
        """The phase in words; without ``with_time`` only what does not depend on the machine's speed (not the
        seconds it took, nor its budget, which is what the earlier phases left of the time limit)."""
        figures = [f"{self.time_s:.1f} s of {self.budget_s:.1f} s", self.status] if with_time else [self.status]
        if self.objective is not None:
            figures.append(f"objective {self.objective:,.2f}")
        if self.bound is not None:
            figures.append(f"bound {self.bound:,.2f}")
        return f"{self.name}: {', '.join(figures)}" + (f"; {self.note}" if self.note else "")


@dataclass
class SolveResult:
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime_s: float
    solver: str
    solver_version: str
    x: np.ndarray | None
    row_dual: np.ndarray | None
    message: str = ""
    limit_hit: bool = False
    phases: list[Phase] = field(default_factory=list)  # the LP-guided path's steps; empty otherwise


def options_from(inputs: Inputs, **overrides: object) -> SolveOptions:
    """Solve options from ``Settings``; keyword arguments that are not None win."""
    st = inputs.settings
    base = SolveOptions(
        solver=str(st["solver"]),
        time_limit_s=float(st["time_limit_s"]),  # type: ignore[arg-type]
        mip_gap=float(st["mip_gap"]),  # type: ignore[arg-type]
    )
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


def choose_solver(model: LinearModel, requested: str) -> str:
    """``auto``: HiGHS (in process) for every model. Measured on this machine
    (bench/, README): on models up to the reference case's size the file round trip
    to the CBC binary costs more than the whole HiGHS solve, and HiGHS is the
    stronger MIP solver; ``cbc`` stays selectable for large pure LPs, where CLP is
    2-3x faster than HiGHS's interior point."""
    if requested in ("highs", "cbc"):
        return requested
    return "highs"


def solve(model: LinearModel, options: SolveOptions) -> SolveResult:
    solver = choose_solver(model, options.solver)
    if solver == "cbc":
        return _solve_cbc(model, options)
    return _solve_highs(model, options)


# --------------------------------------------------------------------------- HiGHS


def _highs_lp(model: LinearModel):  # noqa: ANN202 - highspy types
    import highspy  # noqa: PLC0415

    n, m = model.n_cols, model.n_rows
    order = np.lexsort((model.a_row, model.a_col))
    cols = model.a_col[order]
    start = np.zeros(n + 1, dtype=np.int32)
    np.add.at(start, cols + 1, 1)
    start = np.cumsum(start).astype(np.int32)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = model.c
    lp.col_lower_ = model.col_lo
    lp.col_upper_ = model.col_hi
    lp.row_lower_ = model.row_lo
    lp.row_upper_ = model.row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = model.a_row[order].astype(np.int32)
    lp.a_matrix_.value_ = model.a_val[order]
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = m
    if model.is_mip:
        lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                           for v in model.integer]
    return lp


def _new_highs(options: SolveOptions):  # noqa: ANN202
    import highspy  # noqa: PLC0415

    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("random_seed", int(options.seed))
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    # absolute gap 0: with costs in dollars, HiGHS's default (1e-6) never matters, but say so
    h.setOptionValue("mip_abs_gap", 0.0)
    return h


def _solve_highs(model: LinearModel, options: SolveOptions) -> SolveResult:
    t0 = time.perf_counter()
    if model.n_cols == 0:  # everything was pruned: HiGHS calls this "Empty"; decide it here
        feasible = bool(np.all(model.row_lo <= 1e-9) and np.all(model.row_hi >= -1e-9))
        return SolveResult(OPTIMAL if feasible else INFEASIBLE, 0.0 if feasible else None, 0.0 if feasible else None,
                           0.0 if feasible else None, time.perf_counter() - t0, "highs", "HiGHS",
                           np.zeros(0) if feasible else None, np.zeros(model.n_rows) if feasible else None,
                           "no variables")
    if model.is_mip and model.n_cols >= GUIDED_ABOVE:
        return _solve_mip_guided(model, options, t0)
    h = _new_highs(options)
    if not model.is_mip and model.n_cols > IPM_ABOVE:
        h.setOptionValue("solver", "ipm")
    h.passModel(_highs_lp(model))
    return _run_highs(h, model, t0, options.duals)


def _solve_mip_guided(model: LinearModel, options: SolveOptions, t0: float) -> SolveResult:
    """A large MIP: LP relaxation, then a MIP restricted to its support, then the full MIP from that plan.

    On big qualification problems HiGHS's own heuristics find poor plans: on
    OR-Library capa (100 candidates x 1,000 plants) its incumbent was 31 % above
    the optimum after 120 s. The candidates the LP relaxation opens at all
    (11 of 100 there) nearly always contain a near-optimal choice, and the MIP
    restricted to them is small (capa: the published optimum in 16 s). Its plan
    seeds the full MIP, which spends the remaining time on the proof; the
    reported bound is the better of the LP's and the full MIP's, so the status
    stays honest whatever phase the time limit falls in.

    Each phase has its share of the time limit (``GUIDED_*``): the relaxation is
    stopped at its share, and if it has not finished, the decisions its last
    iterate uses most are the support instead, so the restricted MIP always runs.
    """
    import highspy  # noqa: PLC0415

    limit = float(options.time_limit_s)
    deadline = t0 + limit
    tick = PROGRESS.get("tick")
    phases: list[Phase] = []

    def left() -> float:
        return deadline - time.perf_counter()

    def phase_tick(offset: float):  # noqa: ANN202
        return None if tick is None else (lambda s: tick(offset + s))  # type: ignore[operator]

    ints = np.flatnonzero(model.integer)
    relaxed = dataclasses.replace(model, integer=np.zeros_like(model.integer))
    budget = GUIDED_LP_SHARE * limit
    h = _new_highs(dataclasses.replace(options, time_limit_s=budget))
    if options.relaxation == "simplex":
        h.setOptionValue("solver", "simplex")
    elif model.n_cols > IPM_ABOVE:
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")  # only the support is wanted, not a vertex
    if GUIDED_LP_ITERATIONS is not None:
        h.setOptionValue("ipm_iteration_limit", GUIDED_LP_ITERATIONS)
        h.setOptionValue("simplex_iteration_limit", GUIDED_LP_ITERATIONS)
    h.passModel(_highs_lp(relaxed))
    start = time.perf_counter()
    retried = run_guarded(h, phase_tick(start - t0))
    ms = h.getModelStatus()
    finished = ms == highspy.HighsModelStatus.kOptimal
    cut_short = ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit)
    values = np.asarray(h.getSolution().col_value, dtype=float)
    lp_bound = float(h.getInfo().objective_function_value) if finished else None
    if lp_bound is not None and h.getOptionValue("solver")[1] == "ipm":
        # without crossover the interior point reports its primal objective, which may lie above the LP's
        # optimum by up to its relative gap tolerance (35 USD above it on the bundled 16 regimes): a bound
        # must not, so it is taken that far down
        tol = float(h.getOptionValue("ipm_optimality_tolerance")[1])
        lp_bound -= tol * (1.0 + 2.0 * abs(lp_bound))
    lp_phase = Phase("LP relaxation", budget, time.perf_counter() - start, h.modelStatusToString(ms),
                     bound=lp_bound)
    phases.append(lp_phase)
    retry_note = f"{RETRIED}; " if retried else ""
    if not (finished or cut_short):
        # infeasible (or a numerical failure): no support to guide anything; the plain MIP decides
        lp_phase.note = f"{retry_note}no support from it: the full MIP decides alone"
        return _guided_full(model, options, t0, left, phases, None, None, "")
    if finished:
        opened = ints[values[ints] > GUIDED_SUPPORT]
        how = "the LP relaxation uses"
    elif len(values) == model.n_cols and np.isfinite(values[ints]).all() and values[ints].sum() > 0:
        y = np.clip(values[ints], 0.0, 1.0)
        keep = min(len(ints), max(1, int(np.ceil(GUIDED_ITERATE_KEEP * y.sum()))))
        opened = ints[np.sort(np.argsort(-y, kind="stable")[:keep])]
        how = "the unfinished LP relaxation uses most"
    else:  # stopped before its first iterate: nothing to rank by, so nothing is closed
        opened = ints
        how = "(the LP relaxation stopped before its first iterate)"
    open_mask = np.zeros(model.n_cols, dtype=bool)
    open_mask[opened] = True
    closed = ints[~open_mask[ints] & (model.col_lo[ints] <= 0.0)]
    support = f"{len(ints) - len(closed)} of {len(ints)} yes/no decisions open"
    lp_phase.note = f"{retry_note}{support}: those {how}"

    restricted = dataclasses.replace(model, col_hi=model.col_hi.copy())
    restricted.col_hi[closed] = 0.0
    # its share even if the relaxation overran its own (HiGHS checks the time between iterations)
    budget = max(GUIDED_RESTRICTED_SHARE * limit, GUIDED_RESTRICTED_OF_LEFT * left())
    h = _new_highs(dataclasses.replace(options, time_limit_s=budget))
    h.passModel(_highs_lp(restricted))
    start = time.perf_counter()
    run_interruptible(h, phase_tick(start - t0))
    info = h.getInfo()
    seed = np.asarray(h.getSolution().col_value, dtype=float) if info.primal_solution_status == 2 else None
    phases.append(Phase("restricted MIP", budget, time.perf_counter() - start,
                        h.modelStatusToString(h.getModelStatus()),
                        None if seed is None else float(model.c @ seed),
                        None if seed is None else float(info.mip_dual_bound),
                        f"{support}; its bound holds for the restricted problem only"))
    return _guided_full(model, options, t0, left, phases, seed, lp_bound,
                        f"MIP restricted to the {support.replace(' open', '')} {how}")


def _guided_full(model: LinearModel, options: SolveOptions, t0: float, left, phases: list[Phase],  # noqa: ANN001
                 seed: np.ndarray | None, lp_bound: float | None, how: str) -> SolveResult:
    """The last phase of ``_solve_mip_guided``: the full MIP from ``seed``, or ``seed`` itself if nothing is
    left to prove or no time is left to prove it."""
    h = _new_highs(dataclasses.replace(options, time_limit_s=max(left(), 0.0)))
    h.passModel(_highs_lp(model))
    seed_cost = None if seed is None else float(model.c @ seed)
    seed_gap = _gap(seed_cost, lp_bound)
    proven = seed_gap is not None and seed_gap <= options.mip_gap
    lp_text = "" if lp_bound is None else f" (LP bound {lp_bound:.6g})"
    if seed is not None and (left() < GUIDED_MIN_PROOF_S or proven):
        # no time left for the full MIP, or nothing left to prove: the restricted plan is the answer. Without
        # the LP's bound (cut short) only the trivial one is known: nothing costs less than zero
        bound = lp_bound
        if bound is None and (model.c >= 0).all() and (model.col_lo >= 0).all():
            bound = 0.0
            seed_gap = _gap(seed_cost, bound)
        phases.append(Phase("full MIP", max(left(), 0.0), 0.0, "not run",
                            note="the restricted plan is proven" if proven else "no time left"))
        return SolveResult(OPTIMAL if proven else FEASIBLE, seed_cost, bound, seed_gap, time.perf_counter() - t0,
                           "highs", f"HiGHS {h.version()}", seed,
                           _fixed_lp_duals(h, model, seed) if options.duals else None,
                           f"{how}{lp_text}", limit_hit=not proven, phases=phases)
    if seed is not None:
        h.setSolution(len(seed), np.arange(len(seed), dtype=np.int32), seed)
    budget = max(left(), 0.0)
    start = time.perf_counter()
    result = _run_highs(h, model, t0, options.duals)
    phases.append(Phase("full MIP", budget, time.perf_counter() - start, result.message, result.objective,
                        result.bound, "started from the restricted plan" if seed is not None else "from scratch"))
    result.phases = phases
    if how:
        result.message = f"{result.message}; started from the {how}{lp_text}"
    if result.objective is not None and result.status == FEASIBLE and lp_bound is not None:
        result.bound = lp_bound if result.bound is None else max(result.bound, lp_bound)
        result.gap = _gap(result.objective, result.bound)
        if result.gap is not None and result.gap <= options.mip_gap:
            result.status = OPTIMAL  # proven within the requested gap, as HiGHS itself would call it
    return result


def run_interruptible(h, on_tick=None) -> None:  # noqa: ANN001
    """``h.run()`` in a worker thread, so that Ctrl-C can cancel it.

    HiGHS holds the thread inside C++ for the whole solve; run there, Ctrl-C would
    wait for the end of a possibly long MIP. Here the main thread waits, and on
    KeyboardInterrupt asks HiGHS to stop (``cancelSolve``), waits for it, and
    re-raises, so the command line exits 130 with nothing written.
    """
    if not h.HandleUserInterrupt:  # makes cancelSolve effective; once: highspy subscribes it again each time
        h.HandleUserInterrupt = True
    done = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            h.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=target, name="highs", daemon=True)
    try:
        # started inside the try: an interrupt that lands while the thread starts cancels it too
        worker.start()
        t0 = time.perf_counter()
        while not done.wait(0.1):
            if on_tick is not None:
                on_tick(time.perf_counter() - t0)
    except KeyboardInterrupt:
        h.cancelSolve()
        if worker.ident is not None:  # the thread runs (or ran) h.run(): wait until it has stopped
            done.wait()
        raise
    if failure:
        raise failure[0]


# What HiGHS logs when its interior point (IPX) gives up: "Ipx: IPM       no progress". HiGHS then hands the
# model to simplex from IPX's last iterate; on the legacy scale-66 benchmark (577k columns) that simplex had no
# plan after an hour, while the interior point without presolve converged and the whole solve took 600 s
# (bench/RESULTS.md, issue 16). Matched as text: HiGHS reports IPX's status nowhere else before it goes on.
IPX_LOG = "Ipx: IPM"
IPX_STALL = "no progress"
RETRIED = "the interior point stalled on the presolved model and was run again without presolve"


def run_guarded(h, on_tick=None) -> bool:  # noqa: ANN001
    """``run_interruptible(h)``; if HiGHS's interior point stalls on the presolved model, once more without presolve.

    A stall is caught in HiGHS's log (``IPX_STALL``) and the simplex HiGHS would start next is stopped at its
    first iteration; the interior point then runs from scratch on the model as given, in what is left of
    HiGHS's time limit (its clock runs on across the two runs). Only for interior-point solves with presolve on;
    anything else is ``run_interruptible`` alone. True if it ran again.
    """
    if _option(h, "solver") != "ipm" or _option(h, "presolve") == "off":
        run_interruptible(h, on_tick)
        return False
    stalled: list[bool] = []

    def read_log(event) -> None:  # noqa: ANN001 - highspy's HighsCallbackEvent, in HiGHS's thread
        if IPX_LOG in event.message and IPX_STALL in event.message:
            stalled.append(True)

    def stop_cleanup(event) -> None:  # noqa: ANN001
        if stalled:
            event.interrupt()

    # HiGHS hands its log to callbacks only with output on; the console stays as the user set it
    flag, console = _option(h, "output_flag"), _option(h, "log_to_console")
    if not flag:
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
    h.cbLogging.subscribe(read_log)
    h.cbSimplexInterrupt.subscribe(stop_cleanup)
    try:
        run_interruptible(h, on_tick)
    finally:
        h.cbLogging.unsubscribe(read_log)
        h.cbSimplexInterrupt.unsubscribe(stop_cleanup)
        h.setOptionValue("output_flag", flag)
        h.setOptionValue("log_to_console", console)
    if not stalled:
        return False
    presolve = _option(h, "presolve")
    h.setOptionValue("presolve", "off")
    h.clearSolver()  # nothing of the stopped run: the interior point starts afresh
    # HiGHS keeps the interrupt the clean-up was stopped with, and IPX reads it without resetting it (its
    # first iteration would stop): registering highspy's callbacks again clears it and keeps their subscribers
    h.disableCallbacks()
    h.enableCallbacks()
    try:
        run_interruptible(h, on_tick)
    finally:
        h.setOptionValue("presolve", presolve)
    return True


def limit_from_now(h, seconds: float) -> None:  # noqa: ANN001
    """Give ``h``'s next run ``seconds``: HiGHS's time limit is on its run clock, which runs on across runs.

    A what-if batch re-solves one HiGHS model hundreds of times; with the limit left as set, every re-solve
    after the first ``seconds`` of the batch in all would stop at once with no plan (measured on the code
    before: a 1 s limit, a 0.3 s cold solve and re-solves of 0.03-0.08 s; the 19th and every later one).
    """
    h.setOptionValue("time_limit", h.getRunTime() + float(seconds))


def _run_highs(h, model: LinearModel, t0: float, duals: bool = True) -> SolveResult:  # noqa: ANN001
    """Run ``h`` (holding ``model``) and map HiGHS's own status honestly."""
    import highspy  # noqa: PLC0415

    retried = run_guarded(h, PROGRESS.get("tick"))
    ms = h.getModelStatus()
    if ms == highspy.HighsModelStatus.kUnboundedOrInfeasible:
        h.setOptionValue("presolve", "off")
        run_interruptible(h)
        ms = h.getModelStatus()
    info = h.getInfo()
    version = f"HiGHS {h.version()}" if hasattr(h, "version") else "HiGHS"
    has_x = info.primal_solution_status == 2
    status_name = h.modelStatusToString(ms)
    limits = {
        highspy.HighsModelStatus.kTimeLimit,
        highspy.HighsModelStatus.kIterationLimit,
        highspy.HighsModelStatus.kSolutionLimit,
        highspy.HighsModelStatus.kInterrupt,
    }
    if ms == highspy.HighsModelStatus.kOptimal:
        status = OPTIMAL
    elif ms in limits and has_x:
        status = FEASIBLE
    elif ms == highspy.HighsModelStatus.kInfeasible:
        status = INFEASIBLE
    elif ms in limits:
        status = NO_SOLUTION
    else:
        raise NoSolutionError(
            f"the solver failed (HiGHS: {status_name!r}); extreme numbers are the usual cause: "
            "run planner validate and look for a 'numbers span' warning"
        )
    x = np.asarray(h.getSolution().col_value, dtype=float) if status in (OPTIMAL, FEASIBLE) else None
    objective = info.objective_function_value if x is not None else None
    bound = gap = None
    row_dual = None
    if model.is_mip and x is not None:
        bound = info.mip_dual_bound
        gap = _gap(objective, bound)
        row_dual = _fixed_lp_duals(h, model, x) if duals else None
    elif x is not None:
        bound, gap = objective, 0.0
        row_dual = np.asarray(h.getSolution().row_dual, dtype=float)
    return SolveResult(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        runtime_s=time.perf_counter() - t0,
        solver="highs",
        solver_version=version,
        x=x,
        row_dual=row_dual,
        message=f"{status_name}; {RETRIED}" if retried else status_name,
        limit_hit=ms in limits,
    )


class WarmHighs:
    """One persistent HiGHS model for a series of LPs of the same shape (what-if batches).

    ``solve(model)`` re-solves in place when ``model`` has the same rows, columns
    and sparsity as the one loaded (only costs, bounds or coefficients differ):
    HiGHS then hot-starts dual simplex. Anything else (a MIP, a changed structure)
    is solved cold, and becomes the loaded model and its "home".

    Every warm re-solve starts from the home's optimal basis (the baseline's, in a
    batch), not from the previous scenario's: a what-if is a change to the
    baseline, so its basis is the nearer start (a scenario that undoes the previous
    one's change needs no iteration at all), and a scenario's plan is the same
    whatever scenarios came before it in the batch (its order, its chunking over
    worker processes): HiGHS's solver state is cleared before the home basis is set,
    so nothing else of an earlier solve is left to steer the re-solve. ``home`` is
    ``(model, result)`` of that cold solve, for the closest-plan solve that follows
    each one (``planner.whatif.batch.WarmClosest``); ``home_id`` changes whenever
    the home does, ``home_basis`` is its basis; ``last`` tells how the latest
    ``solve`` went: ``("warm", simplex iterations)``, or ``("cold", 0)`` (a warm
    solve in no iteration ends at ``home_basis``, unless HiGHS had to repair that
    basis: a start that is then only less good).

    A model that differs from the home only in bounds of rows whose slack is basic
    in the home basis, and that still hold the home's activity, is not handed to
    HiGHS at all (``_home_holds``): the home basis stays primal feasible (its basic
    values do not depend on a basic row's bounds) and dual feasible (costs and
    matrix unchanged), so the home's plan and duals are this model's optimum. A
    capacity what-if on a plant with spare capacity is such a change.
    """

    def __init__(self, options: SolveOptions) -> None:
        self.options = options
        self.h = None
        self.model: LinearModel | None = None
        self.warm_solves = 0
        self.cold_solves = 0
        self.home: tuple[LinearModel, SolveResult] | None = None
        self.home_id = 0
        self.last: tuple[str, int] = ("cold", 0)
        self.home_basis = None
        self.home_rows: tuple[np.ndarray, np.ndarray] | None = None  # home row activities, and whether basic
        self.held = 0  # warm solves answered by ``_home_holds``

    def _same_shape(self, model: LinearModel) -> bool:
        cur = self.model
        if cur is not None and model.a_row is cur.a_row and model.a_col is cur.a_col and model.cols is cur.cols \
                and model.rows is cur.rows and model.integer is cur.integer:
            # a model made from the loaded one's arrays (planner.whatif.delta): its structure is that one, and
            # comparing 100k keys again would cost more than the re-solve of a small change
            return not model.is_mip
        return (
            cur is not None and not model.is_mip and not cur.is_mip
            and model.n_cols == cur.n_cols and model.n_rows == cur.n_rows and len(model.a_val) == len(cur.a_val)
            and np.array_equal(model.a_row, cur.a_row) and np.array_equal(model.a_col, cur.a_col)
            and model.cols["key"].tolist() == cur.cols["key"].tolist()
            and model.rows["key"].tolist() == cur.rows["key"].tolist()
        )

    def solve(self, model: LinearModel) -> SolveResult:
        if self.options.solver == "cbc" or not self._same_shape(model):
            self.cold_solves += 1
            self.last = ("cold", 0)
            self.home_id += 1
            self.home, self.home_basis, self.home_rows = None, None, None
            if self.options.solver == "cbc" or model.is_mip or model.n_cols == 0:
                self.h, self.model = None, None
                return solve(model, self.options)
            t0 = time.perf_counter()
            self.h = _new_highs(self.options)
            if model.n_cols > IPM_ABOVE:
                self.h.setOptionValue("solver", "ipm")  # crossover leaves a basis for the warm solves
            self.h.passModel(_highs_lp(model))
            self.model = model
            result = _run_highs(self.h, model, t0)
            self.h.setOptionValue("solver", "simplex")  # re-solves hot-start dual simplex from that basis
            # Devex pricing: steepest edge first computes its weights for the start basis (one solve with the
            # basis per row, 28k at scale 24: HiGHS keeps none across setBasis), which cost more than its
            # fewer iterations save here (bench/RESULTS.md, warm what-ifs)
            self.h.setOptionValue("simplex_dual_edge_weight_strategy", 1)
            basis = self.h.getBasis()
            if result.status == OPTIMAL and basis.valid:
                self.home, self.home_basis = (model, result), basis
            return result
        t0 = time.perf_counter()
        held = self._home_holds(model)
        if held is not None:
            # HiGHS keeps the model it holds; the next warm solve pushes its changes against that one
            self.warm_solves += 1
            self.held += 1
            self.last = ("warm", 0)
            return dataclasses.replace(held, x=held.x.copy(), row_dual=held.row_dual.copy(),  # type: ignore[union-attr]
                                       runtime_s=time.perf_counter() - t0)
        cur, h = self.model, self.h
        assert cur is not None and h is not None
        _push_changes(h, cur, model)
        if self.home_basis is not None:
            # HiGHS keeps more than the basis from one solve to the next (its factorisation, edge weights,
            # perturbation): without clearing them first, a re-solve that moves the plan could end on another
            # optimal vertex depending on the scenarios solved before it (measured at scale 24)
            h.clearSolver()
            h.setBasis(self.home_basis)
        self.model = model
        self.warm_solves += 1
        limit_from_now(h, self.options.time_limit_s)
        result = _run_highs(h, model, t0)
        self.last = ("warm", int(h.getInfo().simplex_iteration_count))
        return result

    def _home_holds(self, model: LinearModel) -> SolveResult | None:
        """The home's result if it is ``model``'s optimum by the home basis alone (see the class), else None.

        Exact, not within a tolerance: the changed rows must be basic at home and their home activity inside the
        new bounds, the costs, column bounds and coefficients equal to the home's to the last digit. HiGHS,
        handed such a change, re-factorises the home basis (0.02 s at scale 24) and takes no iteration."""
        if self.home is None or self.home_basis is None:
            return None
        home, result = self.home
        if result.x is None or result.row_dual is None or model.n_rows != home.n_rows:
            return None
        if not same_arrays((model.c, home.c), (model.col_lo, home.col_lo), (model.col_hi, home.col_hi),
                           (model.a_val, home.a_val)):
            return None
        if self.home_rows is None:
            activity = np.bincount(home.a_row, weights=home.a_val * result.x[home.a_col], minlength=home.n_rows)
            self.home_rows = (activity, basic_rows(self.home_basis))
        activity, basic = self.home_rows
        return result if bounds_keep_basis(model.row_lo, model.row_hi, home.row_lo, home.row_hi, activity, basic) \
            else None


def same_arrays(*pairs: tuple[np.ndarray | None, np.ndarray | None]) -> bool:
    """Whether each pair holds the same array or equal ones, to the last digit."""
    return all(a is b or (a is not None and b is not None and np.array_equal(a, b)) for a, b in pairs)


def basic_rows(basis) -> np.ndarray:  # noqa: ANN001
    """Per row of a HiGHS basis: whether its slack is basic."""
    import highspy  # noqa: PLC0415

    basic = highspy.HighsBasisStatus.kBasic
    return np.fromiter((s == basic for s in basis.row_status), dtype=bool, count=len(basis.row_status))


def bounds_keep_basis(row_lo: np.ndarray, row_hi: np.ndarray, base_lo: np.ndarray, base_hi: np.ndarray,
                      activity: np.ndarray, basic: np.ndarray) -> bool:
    """Whether an optimal basis stays optimal when only row bounds move, from ``base_lo``/``base_hi`` to
    ``row_lo``/``row_hi`` (costs and matrix unchanged: the caller compares them). Exact, not within a tolerance:
    every moved row is basic, so its bounds do not enter the basic solution, and its ``activity`` at that
    solution lies inside its new bounds, so the basis stays primal feasible; the duals do not move."""
    rows = np.flatnonzero((row_lo != base_lo) | (row_hi != base_hi))
    act = activity[rows]
    return bool(basic[rows].all() and ((row_lo[rows] <= act) & (act <= row_hi[rows])).all())


def _push_changes(h, cur: LinearModel, model: LinearModel) -> None:  # noqa: ANN001
    """Hand HiGHS (holding ``cur``) the costs, bounds and coefficients in which ``model`` differs from it."""
    idx = np.flatnonzero(model.c != cur.c).astype(np.int32)
    if len(idx):
        h.changeColsCost(len(idx), idx, model.c[idx])
    idx = np.flatnonzero((model.col_lo != cur.col_lo) | (model.col_hi != cur.col_hi)).astype(np.int32)
    if len(idx):
        h.changeColsBounds(len(idx), idx, model.col_lo[idx], model.col_hi[idx])
    idx = np.flatnonzero((model.row_lo != cur.row_lo) | (model.row_hi != cur.row_hi)).astype(np.int32)
    if len(idx):
        h.changeRowsBounds(len(idx), idx, model.row_lo[idx], model.row_hi[idx])
    for k in np.flatnonzero(model.a_val != cur.a_val):
        h.changeCoeff(int(model.a_row[k]), int(model.a_col[k]), float(model.a_val[k]))


def bound_by_work(h, model: LinearModel) -> None:  # noqa: ANN001
    """Limit a secondary solve (duals, explanations) by iterations instead of seconds.

    What such a solve finds goes into the workbook (the value of capacity, a price to win), so whether it
    finishes must not depend on how busy the machine is: iteration counts are the same on every machine
    (HiGHS runs single-threaded here), seconds are not. The bounds are far above what these LPs take,
    and keep a pathological one from running for hours.
    """
    h.setOptionValue("time_limit", float("inf"))
    h.setOptionValue("simplex_iteration_limit", int(SIMPLEX_WORK * (model.n_rows + model.n_cols)))
    h.setOptionValue("ipm_iteration_limit", IPM_ITERATIONS)


def _option(h, name: str) -> object:  # noqa: ANN001
    """An option's value (highspy returns (status, value) in some versions, the value in others)."""
    got = h.getOptionValue(name)
    return got[1] if isinstance(got, tuple) else got


# Secondary solves' work bounds: simplex iterations per row and column, interior-point iterations
SIMPLEX_WORK = 20
IPM_ITERATIONS = 1000


def _fixed_lp_duals(h, model: LinearModel, x: np.ndarray) -> np.ndarray | None:  # noqa: ANN001
    """Row duals of the LP with every integer column fixed at its (rounded) value."""
    import highspy  # noqa: PLC0415

    idx = np.flatnonzero(model.integer).astype(np.int32)
    vals = np.round(x[idx])
    h.changeColsIntegrality(len(idx), idx, np.array([highspy.HighsVarType.kContinuous] * len(idx)))
    h.changeColsBounds(len(idx), idx, vals, vals)
    # ``h`` may be a batch's warm solver: its own limits come back after this secondary solve
    saved = {k: _option(h, k) for k in ("time_limit", "simplex_iteration_limit", "ipm_iteration_limit")}
    bound_by_work(h, model)
    run_interruptible(h)
    for k, v in saved.items():
        h.setOptionValue(k, v)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().row_dual, dtype=float)


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)


# --------------------------------------------------------------------------- CBC


def cbc_path() -> str:
    import pulp  # noqa: PLC0415

    return pulp.PULP_CBC_CMD().path


def write_mps(model: LinearModel, path: Path) -> None:
    """Write the model as free MPS (HiGHS's C++ writer: fast and exact).

    HiGHS picks the format from the file's extension and refuses one it does not know (``.txt``) with a
    status, not an exception: that is an error here, not a silently missing file.
    """
    import highspy  # noqa: PLC0415

    h = _new_highs(SolveOptions())
    h.passModel(_highs_lp(model))
    if h.writeModel(str(path)) == highspy.HighsStatus.kError:
        raise OutputError(f"HiGHS could not write the model to {path} (it needs a name ending in .mps)")


_CBC_STATUS = re.compile(r"^(Optimal|Infeasible|Integer infeasible|Unbounded|Stopped on \w+|"
                         r"Stopped on iterations|Stopped on time|Stopped on ctrl-c)", re.I)


def _solve_cbc(model: LinearModel, options: SolveOptions) -> SolveResult:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="planner-cbc-") as tmp:
        mps = Path(tmp) / "model.mps"
        sol = Path(tmp) / "model.sol"
        write_mps(model, mps)
        cmd = [cbc_path(), str(mps), "-sec", str(options.time_limit_s), "-threads", "1",
               "-randomSeed", str(options.seed or 1), "-ratioGap", str(options.mip_gap), "-allowableGap", "0",
               "-printingOptions", "all", "-solve", "-solu", str(sol)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ})
        except OSError as exc:  # binary missing or not executable
            raise NoSolutionError(f"the CBC solver could not be run ({exc}); use --solver highs") from exc
        log = proc.stdout + proc.stderr
        if not sol.exists():
            raise NoSolutionError(f"CBC failed (exit {proc.returncode}): {log[-500:]}")
        text = sol.read_text()
    first = text.splitlines()[0] if text else ""
    x, row_dual = _parse_cbc_solution(text, model)
    m = _CBC_STATUS.match(first.strip())
    word = m.group(1).lower() if m else first.lower()
    limit = word.startswith("stopped")
    objective = float(np.dot(model.c, x)) if x is not None else None
    if word.startswith("optimal"):
        status = OPTIMAL
    elif "infeasible" in word:
        status = INFEASIBLE
        x = None
        objective = None
    elif limit and x is not None and _feasible(model, x):
        status = FEASIBLE
    elif limit:
        status = NO_SOLUTION
        x = None
        objective = None
    else:
        raise NoSolutionError(f"CBC stopped with status {first!r}")
    bound = gap = None
    if model.is_mip and objective is not None:
        bm = re.findall(r"best possible ([-+0-9.eE]+)", log) or re.findall(r"Lower bound:\s*([-+0-9.eE]+)", log)
        bound = float(bm[-1]) if bm else (objective if status == OPTIMAL else None)
        gap = _gap(objective, bound)
        if status == OPTIMAL and gap is None:
            gap = 0.0
        row_dual = _cbc_fixed_duals(model, x, options) if x is not None else None
    elif objective is not None:
        bound, gap = objective, 0.0
    return SolveResult(status, objective, bound, gap, time.perf_counter() - t0, "cbc", _cbc_version(log), x,
                       row_dual if status in (OPTIMAL, FEASIBLE) else None, first.strip(), limit)


def _cbc_version(log: str) -> str:
    m = re.search(r"Version:\s*(\S+)", log)
    return f"CBC {m.group(1)}" if m else "CBC"


def _parse_cbc_solution(text: str, model: LinearModel) -> tuple[np.ndarray | None, np.ndarray | None]:
    """CBC ``-printingOptions all -solu``: rows first (index name activity dual), then columns."""
    x = np.zeros(model.n_cols)
    dual = np.zeros(model.n_rows)
    lines = text.splitlines()[1:]
    seen_cols = False
    for line in lines:
        parts = line.replace("**", " ").split()
        if len(parts) < 4:
            continue
        name, value, red = parts[1], float(parts[2]), float(parts[3])
        if name.startswith("c") and name[1:].isdigit():
            seen_cols = True
            x[int(name[1:])] = value
        elif name.startswith("r") and name[1:].isdigit():
            dual[int(name[1:])] = red
    if not seen_cols and model.n_cols:
        return None, None
    return x, dual


def _feasible(model: LinearModel, x: np.ndarray, tol: float = 1e-6) -> bool:
    act = np.zeros(model.n_rows)
    np.add.at(act, model.a_row, model.a_val * x[model.a_col])
    scale = 1.0 + np.abs(model.row_hi[np.isfinite(model.row_hi)]).max(initial=0.0)
    return bool(np.all(act >= model.row_lo - tol * scale) and np.all(act <= model.row_hi + tol * scale))


def _cbc_fixed_duals(model: LinearModel, x: np.ndarray, options: SolveOptions) -> np.ndarray | None:
    vals = np.round(x[model.integer])
    lo, hi = model.col_lo.copy(), model.col_hi.copy()
    lo[model.integer] = vals
    hi[model.integer] = vals
    fixed = dataclasses.replace(model, integer=np.zeros_like(model.integer), col_lo=lo, col_hi=hi)
    res = _solve_cbc(fixed, SolveOptions(solver="cbc", time_limit_s=60, mip_gap=options.mip_gap))
    return res.row_dual
