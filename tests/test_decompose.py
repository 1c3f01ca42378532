"""The scenario decomposition of a plan against regimes (planner.optimise.decompose) against the extensive form.

On the hand-worked cases of tests/test_regimes.py (the ban on U with a candidate R; three regimes; stock bought
before a shock in a later period; a reserved volume, a continuous first stage): the decomposition's plan is a
plan of the whole stitched model, costs what the extensive form's optimum costs (within the gap), and its
lower bound is at or below that optimum at every iteration, with and without risk aversion.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from planner.api import plan
from planner.errors import InfeasibleError
from planner.optimise import decompose as dec
from planner.optimise.regimes import build_regimes, regime_costs
from planner.optimise.solve import options_from, solve
from planner.results.check import check_regimes
from tests.test_regimes import M, case, supply, three_regimes

GAP = 1e-6
LATER_BAN = [{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
              "operation": "set", "value": 0, "period": "2027"}]


def extensive(inputs):  # noqa: ANN001, ANN201
    rm = build_regimes(inputs)
    res = solve(rm.lp, options_from(inputs, solver="highs", mip_gap=1e-9))
    assert res.status == "optimal"
    return rm, float(res.objective)


def at_most(bound: float, optimum: float) -> bool:
    """``bound`` is no more than ``optimum``, up to the solvers' tolerances (1e-9 of the cost)."""
    return bound <= optimum + 1e-9 * max(1.0, abs(optimum))


def check(inputs, **kw):  # noqa: ANN001, ANN201
    """Decompose, and compare with the extensive form: the plan, its cost, every iteration's bound."""
    rm, optimum = extensive(inputs)
    d = dec.solve_decomposed(rm, workers=1, max_iter=kw.pop("max_iter", 40), gap=GAP, **kw)
    assert d.status == "optimal", d.message
    assert d.x is not None and dec.feasible(rm.lp, d.x)
    assert float(rm.lp.c @ d.x) == pytest.approx(d.upper)
    assert d.upper == pytest.approx(optimum, rel=GAP)
    assert at_most(d.lower, optimum) and d.gap <= GAP
    assert all(at_most(h.bound, optimum) and at_most(h.best_bound, optimum) for h in d.history)
    assert all(h.zero_sum <= 1e-9 for h in d.history)
    return rm, d, optimum


# --------------------------------------------------------------------------- one year


@pytest.mark.parametrize(("fee", "lam", "alpha"), [(2 * M, 0.0, 0.9), (3 * M, 0.0, 0.9), (3 * M, 0.1, 0.9),
                                                   (3 * M, 0.05, 0.9), (3 * M, 0.5, 1.0)])
def test_the_ban_case_as_the_extensive_form_solves_it(fee, lam, alpha):  # noqa: ANN001
    # tests/test_regimes.py: risk-neutral, R is qualified below a 2.55 M fee (3.15 M expected at 2 M; 3.7 M without
    # R at 3 M); CVaR at 0.9 weighted above 0.0818 buys it at 3 M; alpha = 1 weighs the worst regime.
    rm, d, optimum = check(case(supply(), fee=fee, settings={"risk_aversion": lam, "cvar_alpha": alpha}))
    if lam == 0:
        assert optimum == pytest.approx(3.15 * M if fee < 2.55 * M else 3.7 * M, rel=1e-6)
    # the plan's regime costs are the extensive form's plan's
    res = solve(rm.lp, options_from(rm.lp.inputs, solver="highs", mip_gap=1e-9))
    assert regime_costs(rm, d.x) == pytest.approx(regime_costs(rm, res.x), rel=1e-6)


def test_three_regimes_with_and_without_risk_aversion():
    for lam in (0.0, 0.1, 1.0):
        check(three_regimes(lam))


# --------------------------------------------------------------------------- over periods: a later shock


