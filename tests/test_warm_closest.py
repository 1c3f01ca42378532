"""Warm what-ifs: the least-cost re-solve starts from the baseline's basis, the closest-plan LP from the
least-cost plan's basis (planner.optimise.solve.WarmHighs, planner.whatif.batch.WarmClosest).

What must hold: a scenario's plan is the same whatever scenarios come before it in a batch (to the last
digit), the warm closest plan is as close as the one solved from scratch (same distance, same cost), and
the warm path is the one actually taken.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.generate import generate
from planner.api import options_from
from planner.input.validate import load, tables_to_inputs
from planner.optimise.model import EPS_CLASS
from planner.optimise.solve import OPTIMAL, WarmHighs
from planner.results.report import build_plan
from planner.whatif import batch
from planner.whatif.delta import DeltaBase, Fallback
from planner.whatif.scenarios import Change, Scenario
from tests.test_warm_delta import _close, _json, _scenarios

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "inputs" / "rare_earth_magnets.xlsx"


def _generated(scale: int = 3, seed: int = 5, candidates: int = 0):
    """A generated case; without candidates it is an LP, which the warm solvers re-solve warm (a MIP, such as
    the reference case, is solved from scratch every time)."""
    return tables_to_inputs(generate(scale, seed=seed, candidates=candidates))


def _by_name(outcomes: list[batch.Outcome]) -> dict[str, dict]:
    return {o.scenario: _json(o) for o in outcomes}


# the generated LP by default (warm re-solves and the warm closest plan); the reference case and the MIP (solved
# from scratch each time) in the slow run, to keep the default suite inside its 5 minutes on a busy machine
@pytest.mark.parametrize("case", [pytest.param("reference", marks=pytest.mark.slow), "generated LP",
                                  pytest.param("generated MIP", marks=pytest.mark.slow)])
def test_a_scenarios_plan_does_not_depend_on_the_scenarios_before_it(case):
    inputs = load(REFERENCE) if case == "reference" else _generated(candidates=0 if case == "generated LP" else 2)
    scenarios = _scenarios(inputs, 6, seed=21)
    options = options_from(inputs)
    forward = _by_name(batch.run_batch(inputs, scenarios, options, warm=True))
    backward = _by_name(batch.run_batch(inputs, scenarios[::-1], options, warm=True))
    # each scenario alone after the baseline, as the first scenario of a chunk
    for sc in scenarios[:3]:
        alone = _by_name(batch.run_batch(inputs, [sc], options, warm=True))
        _close(alone[sc.name], forward[sc.name], sc.name)
    assert forward.keys() == backward.keys()
    for name in forward:
        _close(forward[name], backward[name], name)


def _closest_objective(model, x: np.ndarray, reference: dict) -> float:  # noqa: ANN001
    layout = batch._layout(model, reference)
    b = layout.lo[1::2]
    return float(batch.TIE_WEIGHT / EPS_CLASS * model.tiebreak @ x + np.abs(layout.flow(x) - b).sum())


@pytest.mark.parametrize(("scale", "seed"), [(4, 2), (6, 13)])
def test_the_warm_closest_plan_is_as_close_as_the_one_solved_from_scratch(scale, seed):
    inputs = _generated(scale, seed)
    options = options_from(inputs)
    base = DeltaBase(inputs)
    warm = WarmHighs(options)
    first = warm.solve(base.model)
    assert first.status == OPTIMAL and warm.home is not None
    reference = batch.lane_flows(build_plan(base.model, first, detail=False))
    closest = batch.WarmClosest(warm, options, reference)
    taken = 0
    for sc in _scenarios(inputs, 10, seed=8):
        try:
            model = base.apply(sc).model
        except Fallback:
            continue
        result = warm.solve(model)
        if result.status != OPTIMAL:
            continue
        out = closest.solve(model, result)
        if out is None:
            continue
        taken += 1
        cold = batch.closest_plan(model, result, reference, options)
        # as cheap as the least-cost plan, and as close to the baseline as the closest plan from scratch
        cost = float(model.c @ result.x)
        for x in (out.x, cold.x):
            assert float(model.c @ x) == pytest.approx(cost, rel=batch.EQUAL_COST, abs=1e-6)
        assert _closest_objective(model, out.x, reference) == pytest.approx(
            _closest_objective(model, cold.x, reference), rel=1e-9, abs=1e-6), sc.name
    # a scenario that moves nothing takes the baseline's own closest plan (hits), and is checked above all the same
    assert taken >= 5 and closest.solved + closest.hits == taken


def test_warm_solves_start_from_the_home_basis():
    inputs = _generated(5, 12)
    options = options_from(inputs)
    base = DeltaBase(inputs)
    warm = WarmHighs(options)
    first = warm.solve(base.model)
    assert warm.last == ("cold", 0) and warm.home is not None
    home = warm.home_id
    sup = inputs.supply[inputs.supply["capacity_t"] > 0]
    moved = 0
    for r in sup.itertuples(index=False):
        sc = Scenario("c", (Change("Supply", f"{r.site_id}/{r.product}", "capacity_t", "multiply", 0.3),))
        try:
            model = base.apply(sc).model
        except Fallback:
            continue
        warm.solve(model)
        moved += warm.last[1] > 0
        # the baseline again: back at its own basis, in no iteration, whatever the scenario before it did
        again = warm.solve(base.model)
        assert warm.last == ("warm", 0)
        assert again.objective == first.objective
        np.testing.assert_array_equal(again.x, first.x)
    assert moved and warm.home_id == home and warm.cold_solves == 1


def test_a_batch_takes_the_warm_closest_plan():
    inputs = _generated(4, 3)
    options = options_from(inputs)
    made: list[batch.WarmClosest] = []

    class Counted(batch.WarmClosest):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            made.append(self)

    scenarios = _scenarios(inputs, 8, seed=3)
    mp = pytest.MonkeyPatch()
    mp.setattr(batch, "WarmClosest", Counted)
    try:
        out = batch.run_batch(inputs, scenarios, options, warm=True)
    finally:
        mp.undo()
    assert all(o.status == "optimal" for o in out)
    assert len(made) == 1 and made[0].solved + made[0].hits >= 6 and made[0].solved == made[0].tried


@pytest.mark.parametrize("duals", [True, False])
def test_closest_plan_from_scratch_with_and_without_duals(duals):
    """Without the least-cost solve's duals the closest plan holds the cost in a row instead of the face."""
    from dataclasses import replace  # noqa: PLC0415

    from planner.optimise.solve import solve  # noqa: PLC0415

    inputs = _generated(4, 2)
    options = options_from(inputs)
    base = DeltaBase(inputs)
    first = solve(base.model, options)
    reference = batch.lane_flows(build_plan(base.model, first, detail=False))
    for sc in _scenarios(inputs, 6, seed=4):
        try:
            model = base.apply(sc).model
        except Fallback:
            continue
        result = solve(model, options)
        if result.status != OPTIMAL:
            continue
        if not duals:
            result = replace(result, row_dual=None)
        out = batch.closest_plan(model, result, reference, options)
        cost = float(model.c @ result.x)
        assert float(model.c @ out.x) <= cost + batch.EQUAL_COST * abs(cost) + 1e-5
        assert _closest_objective(model, out.x, reference) <= _closest_objective(model, result.x, reference) + 1e-6
