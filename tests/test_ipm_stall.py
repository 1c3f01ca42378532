"""Two ways HiGHS's own state could cost a plan (issue 16), and what the planner does about them.

* HiGHS's interior point (IPX) can stall on the presolved model ("no progress"); HiGHS then hands the model to
  simplex, which on the legacy scale-66 benchmark had no plan after an hour. ``solve.run_guarded`` reads the
  stall in HiGHS's log, stops that simplex at once and runs the interior point again without presolve.
* HiGHS's time limit is on a clock that runs on across runs of one model: the warm solvers of a what-if batch
  re-solve one model hundreds of times, so after the first ``time_limit_s`` seconds of a batch in all, every
  re-solve would stop at once without a plan. Each re-solve now gets the whole limit (``solve.limit_from_now``).

The stall itself takes the 577k-column case and ten minutes (the slow test). The default tests drive the same
path through HiGHS on a small model by taking IPX's word for success ("optimal") as the stall word: every
interior point then counts as stalled, so the stop, the second run and the clean state after it are HiGHS's
own, not a mock's.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest

from bench.generate import generate
from planner.api import options_from
from planner.input.data import SolveOptions
from planner.input.validate import tables_to_inputs
from planner.optimise import solve as S
from planner.optimise.model import build_model
from planner.results.report import build_plan
from planner.whatif import batch
from planner.whatif.delta import DeltaBase, Fallback
from tests.test_warm_delta import _scenarios


@pytest.fixture(scope="module")
def model13():
    # 9k columns; HiGHS's crossover ends "imprecise" on its presolved model, so a simplex clean-up follows the
    # interior point there: the run the guard has to stop
    return build_model(tables_to_inputs(generate(13)))


@pytest.fixture(scope="module")
def model6():
    # 1.6k columns, still more than presolve alone solves: IPX runs
    return build_model(tables_to_inputs(generate(6)))


def _ipm(model, verbose: bool = False):  # noqa: ANN001, ANN202
    h = S._new_highs(SolveOptions(verbose=verbose))
    h.setOptionValue("solver", "ipm")
    if verbose:
        h.setOptionValue("log_to_console", False)
    h.passModel(S._highs_lp(model))
    return h


def _log(h) -> list[str]:  # noqa: ANN001
    lines: list[str] = []
    h.cbLogging.subscribe(lambda e: lines.append(e.message))
    return lines


def test_highs_reports_ipx_status_in_the_words_the_guard_reads(model6):
    h = _ipm(model6)
    lines = _log(h)
    assert S.run_guarded(h) is False
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    # the status line of a converged interior point, as the guard would see a stalled one
    assert [x.split() for x in lines if S.IPX_LOG in x] == [["Ipx:", "IPM", "optimal"]]
    # the log was on for the run only, and the guard's own callbacks are gone
    assert S._option(h, "output_flag") is False and S._option(h, "log_to_console") is True
    assert len(h.cbLogging.callbacks) == 1 and S._option(h, "presolve") == "choose"


def test_a_stall_stops_the_clean_up_and_runs_the_interior_point_again_without_presolve(model13, monkeypatch):
    monkeypatch.setattr(S, "IPX_STALL", "optimal")  # every interior point now "stalls"
    h = _ipm(model13, verbose=True)
    lines = _log(h)
    assert S.run_guarded(h) is True
    # the first run's clean-up was stopped by the guard, the second ran without presolve to the optimum
    assert sum("Interrupted by user" in x for x in lines) == 1
    assert any("Not presolved" in x for x in lines)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    retried = h.getInfo().objective_function_value
    assert S._option(h, "presolve") == "choose"
    # no interrupt is left behind for the next run of this model (a warm solver's re-solves): HiGHS keeps the one
    # that stopped the clean-up unless highspy's callbacks are registered again. That run, presolved as the first,
    # also gives the optimum the retry is checked against.
    h.clearSolver()
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert retried == pytest.approx(h.getInfo().objective_function_value, rel=1e-9)


def test_a_retried_solve_says_so_in_its_status(model6, monkeypatch):
    monkeypatch.setattr(S, "IPX_STALL", "optimal")
    result = S._run_highs(_ipm(model6), model6, 0.0)
    assert result.status == S.OPTIMAL
    assert result.message == f"Optimal; {S.RETRIED}"
    monkeypatch.setattr(S, "IPX_STALL", "no progress")
    assert S._run_highs(_ipm(model6), model6, 0.0).message == "Optimal"


def test_every_warm_re_solve_gets_the_whole_time_limit_whatever_the_batch_used_before():
    inputs = tables_to_inputs(generate(4, seed=2))
    options = options_from(inputs)

    def run(spent: bool) -> list[tuple[str, np.ndarray | None, np.ndarray | None]]:
        base = DeltaBase(inputs)
        warm = S.WarmHighs(options)
        first = warm.solve(base.model)
        closest = batch.WarmClosest(warm, options, batch.lane_flows(build_plan(base.model, first, detail=False)))
        out = []
        for sc in _scenarios(inputs, 8, seed=8):
            try:
                model = base.apply(sc).model
            except Fallback:
                continue
            for h in (warm.h, closest.h):
                if spent and h is not None:  # HiGHS's clock past its limit: what a long batch comes to
                    h.setOptionValue("time_limit", h.getRunTime() / 2)
            result = warm.solve(model)
            near = closest.solve(model, result) if result.status == S.OPTIMAL else None
            out.append((result.status, result.x, None if near is None else near.x))
        return out

    fresh, late = run(False), run(True)
    assert [s for s, _, _ in late] == [s for s, _, _ in fresh] and {s for s, _, _ in fresh} == {S.OPTIMAL}
    assert sum(c is not None for _, _, c in fresh) >= 3
    for (_, x1, c1), (_, x2, c2) in zip(fresh, late, strict=True):
        assert np.array_equal(x1, x2)
        assert (c1 is None) == (c2 is None) and (c1 is None or np.array_equal(c1, c2))


@pytest.mark.slow  # 577k columns: the stall takes a minute, the run without presolve ten (quiet machine)
def test_the_legacy_scale_66_benchmark_stalls_and_is_solved_without_presolve():
    model = build_model(tables_to_inputs(generate(66, profile="legacy")))
    result = S.solve(model, SolveOptions(time_limit_s=7200.0))
    assert result.status == S.OPTIMAL
    # the optimum, from the same run in bench/RESULTS.md (HiGHS's presolve off from the start: 600 s)
    assert result.objective == pytest.approx(1.0173735679e11, rel=1e-8)
    if highspy.Highs().version().startswith("1.15."):  # the HiGHS the stall was found with; a later one may not stall
        assert S.RETRIED in result.message


def test_every_no_exposure_re_solve_of_a_mip_gets_the_whole_time_limit(monkeypatch):
    # the reference case is a MIP: its "no exposure" explanations re-solve one HiGHS MIP plant after plant
    from pathlib import Path  # noqa: PLC0415

    from planner.input.validate import load  # noqa: PLC0415
    from planner.results import explain as ex  # noqa: PLC0415

    inputs = load(Path(__file__).resolve().parents[1] / "inputs" / "rare_earth_magnets.xlsx")
    options = options_from(inputs)
    model = build_model(inputs)
    result = S.solve(model, options)
    assert model.is_mip and result.status == S.OPTIMAL
    plan = build_plan(model, result)
    fresh = ex._zero_exposure_costs(model, plan, result, options, [], None)
    assert len(fresh) >= 2
    new_highs = S._new_highs

    def spent(opts):  # noqa: ANN001, ANN202 - a HiGHS whose limit is already used up, as after earlier plants
        h = new_highs(opts)
        h.setOptionValue("time_limit", 1e-9)
        return h

    monkeypatch.setattr(S, "_new_highs", spent)
    assert ex._zero_exposure_costs(model, plan, result, options, [], None) == fresh
