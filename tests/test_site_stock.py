"""Stock of an input at the site that uses it (issue 12, item 4: "any site may carry stock"), each optimum worked
out by hand and every plan re-verified by the independent checker (check_horizon, through solve_checked).

Units: t and USD/kg (1 t at 1 USD/kg = 1,000 USD); periods y1, y2 of 365 days, no discounting. The cast: C, a
Chinese mine selling D at 10 USD/kg (its exports of D banned from y2); A, an Australian mine selling D at 50
USD/kg; M, a Japanese magnet maker turning 1 t of D into 1 t of X at 5 USD/kg; P, a German plant needing 100 t
of X a year. M may hold D between the years.
"""

from __future__ import annotations

import pytest

from planner.errors import InputError
from planner.input.validate import tables_to_inputs
from planner.results.check import check_horizon
from tests.conftest import frame, solve_checked

SITE_COLS = ["site_id", "country", "stage", "status", "processing_days"]


# CBC in the slow run (CI runs it), as for the model rules
@pytest.fixture(params=["highs", pytest.param("cbc", marks=pytest.mark.slow)])
def solver(request):  # noqa: ANN001, ANN201
    return request.param


def case(holding: float | None, *, initial: float = 0.0, capacity: float | None = None, stock_at: str = "M",
         stock_product: str = "D", ban: bool = True, regimes: bool = False):
    stock = {"site_id": stock_at, "product": stock_product, "holding_cost_usd_per_kg_yr": holding,
             "initial_stock_t": initial, "stock_capacity_t": capacity}
    tables = {
        "Sites": frame([{"site_id": "C", "country": "CN", "stage": "mine"},
                        {"site_id": "A", "country": "AU", "stage": "mine"},
                        {"site_id": "M", "country": "JP", "stage": "magnet"},
                        {"site_id": "P", "country": "DE", "stage": "plant"}], SITE_COLS),
        "Supply": frame([{"site_id": "C", "product": "D", "capacity_t": 1000, "unit_cost_usd_per_kg": 10},
                         {"site_id": "A", "product": "D", "capacity_t": 1000, "unit_cost_usd_per_kg": 50},
                         {"site_id": "M", "product": "X", "capacity_t": 1000, "unit_cost_usd_per_kg": 5}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Recipes": frame([{"product": "X", "input": "D", "input_t_per_t": 1}], ["product", "input", "input_t_per_t"]),
        "Lanes": frame([{"from_site": "C", "to_site": "M", "product": "D"},
                        {"from_site": "A", "to_site": "M", "product": "D"},
                        {"from_site": "M", "to_site": "P", "product": "X"}], ["from_site", "to_site", "product"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 100, "shortage_cost_usd_per_kg": 1000}],
                        ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"]),
        "Controls": frame([{"country": "CN", "product": "D", "approval_probability": 1, "denial_cost_usd_per_kg": 0}]
                          + ([{"country": "CN", "product": "D", "approval_probability": 0, "period": "y2"}] if ban
                             else []),
                          ["country", "product", "approval_probability", "denial_cost_usd_per_kg", "period"]),
        "Periods": frame([{"period": "y1"}, {"period": "y2"}], ["period"]),
    }
    if regimes:  # normal (0.7), and a ban on China's D from y2 (0.3)
        tables["Regimes"] = frame([{"scenario": "normal", "probability": 0.7}, {"scenario": "ban", "probability": 0.3}],
                                  ["scenario", "probability"])
        tables["RegimeChanges"] = frame([{"scenario": "ban", "sheet": "Controls", "key": "CN/D",
                                          "column": "approval_probability", "operation": "set", "value": 0,
                                          "period": "y2"}],
                                        ["scenario", "sheet", "key", "column", "operation", "value", "period"])
    if holding is not None:
        tables["Stock"] = frame([stock], ["site_id", "product", "holding_cost_usd_per_kg_yr", "initial_stock_t",
                                          "stock_capacity_t"])
    return tables_to_inputs(tables)


def at(p, period: str, site: str, product: str) -> float:  # noqa: ANN001
    s = p.stock
    m = (s["period"] == period) & (s["site_id"] == site) & (s["product"] == product)
    return float(s.loc[m, "closing_t"].sum())


def bought(p, period: str, site: str) -> float:  # noqa: ANN001
    f = p.flows
    return float(f.loc[(f["period"] == period) & (f["from_site"] == site), "tonnes"].sum())


def test_without_stock_the_ban_year_buys_the_dear_input():
    # y1: 100 t D from C (1.0 M) + making 100 t X (0.5 M); y2: 100 t D from A (5.0 M) + 0.5 M: 7.0 M
    p = solve_checked(case(None), solver="highs")
    assert p.summary["total_cost_usd"] == pytest.approx(7.0e6, abs=1.0)


@pytest.mark.parametrize(("holding", "total", "held"), [(30.0, 6.0e6, 100.0), (45.0, 7.0e6, 0.0)])
def test_the_magnet_maker_stocks_the_input_before_the_ban_when_holding_is_cheaper(solver, holding, total, held):  # noqa: ANN001
    # With stock at M: buy 200 t D from C in y1 (2.0 M), hold 100 t at the end of y1 (holding x 100 t x 1,000),
    # make 100 t X each year (1.0 M): 3.0 M + 0.1 M x holding, against 7.0 M: worth it below 40 USD/kg/yr.
    # At 30: 6.0 M; at 45: no stock, 7.0 M.
    p = solve_checked(case(holding), solver=solver)
    assert p.summary["total_cost_usd"] == pytest.approx(total, abs=1.0)
    assert at(p, "y1", "M", "D") == pytest.approx(held, abs=1e-6)
    assert bought(p, "y1", "C") == pytest.approx(100.0 + held, abs=1e-6)
    assert bought(p, "y2", "A") == pytest.approx(100.0 - held, abs=1e-6)
    if held:
        assert p.cost_breakdown["holding"] == pytest.approx(held * holding * 1000.0, abs=1.0)
        # exposure survives stock: the D crossed China's licence in y1, so the X made from it in y2 is exposed
        y2 = p.plants[p.plants["period"] == "y2"].iloc[0]
        assert float(y2["exposed_t"]) == pytest.approx(100.0, abs=1e-6)
        assert "stock build-up" in set(p.roadmap["action"])


def test_stock_capacity_at_the_site_limits_the_hedge(solver):  # noqa: ANN001
    # At most 40 t held: y1 140 t from C (1.4 M), y2 60 t from A (3.0 M), making 1.0 M, holding 40 t x 30 k
    # = 1.2 M: 6.6 M.
    p = solve_checked(case(30.0, capacity=40.0), solver=solver)
    assert p.summary["total_cost_usd"] == pytest.approx(6.6e6, abs=1.0)
    assert at(p, "y1", "M", "D") == pytest.approx(40.0, abs=1e-6)


def test_an_initial_stock_at_the_site_is_clean_and_used(solver):  # noqa: ANN001
    # 30 t of D on hand at M at the start (clean, ready), no ban: y1 uses it and buys 70 t from C (0.7 M); y2 100 t
    # from C (1.0 M); making 1.0 M: 2.7 M. What the initial stock feeds is not exposed: P gets 30 t clean X in y1.
    p = solve_checked(case(30.0, initial=30.0, ban=False), solver=solver)
    assert p.summary["total_cost_usd"] == pytest.approx(2.7e6, abs=1.0)
    y1 = p.plants[p.plants["period"] == "y1"].iloc[0]
    assert float(y1["exposed_t"]) == pytest.approx(70.0, abs=1e-6)


def test_stock_of_something_the_site_does_not_use_is_refused():
    with pytest.raises(InputError) as e:
        case(10.0, stock_at="C", stock_product="D")  # C makes D; it takes no D
    assert any(i.sheet == "Stock" and i.row == 2 and "a site whose recipe takes it" in i.message
               for i in e.value.issues)


def test_the_checker_catches_stock_that_never_arrived():
    inputs = case(30.0)
    p = solve_checked(inputs, solver="highs")
    s = p.stock.copy()
    m = (s["period"] == "y1") & (s["site_id"] == "M") & (s["closing_t"] > 0)
    s.loc[m, "closing_t"] = s.loc[m, "closing_t"] + 50.0
    s.loc[(s["period"] == "y2") & (s["site_id"] == "M") & (s["opening_t"] > 0), "opening_t"] += 50.0
    bad = type(p)(**{**p.__dict__, "stock": s})
    bad.periods = [(t, type(q)(**{**q.__dict__, "stock": s[s["period"] == t]})) for t, q in p.periods]
    failures = "\n".join(check_horizon(inputs, bad).failures)
    assert "y1: M receives 200.000000 t of D (with its opening stock) but its production and closing stock need " \
           "250.000000 t" in failures


@pytest.mark.parametrize(("holding", "expected", "held"), [(10.0, 4.0e6, 100.0), (13.0, 4.2e6, 0.0)])
def test_against_a_ban_the_stock_at_the_magnet_maker_is_built_before_the_shock(holding, expected, held):  # noqa: ANN001
    # Regimes: normal (0.7) and a ban on China's D from y2 (0.3); y1 is the same in both, so whatever is stocked
    # at its end is one decision. Without stock: normal 1.5 M a year = 3.0 M; ban 1.5 + 5.5 = 7.0 M; expected
    # 4.2 M. Stocking 100 t in y1 costs the holding (0.1 M x holding) in both and saves buying in y2: 3.0 M +
    # 0.1 M x holding in both regimes; worth it below 12 USD/kg/yr. At 10: 4.0 M; at 13: 4.2 M, no stock.
    inputs = case(holding, ban=False, regimes=True)
    p = solve_checked(inputs, solver="highs", mip_gap=1e-9)
    ans = p.regimes
    assert ans.expected == pytest.approx(expected, abs=1.0)
    for plan in ans.plans:
        assert at(plan, "y1", "M", "D") == pytest.approx(held, abs=1e-6)
    # the deterministic plan (no ban in sight) holds nothing; followed through y1 and re-planned in y2, it costs
    # 3.0 M in normal and 1.5 + 5.5 = 7.0 M in ban: 4.2 M, so the stochastic plan is worth 0.2 M at 10
    assert ans.vss == pytest.approx(4.2e6 - expected, abs=1.0)
    if held:
        h = p.hedges
        assert h["hedge"].tolist() == ["hold 100.0 t more D at M at the end of y1"]
        assert h["protects_against"].tolist() == ["ban"]