@pytest.mark.parametrize(("holding", "lam"), [(20.0, 0.0), (30.0, 0.0), (30.0, 0.2)])
def test_stock_before_a_later_shock_ties_the_first_period(holding, lam):  # noqa: ANN001
    # tests/test_regimes.py: 2026 is shared (the ban comes in 2027); holding at 20 k/t stocks 100 t in 2026
    # (4.0 M expected), at 30 it does not (4.7 M). The 2026 columns are tied: the closing stock is priced, the
    # rest relaxed, and the plan's 2026 decisions are one.
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": holding},
               changes=LATER_BAN, settings={"risk_aversion": lam, "cvar_alpha": 0.9})
    rm, d, optimum = check(inp)
    if lam == 0:
        assert optimum == pytest.approx(4.0 * M if holding < 27 else 4.7 * M, rel=1e-6)
    sp = dec.split(rm)
    tied = [g for g in sp.groups if g.kind == "tied"]
    assert tied and any(g.priced for g in tied) and any(not g.priced for g in tied)
    assert d.priced_groups < len(sp.groups)


def test_a_qualification_started_before_a_later_shock():
    # tests/test_regimes.py: R (one period to qualify) is started in 2026 in every regime: 3.15 M expected.
    inp = case(supply(), fee=1 * M, lead=1, periods=["2026", "2027"], changes=LATER_BAN)
    _, d, optimum = check(inp)
    assert optimum == pytest.approx(3.15 * M, rel=1e-6)


def test_pricing_every_tied_column_gives_the_same_plan_and_a_valid_bound():
    # relaxing the tied columns that reach nothing outside their group is a relaxation: dropping it (every tied
    # column priced) must not change the answer, only the number of multipliers
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": 20.0},
               changes=LATER_BAN)
    rm, d, optimum = check(inp)
    _, every, _ = check(inp, relax_internal=False)
    assert every.priced_groups > d.priced_groups
    assert every.upper == pytest.approx(d.upper, rel=GAP)


# --------------------------------------------------------------------------- a continuous first stage


def test_a_reserved_volume_is_a_continuous_first_stage():
    from tests.test_reservations import case as reservation_case  # noqa: PLC0415

    # the reservation is insurance against the ban: the extensive form decides how much; so must the consensus
    for lam in (0.0, 0.3):
        inp = reservation_case(20, u_cap=1000, q_cap=0, settings={"risk_aversion": lam, "cvar_alpha": 0.9})
        rm, d, _ = check(inp)
        shared = [g for g in dec.split(rm).groups if g.kind == "shared" and not g.eta]
        assert any(not g.integer for g in shared)


# --------------------------------------------------------------------------- the bound is honest


def test_the_bound_is_the_subproblems_dual_bound_not_their_incumbents():
    # A subproblem that stops with a gap has an incumbent above its bound; only the bound may count. Here every
    # subproblem reports an incumbent 50 % dearer than it is (its bound unchanged): a lower bound built from
    # incumbents would pass the optimum (the wait-and-see value is 3.4 M; 1.5 x that is above 3.15 M).
    inp = case(supply(), fee=2 * M)
    rm, optimum = extensive(inp)
    opts = dataclasses.replace(options_from(inp), mip_gap=GAP / 10, time_limit_s=np.inf)
    sp = dec.split(rm)

    def gapped(tasks):  # noqa: ANN001, ANN202
        out = []
        for t in tasks:
            o = dec.solve_subproblem(sp.subs[t.w], t, opts)
            out.append(dataclasses.replace(o, objective=None if o.objective is None else 1.5 * o.objective + M))
        return out

    d = dec.solve_decomposed(rm, max_iter=10, gap=GAP, solver=gapped)
    assert d.history and all(at_most(h.bound, optimum) for h in d.history)
    assert d.upper == pytest.approx(optimum, rel=GAP)


def test_multipliers_sum_to_zero_and_stay_where_the_subproblems_are_bounded():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 9))
        p = rng.dirichlet(np.ones(n))
        v = rng.normal(0, 3, n)
        lam, alpha = float(rng.uniform(0.01, 2)), float(rng.choice([0.5, 0.9, 1.0]))
        box = (-lam, lam * alpha / (1 - alpha) if alpha < 1 else np.inf)
        w = dec._project(v, p, box)
        assert abs(float(p @ w)) <= 1e-12 * max(1.0, float(np.abs(v).max()))
        assert (w >= box[0] - 1e-12).all() and (w <= box[1] + 1e-12).all()
        free = dec._project(v, p, (-np.inf, np.inf))
        assert abs(float(p @ free)) <= 1e-12 * max(1.0, float(np.abs(v).max()))


