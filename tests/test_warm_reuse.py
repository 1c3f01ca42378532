"""Warm what-ifs that move nothing reuse the baseline's solve: the least-cost plan (WarmHighs._home_holds), the
closest plan (WarmClosest.hit) and the plan tables (WarmClosest.tables_under).

What must hold: each reuse gives what the solve or the build it skips gives (the tables to the last digit), it is
taken where it applies (so the checks are not vacuous), and a scenario's plan does not depend on the scenarios
before it, also where HiGHS's state left by an earlier re-solve used to steer the next one.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from bench.generate import generate
from planner.api import options_from
from planner.input.validate import tables_to_inputs
from planner.optimise.solve import OPTIMAL, WarmHighs
from planner.results import tiers
from planner.results.report import build_plan
from planner.whatif import batch
from planner.whatif.delta import DeltaBase, Fallback
from planner.whatif.scenarios import Change, Scenario
from tests.test_warm_delta import _close, _json, _scenarios


def _capacity_whatifs(inputs, factors: tuple[float, ...]) -> list[Scenario]:  # noqa: ANN001
    """Every Supply row with capacity, times each factor: most leave the plan where it is (spare capacity)."""
    sup = inputs.supply[inputs.supply["capacity_t"] > 0]
    return [Scenario(f"{r.site_id}/{r.product} x{f}", (Change("Supply", f"{r.site_id}/{r.product}", "capacity_t",
                                                               "multiply", f),))
            for r in sup.itertuples(index=False) for f in factors]


def test_a_home_that_holds_is_what_highs_finds():
    inputs = tables_to_inputs(generate(4, seed=2))
    options = options_from(inputs)
    base = DeltaBase(inputs)
    warm, plain = WarmHighs(options), WarmHighs(options)
    warm.solve(base.model)
    plain.solve(base.model)
    plain._home_holds = lambda _model: None  # every re-solve by HiGHS
    held = moved = 0
    for sc in _capacity_whatifs(inputs, (0.02, 1.5)):
        try:
            model = base.apply(sc).model
        except Fallback:
            continue
        before = warm.held
        got, want = warm.solve(model), plain.solve(model)
        assert got.status == want.status == OPTIMAL, sc.name
        if warm.held > before:
            held += 1
            # HiGHS takes no iteration from the home basis and ends where the home did
            assert plain.last == ("warm", 0), sc.name
            np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=1e-9, err_msg=sc.name)
            np.testing.assert_allclose(got.row_dual, want.row_dual, rtol=1e-12, atol=1e-9, err_msg=sc.name)
            assert got.objective == pytest.approx(want.objective, rel=1e-14), sc.name
        else:
            moved += 1
            assert got.objective == pytest.approx(want.objective, rel=1e-12), sc.name
    assert held >= 5 and moved >= 1


def test_a_cost_change_is_never_held():
    inputs = tables_to_inputs(generate(4, seed=2))
    base = DeltaBase(inputs)
    warm = WarmHighs(options_from(inputs))
    warm.solve(base.model)
    site, product = inputs.supply.loc[inputs.supply["capacity_t"] > 0, ["site_id", "product"]].iloc[0]
    for column, factor in (("unit_cost_usd_per_kg", 1.0001), ("capacity_t", 1.0)):
        warm.solve(base.apply(Scenario("s", (Change("Supply", f"{site}/{product}", column, "multiply",
                                                    factor),))).model)
    assert warm.held == 1  # the capacity x1.0 (nothing changes), not the price


@pytest.mark.parametrize(("scale", "seed"), [(4, 2), pytest.param(5, 7, marks=pytest.mark.slow)])
def test_reused_tables_are_the_built_ones(scale, seed, monkeypatch):
    inputs = tables_to_inputs(generate(scale, seed=seed))
    options = options_from(inputs)
    checked = []
    reused = batch._ClosestSolver.reused_tables

    def both(self, delta, result):  # noqa: ANN001, ANN202
        out = reused(self, delta, result)
        if out is not None:
            built = build_plan(delta.model, result, detail=False)
            for f in fields(built):
                a, b = getattr(out, f.name), getattr(built, f.name)
                if isinstance(b, pd.DataFrame):
                    pd.testing.assert_frame_equal(a, b, check_exact=True)
                    assert a is not b
                elif f.name != "run_info":
                    assert a == b, f.name
            made = tiers.by_country(tiers.sourcing_of(built, delta.model.net))
            pd.testing.assert_frame_equal(self.made_where, made, check_exact=True)
            checked.append(delta)
        return out

    monkeypatch.setattr(batch._ClosestSolver, "reused_tables", both)
    scenarios = _capacity_whatifs(inputs, (0.6, 1.4))[:16] + _scenarios(inputs, 6, seed=seed)
    out = batch.run_batch(inputs, scenarios, options, warm=True)
    assert all(o.status == "optimal" for o in out)
    assert len(checked) >= 4


def _order_independent(inputs, scenarios) -> None:  # noqa: ANN001
    options = options_from(inputs)
    together = {o.scenario: _json(o) for o in batch.run_batch(inputs, scenarios, options, warm=True)}
    for sc in scenarios:
        alone = batch.run_batch(inputs, [sc], options, warm=True)[1]
        _close(_json(alone), together[sc.name], sc.name)


@pytest.mark.slow  # by default, tests/test_warm_closest.py's generated LP checks the same on the same path
def test_reuse_does_not_depend_on_the_scenarios_before_it():
    inputs = tables_to_inputs(generate(4, seed=2))
    scenarios = _capacity_whatifs(inputs, (0.5,))[:6]
    _order_independent(inputs, scenarios + _scenarios(inputs, 4, seed=6))


@pytest.mark.slow
def test_a_re_solve_after_another_is_the_re_solve_alone_slow():
    # scale 16's capacity what-ifs (bench/warm_bench.py's draw): before HiGHS's state was cleared before each
    # re-solve, two of them ended on other optimal plans after the scenarios before them than alone
    from bench.batch_bench import capacity_whatifs  # noqa: PLC0415

    inputs = tables_to_inputs(generate(16))
    _order_independent(inputs, capacity_whatifs(inputs, 6))
