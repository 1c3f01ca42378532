"""Planning against licence regimes (issue 13): each optimum worked out by hand, every plan re-verified by the
independent checker (planner.results.check.check_regimes, through tests.conftest.solve_checked).

Units: t and USD/kg, so 1 t at 1 USD/kg costs 1,000 USD (written ``k`` below: 1 k = 1,000 USD, 1 M = 10^6 USD).
Periods are years of 365 days, no discounting. The usual cast: U (or A), a cheap Chinese supplier whose
exports a regime can ban (a RegimeChanges row setting the CN/X Controls row's approval_probability to 0);
R (or B), a dear Australian candidate that must be qualified (its fee paid in every regime: the
qualification is decided before the regime is known); P, a German plant needing 100 t of X a year, whose
shortage costs 100 USD/kg.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from planner.api import plan
from planner.errors import InputError
from planner.input.validate import load_regimes, tables_to_inputs
from planner.optimise.solve import options_from
from planner.results.check import check_horizon, check_plan, check_regimes
from tests.conftest import frame, solve_checked

K = 1000.0
M = 1e6
SITE_COLS = ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
             "processing_days", "qualification_periods"]


def case(supply: list[dict], *, fee: float = 2 * M, lead: int = 0, regimes=(("normal", 0.7), ("ban", 0.3)),  # noqa: ANN001
         changes: list[dict] | None = None, approval: float = 1.0, denial: float = 0.0,
         settings: dict | None = None, periods: list[str] | None = None, stock: dict | None = None,
         demand: float = 100.0):
    """U (CN, qualified), R (AU, candidate: ``fee``, ``lead`` periods to qualify), plant P (DE, ``demand`` t/yr).
    ``supply``: Supply rows of U and R. ``changes``: RegimeChanges rows (default: "ban" bans CN's X)."""
    sites = [
        {"site_id": "U", "name": "U", "company": "UCo", "country": "CN", "stage": "magnet", "status": "qualified"},
        {"site_id": "R", "name": "R", "company": "RCo", "country": "AU", "stage": "magnet", "status": "candidate",
         "qualification_cost_usd": fee, "qualification_periods": lead},
        {"site_id": "P", "name": "P", "company": "Me", "country": "DE", "stage": "plant", "status": "qualified"},
    ]
    if changes is None:
        changes = [{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                    "operation": "set", "value": 0}]
    tables = {
        "Sites": frame(sites, SITE_COLS),
        "Supply": frame(supply, ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": s, "to_site": "P", "product": "X", "freight_usd_per_kg": 0}
                        for s in ("U", "R")], ["from_site", "to_site", "product", "freight_usd_per_kg"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": demand, "shortage_cost_usd_per_kg": 100}],
                        ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"]),
        "Controls": frame([{"country": "CN", "product": "X", "approval_probability": approval,
                            "denial_cost_usd_per_kg": denial, "content_rule": "no"}],
                          ["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                           "content_rule"]),
    }
    if settings:
        tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})
    if regimes:
        tables["Regimes"] = frame([{"scenario": n, "probability": p} for n, p in regimes], ["scenario", "probability"])
        if changes:
            tables["RegimeChanges"] = frame(changes, ["scenario", "sheet", "key", "column", "operation", "value",
                                                      "period"])
    if periods:
        tables["Periods"] = frame([{"period": t} for t in periods], ["period"])
    if stock:
        tables["Stock"] = frame([{"site_id": "P", "product": "X", **stock}],
                                ["site_id", "product", "holding_cost_usd_per_kg_yr", "stock_capacity_t"])
    return tables_to_inputs(tables)


def supply(u_cost: float = 10, r_cost: float = 15, u_cap: float = 1000, r_cap: float = 1000) -> list[dict]:
    return [{"site_id": "U", "product": "X", "capacity_t": u_cap, "unit_cost_usd_per_kg": u_cost},
            {"site_id": "R", "product": "X", "capacity_t": r_cap, "unit_cost_usd_per_kg": r_cost}]


def solve(inputs, detail: bool = False):  # noqa: ANN001, ANN201
    """HiGHS to a tight gap, every regime's plan re-verified with check_regimes (through solve_checked when
    ``detail``: the plan with its VSS, EVPI and hedges, which cost 2 + one solve per regime more)."""
    if detail:
        return solve_checked(inputs, solver="highs", mip_gap=1e-9)
    p = plan(inputs, options_from(inputs, solver="highs", mip_gap=1e-9), detail=False)
    chk = check_regimes(inputs, p) if p.regimes is not None else (
        check_horizon(inputs, p) if p.periods is not None else check_plan(inputs, p))
    assert chk.ok, "\n".join(chk.failures)
    return p


def regime(p, name: str):  # noqa: ANN001, ANN201
    ans = p.regimes
    return ans.plans[ans.names.index(name)]


def cost(p, name: str) -> float:  # noqa: ANN001
    ans = p.regimes
    return float(ans.costs[ans.names.index(name)])


def shipped(one, frm: str, period: str | None = None) -> float:  # noqa: ANN001
    """Tonnes ``frm`` ships in a regime's plan (in ``period`` of a plan over periods)."""
    f = one.flows
    m = f["from_site"] == frm
    if period is not None:
        m &= f["period"] == period
    return float(f.loc[m, "tonnes"].sum())


def started(one) -> dict[str, str]:  # noqa: ANN001
    q = one.qualifications
    return {} if q is None or q.empty else dict(zip(q["site_id"], q["start_period"], strict=True))


def closing(one, period: str) -> float:  # noqa: ANN001
    s = one.stock
    return 0.0 if s is None or s.empty else float(s.loc[s["period"] == period, "closing_t"].sum())


def flows_by_lane(one, period: str | None = None) -> dict:  # noqa: ANN001
    f = one.flows if period is None else one.flows[one.flows["period"] == period]
    return {k: round(float(v), 6) for k, v in f.groupby(["from_site", "to_site", "product"])["tonnes"].sum().items()
            if abs(v) > 1e-7}


# --------------------------------------------------------------------------- one regime is the deterministic plan


def test_a_single_regime_of_probability_one_is_the_deterministic_plan_for_one_year():
    # U costs 10 USD/kg and its licence 0.2 x 20 = 4 USD/kg of expected loss: 14 USD/kg; R costs 12, fee 0.1 M.
    #   all from U: 100 t x 14 k = 1.4 M;  qualify R: 0.1 M + 100 t x 12 k = 1.3 M  -> R, 1.3 M
    # One regime of probability 1 without changes is the input as it stands: the same plan.
    kw = dict(fee=0.1 * M, approval=0.8, denial=20, changes=[])
    det = solve(case(supply(r_cost=12), regimes=(), **kw))
    p = solve(case(supply(r_cost=12), regimes=(("only", 1.0),), **kw), detail=True)
    assert det.summary["total_cost_usd"] == pytest.approx(1.3 * M)
    assert p.summary["expected_cost_usd"] == pytest.approx(1.3 * M) and cost(p, "only") == pytest.approx(1.3 * M)
    assert p.summary["total_cost_usd"] == pytest.approx(det.summary["total_cost_usd"])
    assert p.summary["cvar_usd"] == pytest.approx(1.3 * M)
    assert flows_by_lane(p) == flows_by_lane(det) == {("R", "P", "X"): 100.0}
    used = set(det.candidates.loc[det.candidates["output_t"] > 0, "site_id"])
    assert set(started(p)) == used == {"R"}
    assert p.summary["expected_value_of_perfect_information_usd"] == pytest.approx(0, abs=1)
    assert p.summary["value_of_stochastic_solution_usd"] == pytest.approx(0, abs=1)


def test_a_single_regime_of_probability_one_is_the_deterministic_plan_over_two_periods():
    # As above, but R takes one period to qualify: started in 2026, usable in 2027.
    #   2026: 100 t from U at 14 = 1.4 M;  2027: 100 t from R at 12 = 1.2 M;  fee 0.1 M  -> 2.7 M
    #   (U in both years: 2.8 M)
    kw = dict(fee=0.1 * M, approval=0.8, denial=20, changes=[], lead=1, periods=["2026", "2027"])
    det = solve(case(supply(r_cost=12), regimes=(), **kw))
    p = solve(case(supply(r_cost=12), regimes=(("only", 1.0),), **kw))
    assert det.summary["total_cost_usd"] == pytest.approx(2.7 * M)
    assert p.summary["total_cost_usd"] == pytest.approx(det.summary["total_cost_usd"])
    assert p.summary["expected_cost_usd"] == pytest.approx(2.7 * M)
    for t, want in (("2026", {("U", "P", "X"): 100.0}), ("2027", {("R", "P", "X"): 100.0})):
        assert flows_by_lane(p, t) == flows_by_lane(det, t) == want
    assert started(p) == started(det) == {"R": "2026"}


# --------------------------------------------------------------------------- the hand-worked two-supplier case
#
# U 10 USD/kg, R 15 USD/kg with fee q; "ban" (p = 0.3) bans U's exports.
#   without R: normal 100 t x 10 k = 1 M;  ban: 100 t short x 100 k = 10 M
#              expected 0.7 x 1 + 0.3 x 10 = 3.7 M;  CVaR_0.9 (the worst 10 %, all in ban) = 10 M
#   with R:    normal 1 M + q;  ban 100 t x 15 k + q = 1.5 M + q
#              expected 0.7 + 0.45 + q = 1.15 M + q;  CVaR_0.9 = 1.5 M + q
# Risk-neutral: qualify R exactly when 1.15 + q < 3.7, q < 2.55 M.
# With q = 3 M and risk aversion lambda: without R 3.7 + 10 lambda, with R 4.15 + 4.5 lambda: qualify exactly when
# 5.5 lambda > 0.45, lambda > 0.0818.


@pytest.mark.parametrize(("fee", "qualify"), [(2.5 * M, True), (2.6 * M, False)])
def test_risk_neutral_qualification_threshold(fee, qualify):  # noqa: ANN001
    p = solve(case(supply(), fee=fee, settings={"risk_aversion": 0}), detail=True)
    if qualify:  # 1.15 + 2.5 = 3.65 M < 3.7 M
        assert started(p) == {"R": ""}
        assert p.summary["expected_cost_usd"] == pytest.approx(1.15 * M + fee)
        assert cost(p, "normal") == pytest.approx(1 * M + fee) and cost(p, "ban") == pytest.approx(1.5 * M + fee)
        assert shipped(regime(p, "normal"), "U") == pytest.approx(100)
        assert shipped(regime(p, "ban"), "R") == pytest.approx(100)
        assert p.hedges["site_id"].tolist() == ["R"]
    else:  # 1.15 + 2.6 = 3.75 M > 3.7 M
        assert started(p) == {}
        assert p.summary["expected_cost_usd"] == pytest.approx(3.7 * M)
        assert float(regime(p, "ban").summary["shortage_t"]) == pytest.approx(100)
    assert p.summary["cvar_usd"] == pytest.approx(1.5 * M + fee if qualify else 10 * M)


@pytest.mark.parametrize(("lam", "qualify"), [(0.05, False), (0.1, True)])
def test_cvar_qualification_threshold(lam, qualify):  # noqa: ANN001
    # q = 3 M, alpha = 0.9: lambda = 0.05: 3.7 + 0.5 = 4.2 M (without) < 4.15 + 0.225 = 4.375 M (with);
    #                       lambda = 0.1:  3.7 + 1.0 = 4.7 M (without) > 4.15 + 0.45 = 4.6 M (with)
    p = solve(case(supply(), fee=3 * M, settings={"risk_aversion": lam, "cvar_alpha": 0.9}))
    assert (started(p) == {"R": ""}) is qualify
    assert p.summary["expected_cost_usd"] == pytest.approx(4.15 * M if qualify else 3.7 * M)
    assert p.summary["cvar_usd"] == pytest.approx(4.5 * M if qualify else 10 * M)
    assert p.summary["solver_objective_usd"] == pytest.approx((4.6 if qualify else 4.2) * M, abs=10)


# --------------------------------------------------------------------------- risk aversion over several regimes
#
# Three regimes: normal (0.6), cn_ban (0.3: U banned), cn_ban_au_strike (0.1: U banned and R down to 10 t).
# Two candidates: R (AU, 15 USD/kg, fee 2 M) and S (US, 20 USD/kg, fee 3 M). Costs (normal, cn_ban, strike), in M:
#   nothing: 1, 10, 10       expected 0.6 + 3 + 1 = 4.6          CVaR_0.9 (the 10 % of the strike) 10
#   R:       3, 3.5, 11.15   expected 1.8 + 1.05 + 1.115 = 3.965  CVaR 11.15 (strike: 10 t of R 0.15 M + 90 t
#                                                                 short 9 M + 2 M)
#   S:       4, 5, 5         expected 2.4 + 1.5 + 0.5 = 4.4       CVaR 5
#   R and S: 6, 6.5, 6.95    expected 3.6 + 1.95 + 0.695 = 6.245  CVaR 6.95
# Risk-neutral: R (3.965 M). With lambda: R 3.965 + 11.15 lambda, S 4.4 + 5 lambda (nothing and both never win):
# S from lambda = 0.435 / 6.15 = 0.0707 on.


def three_regimes(lam: float, strike_t: float = 10):  # noqa: ANN201
    ban = {"sheet": "Controls", "key": "CN/X", "column": "approval_probability", "operation": "set", "value": 0}
    sites = [
        {"site_id": "U", "name": "U", "company": "UCo", "country": "CN", "stage": "magnet", "status": "qualified"},
        {"site_id": "R", "name": "R", "company": "RCo", "country": "AU", "stage": "magnet", "status": "candidate",
         "qualification_cost_usd": 2 * M},
        {"site_id": "S", "name": "S", "company": "SCo", "country": "US", "stage": "magnet", "status": "candidate",
         "qualification_cost_usd": 3 * M},
        {"site_id": "P", "name": "P", "company": "Me", "country": "DE", "stage": "plant", "status": "qualified"},
    ]
    tables = {
        "Sites": frame(sites, SITE_COLS),
        "Supply": frame([*supply(), {"site_id": "S", "product": "X", "capacity_t": 1000, "unit_cost_usd_per_kg": 20}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": s, "to_site": "P", "product": "X"} for s in ("U", "R", "S")],
                       ["from_site", "to_site", "product"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 100, "shortage_cost_usd_per_kg": 100}],
                        ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"]),
        "Controls": frame([{"country": "CN", "product": "X", "approval_probability": 1, "content_rule": "no"}],
                          ["country", "product", "approval_probability", "content_rule"]),
        "Settings": pd.DataFrame({"key": ["risk_aversion", "cvar_alpha"], "value": [str(lam), "0.9"]}),
        "Regimes": frame([{"scenario": "normal", "probability": 0.6}, {"scenario": "cn_ban", "probability": 0.3},
                          {"scenario": "cn_ban_au_strike", "probability": 0.1}], ["scenario", "probability"]),
        "RegimeChanges": frame([{"scenario": "cn_ban", **ban}, {"scenario": "cn_ban_au_strike", **ban},
                                {"scenario": "cn_ban_au_strike", "sheet": "Supply", "key": "R/X",
                                 "column": "capacity_t", "operation": "set", "value": strike_t}],
                               ["scenario", "sheet", "key", "column", "operation", "value"]),
    }
    return tables_to_inputs(tables)


def test_risk_neutral_optimum_over_three_regimes():
    p = solve(three_regimes(0.0))
    assert started(p) == {"R": ""}
    assert [cost(p, w) for w in ("normal", "cn_ban", "cn_ban_au_strike")] == pytest.approx(
        [3 * M, 3.5 * M, 11.15 * M])
    assert p.summary["expected_cost_usd"] == pytest.approx(3.965 * M)
    assert p.summary["cvar_usd"] == pytest.approx(11.15 * M)
    assert p.summary["worst_regime"] == "cn_ban_au_strike"


def test_raising_risk_aversion_never_raises_cvar_nor_lowers_expected_cost():
    runs = []
    for lam in (0.0, 0.03, 0.1, 1.0):
        p = solve(three_regimes(lam))
        runs.append((lam, p.summary["expected_cost_usd"], p.summary["cvar_usd"], started(p)))
    for (_, e0, c0, _), (_, e1, c1, _) in zip(runs, runs[1:], strict=False):
        assert c1 <= c0 + 1.0 and e1 >= e0 - 1.0
    # the switch worked out above: R up to lambda 0.0707, S beyond
    assert [r[3] for r in runs] == [{"R": ""}] * 2 + [{"S": ""}] * 2
    assert runs[-1][1:3] == pytest.approx((4.4 * M, 5 * M))


# A regime whose input leaves a qualified candidate without capacity still pays its fee, and its CVaR counts it
# (found by these tests; fixed in planner/optimise/regimes.py, 8080599).


def test_a_regime_where_a_qualified_candidate_is_out_still_pays_its_fee():
    # As above with R out altogether in the third regime (capacity 0): R: 3, 3.5, 12 (100 t short 10 M + the 2 M
    # fee, paid before the regime is known); expected 1.8 + 1.05 + 1.2 = 4.05 M; CVaR_0.9 = 12 M.
    # (Before the fix: the third regime cost 10 M, without the fee; expected 3.85 M, CVaR 10 M.)
    p = solve(three_regimes(0.0, strike_t=0))
    assert [cost(p, w) for w in ("normal", "cn_ban", "cn_ban_au_strike")] == pytest.approx([3 * M, 3.5 * M, 12 * M])
    assert p.summary["expected_cost_usd"] == pytest.approx(4.05 * M)
    assert p.summary["cvar_usd"] == pytest.approx(12 * M)
    assert started(regime(p, "cn_ban_au_strike")) == {"R": ""}


def test_cvar_counts_the_fee_in_a_regime_where_the_candidate_is_out():
    # R out altogether in the third regime; lambda = 0.06: R 4.05 + 0.06 x 12 = 4.77 M, S 4.4 + 0.06 x 5 = 4.7 M:
    # S. (Before the fix: R, the model seeing R's CVaR as 10 M, without the fee: 4.05 + 0.6 = 4.65 M.)
    p = solve(three_regimes(0.06, strike_t=0))
    assert started(p) == {"S": ""}


# --------------------------------------------------------------------------- Tomlin (2006) structure
#
# Tomlin: with an unreliable supplier of unlimited capacity, a risk-neutral buyer uses a pure strategy; finite
# capacity or risk aversion makes a mixed one optimal. Here a strategy is pure when each regime's demand in each
# period is served from one source (U where it can ship, or R throughout), mixed when some regime's demand in
# some period is served by both U's material and R's.


def sources(one, period: str | None = None) -> set[str]:  # noqa: ANN001
    f = one.flows if period is None else one.flows[one.flows["period"] == period]
    return set(f.loc[f["tonnes"] > 1e-6, "from_site"])


@pytest.mark.parametrize(("fee", "approval", "want"), [
    # R qualified, contingent rerouting: normal 1 M + 2 M, ban 1.5 M + 2 M; expected 3.15 M
    (2 * M, 1.0, {"normal": {"U"}, "ban": {"R"}, "expected": 3.15 * M}),
    # R not worth its 3 M: normal 1 M, ban 10 M short; expected 3.7 M
    (3 * M, 1.0, {"normal": {"U"}, "ban": set(), "expected": 3.7 * M}),
    # U's licence: 0.5 x 20 = 10 USD/kg expected loss, U at 20 > R at 15: all from R in both, 1.5 M + 0.1 M
    (0.1 * M, 0.5, {"normal": {"R"}, "ban": {"R"}, "expected": 1.6 * M}),
])
def test_tomlin_unlimited_unreliable_supplier_and_risk_neutral_buyer_is_pure(fee, approval, want):  # noqa: ANN001
    p = solve(case(supply(), fee=fee, approval=approval, denial=20))
    for w in ("normal", "ban"):
        assert sources(regime(p, w)) == want[w]
        assert len(sources(regime(p, w))) <= 1  # pure
    assert p.summary["expected_cost_usd"] == pytest.approx(want["expected"])


def test_tomlin_finite_capacity_of_the_unreliable_supplier_makes_the_plan_mixed():
    # U can make 60 t, R (fee 0.1 M) any amount. normal: 60 t from U (0.6 M) + 40 t from R (0.6 M) + 0.1 M = 1.3 M;
    # ban: 100 t from R 1.5 M + 0.1 M = 1.6 M; expected 0.91 + 0.48 = 1.39 M (without R: 0.7 x 4.6 + 0.3 x 10 = 6.22 M)
    p = solve(case(supply(u_cap=60), fee=0.1 * M))
    normal = regime(p, "normal")
    assert sources(normal) == {"U", "R"}
    assert (shipped(normal, "U"), shipped(normal, "R")) == pytest.approx((60, 40))
    assert p.summary["expected_cost_usd"] == pytest.approx(1.39 * M)


def test_tomlin_finite_capacity_of_the_reliable_supplier_makes_the_plan_mixed():
    # U's licence costs 0.5 x 20 = 10 USD/kg of expected loss: U at 20 USD/kg, dearer than R at 15, but R makes 60 t.
    #   normal: 60 t from R (0.9 M) + 40 t from U (0.4 M + 0.4 M expected loss) + fee 0.1 M = 1.8 M
    #   ban:    60 t from R (0.9 M) + 40 t short (4 M) + 0.1 M = 5 M;  expected 1.26 + 1.5 = 2.76 M
    #   (without R: normal 2 M, ban 10 M, expected 4.4 M)
    p = solve(case(supply(r_cap=60), fee=0.1 * M, approval=0.5, denial=20))
    normal = regime(p, "normal")
    assert sources(normal) == {"U", "R"}
    assert (shipped(normal, "R"), shipped(normal, "U")) == pytest.approx((60, 40))
    assert p.summary["expected_cost_usd"] == pytest.approx(2.76 * M)


def tomlin_stock(lam: float):  # noqa: ANN201
    """Two years; the ban comes in 2027 only. P may stock up to 40 t at 2 USD/kg/yr; R's fee 0.1 M."""
    return case(supply(), fee=0.1 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": 2,
                                                                         "stock_capacity_t": 40},
                changes=[{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                          "operation": "set", "value": 0, "period": "2027"}],
                settings={"risk_aversion": lam, "cvar_alpha": 0.9})


@pytest.mark.parametrize(("lam", "mixed"), [(0.0, False), (0.1, False), (0.5, True)])
def test_tomlin_risk_aversion_makes_the_plan_mixed(lam, mixed):  # noqa: ANN001
    # Rerouting alone (qualify R, no stock): normal 1 + 1 + 0.1 = 2.1 M; ban 1 + 1.5 + 0.1 = 2.6 M;
    #   expected 1.47 + 0.78 = 2.25 M; CVaR_0.9 (all in ban) 2.6 M.
    # Mixed (40 t of U's X stocked in 2026, R for the other 60 t in the ban): 140 t in 2026 (1.4 M) + holding
    #   40 t x 2 k = 0.08 M + fee 0.1 M; 2027: normal 60 t from U 0.6 M (2.18 M), ban 60 t from R 0.9 M (2.48 M);
    #   expected 1.526 + 0.744 = 2.27 M; CVaR 2.48 M.
    # (Without R: 4.7 M, or 3.7 M with 40 t of stock, expected: never best.) Stock and R cost linearly, so the
    # objective is 2.25 + 2.6 lambda (rerouting, pure) against 2.27 + 2.48 lambda (mixed): mixed from
    # lambda = 0.02 / 0.12 = 0.167 on. Risk-neutral (0) and 0.1: pure; 0.5: mixed.
    p = solve(tomlin_stock(lam))
    assert set(started(p)) == {"R"}  # one first-stage decision for both regimes (checked by check_regimes)
    ban = regime(p, "ban")
    assert sources(ban, "2026") == {"U"}
    if mixed:
        assert closing(ban, "2026") == pytest.approx(40)
        assert shipped(ban, "R", "2027") == pytest.approx(60)  # 40 t of U's stocked X + 60 t of R's in 2027
        assert p.summary["expected_cost_usd"] == pytest.approx(2.27 * M)
        assert p.summary["cvar_usd"] == pytest.approx(2.48 * M)
    else:
        assert closing(ban, "2026") == pytest.approx(0, abs=1e-6)
        assert sources(ban, "2027") == {"R"} and sources(regime(p, "normal"), "2027") == {"U"}
        assert p.summary["expected_cost_usd"] == pytest.approx(2.25 * M)
        assert p.summary["cvar_usd"] == pytest.approx(2.6 * M)


# --------------------------------------------------------------------------- VSS and EVPI


def test_vss_and_evpi_are_never_negative_on_random_small_cases():
    _vss_and_evpi_never_negative(cases=2, seed=13)


@pytest.mark.slow
def test_vss_and_evpi_are_never_negative_on_more_random_small_cases():
    _vss_and_evpi_never_negative(cases=12, seed=13)


def _vss_and_evpi_never_negative(cases: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(cases):
        p_ban = float(np.round(rng.uniform(0.05, 0.6), 2))
        lam = float(rng.choice([0.0, 0.0, 0.2, 1.0]))
        inp = case(supply(u_cost=float(np.round(rng.uniform(5, 15), 1)), r_cost=float(np.round(rng.uniform(10, 25), 1)),
                          u_cap=float(rng.choice([60, 1000])), r_cap=float(rng.choice([50, 1000]))),
                   fee=float(np.round(rng.uniform(0, 5), 2)) * M, approval=float(np.round(rng.uniform(0.5, 1), 2)),
                   denial=float(np.round(rng.uniform(0, 30), 1)), regimes=(("normal", round(1 - p_ban, 2)),
                                                                             ("ban", p_ban)),
                   settings={"risk_aversion": lam, "cvar_alpha": float(rng.choice([0.5, 0.9, 1.0]))})
        p = solve(inp, detail=True)
        assert p.summary["value_of_stochastic_solution_usd"] >= -1.0
        assert p.summary["expected_value_of_perfect_information_usd"] >= -1.0


def test_evpi_is_zero_when_the_regimes_agree():
    # Two regimes making the same change (U 20 % dearer): knowing which comes is worth nothing.
    # U at 12 USD/kg against R at 15 + 2 M: all from U, 1.2 M in both.
    same = [{"scenario": s, "sheet": "Supply", "key": "U/X", "column": "unit_cost_usd_per_kg", "operation": "multiply",
             "value": 1.2} for s in ("one", "two")]
    p = solve(case(supply(), regimes=(("one", 0.4), ("two", 0.6)), changes=same), detail=True)
    assert [cost(p, "one"), cost(p, "two")] == pytest.approx([1.2 * M, 1.2 * M])
    assert p.summary["expected_value_of_perfect_information_usd"] == pytest.approx(0, abs=1)
    assert p.summary["value_of_stochastic_solution_usd"] >= -1.0


# --------------------------------------------------------------------------- stock before the shock


@pytest.mark.parametrize(("holding", "stocked"), [(20.0, True), (30.0, False)])
def test_stock_is_bought_before_the_shock_when_holding_is_cheaper_than_the_expected_loss(holding, stocked):  # noqa: ANN001
    # U only (R's fee 100 M: never); CN's X banned in 2027 with p = 0.3. Each tonne stocked in 2026 costs
    # `holding` k and saves, in the ban, 100 k of shortage less 10 k of 2027 purchase: 0.3 x 90 k = 27 k expected.
    #   holding 20 < 27: stock 100 t. Both regimes: 200 t x 10 k + 100 t x 20 k = 4.0 M; expected 4.0 M
    #   holding 30 > 27: no stock. normal 2 M, ban 1 + 10 = 11 M; expected 1.4 + 3.3 = 4.7 M
    #   (stocking at 30: 2 + 3 = 5.0 M)
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": holding},
               changes=[{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                         "operation": "set", "value": 0, "period": "2027"}])
    p = solve(inp, detail=stocked)  # the hedges table (stock held before the shock) needs the detail
    normal, ban = regime(p, "normal"), regime(p, "ban")
    # 2026 is shared: nobody knows the regime yet
    assert flows_by_lane(normal, "2026") == flows_by_lane(ban, "2026")
    assert closing(normal, "2026") == pytest.approx(closing(ban, "2026"))
    if stocked:
        assert shipped(ban, "U", "2026") == pytest.approx(200) and closing(ban, "2026") == pytest.approx(100)
        assert float(ban.summary["shortage_t"]) == pytest.approx(0, abs=1e-6)
        assert p.summary["expected_cost_usd"] == pytest.approx(4.0 * M)
        assert (p.hedges["kind"] == "stock").any()
    else:
        assert shipped(ban, "U", "2026") == pytest.approx(100) and closing(ban, "2026") == pytest.approx(0, abs=1e-6)
        assert float(ban.summary["shortage_t"]) == pytest.approx(100)
        assert p.summary["expected_cost_usd"] == pytest.approx(4.7 * M)


def test_a_qualification_with_a_lead_time_is_started_before_the_regime_is_known():
    # R takes one period to qualify (fee 1 M); CN's X is banned from 2027 with p = 0.3.
    #   without R: 2026 1 M; 2027 normal 1 M, ban 10 M short: expected 1 + 0.7 + 3 = 4.7 M
    #   R started in 2026 (usable in 2027): fee 1 M + 1 M in 2026; 2027 normal 1 M (U), ban 1.5 M (R):
    #   expected 2 + 0.7 + 0.45 = 3.15 M
    # Started in 2027 it would be ready only in 2028, after the horizon: it must be started in 2026, in every regime.
    inp = case(supply(), fee=1 * M, lead=1, periods=["2026", "2027"],
               changes=[{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                         "operation": "set", "value": 0, "period": "2027"}])
    p = solve(inp)
    assert started(regime(p, "normal")) == started(regime(p, "ban")) == {"R": "2026"}
    assert cost(p, "normal") == pytest.approx(3 * M) and cost(p, "ban") == pytest.approx(3.5 * M)
    assert p.summary["expected_cost_usd"] == pytest.approx(3.15 * M)
    assert sources(regime(p, "ban"), "2027") == {"R"} and sources(regime(p, "normal"), "2027") == {"U"}
    assert sources(regime(p, "ban"), "2026") == sources(regime(p, "normal"), "2026") == {"U"}


# --------------------------------------------------------------------------- validation


def test_probabilities_that_do_not_add_to_one_are_refused():
    with pytest.raises(InputError) as e:
        case(supply(), regimes=(("normal", 0.7), ("ban", 0.2)))
    issues = [i for i in e.value.issues if i.sheet == "Regimes"]
    assert issues and issues[0].column == "probability"
    assert "add up to 0.9, not 1" in str(issues[0])


def test_a_change_naming_an_unlisted_regime_is_refused():
    changes = [{"scenario": "embargo", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                "operation": "set", "value": 0}]
    with pytest.raises(InputError) as e:
        case(supply(), changes=changes)
    issues = [i for i in e.value.issues if i.sheet == "RegimeChanges"]
    assert issues and issues[0].row == 2
    assert '"embargo" is not a regime on the Regimes sheet' in str(issues[0])


def test_a_change_that_matches_nothing_names_its_row_when_planning():
    changes = [{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                "operation": "set", "value": 0},
               {"scenario": "ban", "sheet": "Supply", "key": "ZZ/X", "column": "capacity_t", "operation": "multiply",
                "value": 0}]
    inp = case(supply(), changes=changes)  # valid as a table: whether it matches is known when it is applied
    with pytest.raises(InputError) as e:
        plan(inp, options_from(inp, solver="highs"))
    assert e.value.issues and e.value.issues[0].sheet == "RegimeChanges"
    assert "RegimeChanges row 3" in str(e.value.issues[0]) and "no Supply row matches 'ZZ/X'" in str(e.value.issues[0])


def test_load_regimes_reads_a_csv_folder(tmp_path):  # noqa: ANN001
    pd.DataFrame([{"scenario": "normal", "probability": 0.7, "question": "as is"},
                  {"scenario": "ban", "probability": 0.3, "question": "CN bans X"}]).to_csv(
        tmp_path / "Regimes.csv", index=False)
    pd.DataFrame([{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                   "operation": "set", "value": 0}]).to_csv(tmp_path / "RegimeChanges.csv", index=False)
    regimes, changes = load_regimes(tmp_path)
    assert sorted(regimes["scenario"]) == ["ban", "normal"]
    assert dict(zip(regimes["scenario"], regimes["probability"], strict=True)) == {"normal": 0.7, "ban": 0.3}
    assert changes[["scenario", "sheet", "key", "operation"]].values.tolist() == [["ban", "Controls", "CN/X", "set"]]
    # the market workbook planned against them: the hand-worked case above, q = 2 M: expected 3.15 M
    market = case(supply(), regimes=())
    p = solve(dataclasses.replace(market, regimes=regimes, regime_changes=changes))
    assert p.summary["expected_cost_usd"] == pytest.approx(3.15 * M)
    # and a folder whose probabilities do not add to 1 is refused, naming the sheet
    pd.DataFrame([{"scenario": "normal", "probability": 0.5}]).to_csv(tmp_path / "Regimes.csv", index=False)
    with pytest.raises(InputError) as e:
        load_regimes(tmp_path)
    assert any(i.sheet == "Regimes" and i.column == "probability" for i in e.value.issues)


# --------------------------------------------------------------------------- the checker catches tampering


def test_the_checker_catches_a_tampered_regime_cost():
    inp = case(supply())
    p = solve(inp)  # the 3.15 M plan, checked
    bad = copy.copy(p)
    bad.regimes = copy.copy(p.regimes)
    bad.regimes.costs = p.regimes.costs.copy()
    bad.regimes.costs[1] += 10 * K
    chk = check_regimes(inp, bad)
    assert not chk.ok
    assert any("regime ban: the plan reports its cost" in f for f in chk.failures)


def test_the_checker_catches_a_flow_changed_in_a_shared_period():
    inp = case(supply(), fee=100 * M, periods=["2026", "2027"], stock={"holding_cost_usd_per_kg_yr": 20.0},
               changes=[{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
                         "operation": "set", "value": 0, "period": "2027"}])
    p = solve(inp)
    assert check_regimes(inp, p).ok
    ans = copy.copy(p.regimes)
    ans.plans = list(p.regimes.plans)
    ban = copy.copy(ans.plans[1])
    t, y1 = ban.periods[0]
    y1 = copy.copy(y1)
    y1.flows = y1.flows.assign(tonnes=y1.flows["tonnes"] * 0.9)  # 180 t instead of 200 t in 2026, in ban only
    ban.periods = [(t, y1), *ban.periods[1:]]
    ans.plans[1] = ban
    bad = copy.copy(p)
    bad.regimes = ans
    chk = check_regimes(inp, bad)
    assert not chk.ok
    assert any("non-anticipativity" in f and "flows" in f and "2026" in f for f in chk.failures)


def test_the_checker_recomputes_expected_cost_and_cvar():
    # the CVaR case at lambda = 0.1: costs 4 M (normal, 0.7) and 4.5 M (ban, 0.3); CVaR_0.9 is the ban's 4.5 M
    inp = case(supply(), fee=3 * M, settings={"risk_aversion": 0.1, "cvar_alpha": 0.9})
    p = solve(inp)
    chk = check_regimes(inp, p)
    assert chk.recomputed["expected"] == pytest.approx(4.15 * M) and chk.recomputed["cvar"] == pytest.approx(4.5 * M)
    bad = copy.copy(p)
    bad.summary = {**p.summary, "cvar_usd": 0.7 * 4 * M + 0.3 * 4.5 * M}  # the mean, not the tail
    assert any(f.startswith("CVaR at 0.9") for f in check_regimes(inp, bad).failures)