def test_big_steps_never_lift_the_bound_above_the_optimum():
    # theta 2 (the largest step subgradient theory allows) and no halving for a while: the bound swings, but
    # every iteration's is a valid one, since the multipliers sum to zero in every group
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": 20.0},
               changes=LATER_BAN, settings={"risk_aversion": 0.2, "cvar_alpha": 0.9})
    rm, optimum = extensive(inp)
    d = dec.solve_decomposed(rm, workers=1, max_iter=12, gap=1e-12, theta=2.0, patience=6)
    assert len(d.history) > 1
    assert all(at_most(h.bound, optimum) and h.zero_sum <= 1e-9 for h in d.history)


def test_an_infeasible_regime_makes_the_plan_infeasible():
    # shortage not allowed, and the ban leaves 50 t of R for 100 t of demand: the ban regime has no plan
    inp = case(supply(r_cap=50), fee=1 * M, settings={"allow_shortage": "no", "regime_method": "decomposed"})
    rm = build_regimes(inp)
    d = dec.solve_decomposed(rm, workers=1, max_iter=5, gap=GAP)
    assert d.status == "infeasible" and d.x is None and d.upper is None
    with pytest.raises(InfeasibleError):
        plan(inp, options_from(inp, solver="highs"), detail=False)


# --------------------------------------------------------------------------- serial and pool, and the plan


def test_the_pool_gives_what_the_serial_path_gives():
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": 20.0},
               changes=LATER_BAN, settings={"risk_aversion": 0.2, "cvar_alpha": 0.9})
    rm = build_regimes(inp)
    one = dec.solve_decomposed(rm, workers=1, max_iter=8, gap=1e-12)
    two = dec.solve_decomposed(rm, workers=2, max_iter=8, gap=1e-12)
    assert two.workers == 2 and one.workers == 1
    assert [h.bound for h in one.history] == [h.bound for h in two.history]
    assert [h.upper for h in one.history] == [h.upper for h in two.history]
    assert np.array_equal(one.x, two.x)
    again = dec.solve_decomposed(rm, workers=1, max_iter=8, gap=1e-12)
    assert [h.bound for h in again.history] == [h.bound for h in one.history] and np.array_equal(again.x, one.x)


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_the_plan_reads_the_same_through_the_api(lam):  # noqa: ANN001
    settings = {"risk_aversion": lam, "cvar_alpha": 0.9}
    inp = case(supply(), fee=3 * M, settings=settings)
    ext = plan(inp, options_from(inp, solver="highs", mip_gap=1e-9), detail=False)
    dinp = case(supply(), fee=3 * M, settings={**settings, "regime_method": "decomposed"})
    p = plan(dinp, options_from(dinp, solver="highs", mip_gap=GAP), detail=True)
    assert p.status == "optimal" and p.summary["gap"] <= GAP
    assert p.summary["expected_cost_usd"] == pytest.approx(ext.summary["expected_cost_usd"], rel=1e-6)
    assert p.summary["cvar_usd"] == pytest.approx(ext.summary["cvar_usd"], rel=1e-6)
    assert p.summary["best_bound_usd"] <= p.summary["solver_objective_usd"] * (1 + 1e-9)
    assert "decomposition" in p.run_info["solver"]
    chk = check_regimes(dinp, p)
    assert chk.ok, "\n".join(chk.failures)


def test_rows_the_split_does_not_know_are_refused():
    rm = build_regimes(case(supply(), fee=2 * M))
    rows = pd.concat([rm.lp.rows, pd.DataFrame({"key": [("mystery",)], "kind": ["mystery"]})], ignore_index=True)
    extra = dataclasses.replace(rm.lp, row_lo=np.append(rm.lp.row_lo, 0.0), row_hi=np.append(rm.lp.row_hi, 1.0),
                                rows=rows)
    with pytest.raises(ValueError, match="mystery"):
        dec.split(rm, extra)
