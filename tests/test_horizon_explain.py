"""Explanations per period and the change from the contracted mix (issue 12, items 9 and 5), worked by hand.

Units: t and USD/kg, so a tonne at 1 USD/kg costs 1,000 USD. Periods are years of 365 days. Every figure of
an explanation is in the period's own USD (undiscounted), so each case has a discount rate: a figure read
off the stitched model without dividing by the period's discount factor would be 1 / 1.1 of it in y2.
"""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from planner.input.validate import tables_to_inputs
from planner.output.sheets import recommendation_tables
from planner.output.write import write_workbook
from tests.conftest import frame, solve_checked

K = 1000.0
COLUMNS = {
    "Sites": ["site_id", "name", "country", "stage"],
    "Supply": ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg", "period"],
    "Lanes": ["from_site", "to_site"],
    "Demand": ["site_id", "product", "quantity_t", "period"],
    "Periods": ["period"],
    "Stock": ["site_id", "product", "stock_capacity_t", "holding_cost_usd_per_kg_yr", "initial_stock_t"],
    "Contracts": ["site_id", "product", "plant", "min_t", "max_t", "first_period", "last_period", "take_or_pay"],
}


def inputs(case: dict, rate: float):  # noqa: ANN201
    tables = {name: frame(rows, COLUMNS[name]) for name, rows in case.items()}
    tables["Settings"] = pd.DataFrame({"key": ["discount_rate"], "value": [str(rate)]})
    return tables_to_inputs(tables)


def supplier(p, period: str, site: str) -> dict:  # noqa: ANN001
    s = dict(p.periods)[period].explanation.suppliers
    return s[s["site_id"] == site].iloc[0].to_dict()


def limit(p, period: str, kind: str) -> dict:  # noqa: ANN001
    lim = dict(p.periods)[period].explanation.limits
    return lim[lim["limit"] == kind].iloc[0].to_dict()


MINES = [{"site_id": s, "country": c, "stage": "mine"} for s, c in (("A", "AU"), ("B", "US"), ("C", "CA"))]
PLANT = [{"site_id": "P", "country": "DE", "stage": "plant"}]

# P needs 50 t a year over y1, y2 (discount rate 0.1: y2 counts 1 / 1.1). A: 1 USD/kg, 20 t in y1, 40 t in y2;
# B: 3 USD/kg, 100 t; C: 4.5 USD/kg in y1, 3.5 USD/kg in y2, 100 t.
#   y1: 20 t A + 30 t B = 20,000 + 90,000 = 110,000;  y2: 40 t A + 10 t B = 40,000 + 30,000 = 70,000
#   total 110,000 + 70,000 / 1.1 = 173,636.36
THREE = {
    "Sites": MINES + PLANT,
    "Supply": [{"site_id": "A", "product": "X", "capacity_t": 20, "unit_cost_usd_per_kg": 1},
               {"site_id": "A", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 1, "period": "y2"},
               {"site_id": "B", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 3},
               {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 4.5},
               {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 3.5, "period": "y2"}],
    "Lanes": [{"from_site": "*", "to_site": "P"}],
    "Demand": [{"site_id": "P", "product": "X", "quantity_t": 50}],
    "Periods": [{"period": "y1"}, {"period": "y2"}],
}


def test_price_to_win_and_value_of_capacity_are_per_period_and_undiscounted():
    p = solve_checked(inputs(THREE, 0.1))
    assert p.summary["total_cost_usd"] == pytest.approx(110_000 + 70_000 / 1.1)
    # C against B, the marginal supplier in both years: 4.5 - 3 = 1.5 in y1, 3.5 - 3 = 0.5 in y2 (not 0.5 / 1.1)
    assert supplier(p, "y1", "C")["price_to_win_usd_per_kg"] == pytest.approx(1.5)
    assert supplier(p, "y2", "C")["price_to_win_usd_per_kg"] == pytest.approx(0.5)
    assert "0.50 USD/kg cheaper" in supplier(p, "y2", "C")["why"]
    # a kg/yr more at A replaces a kg of B: 3 - 1 = 2 USD in each year's own USD (the stitched dual in y2 is 2 / 1.1)
    for t in ("y1", "y2"):
        assert supplier(p, t, "A")["capacity_value_usd_per_kg"] == pytest.approx(2.0)
        assert limit(p, t, "capacity")["value"] == pytest.approx(2.0)
        assert limit(p, t, "demand")["value"] == pytest.approx(3.0)  # the next kg comes from B
    # the Sites sheet's value of capacity is the same figure
    prod = p.production
    assert prod.loc[(prod["period"] == "y2") & (prod["site_id"] == "A"), "capacity_value_usd_per_kg"].iloc[0] == \
        pytest.approx(2.0)
    # the horizon's findings name the closest supplier per year, and the value of a bottleneck
    from planner.output.horizon import horizon_findings  # noqa: PLC0415

    lines = horizon_findings(p)
    assert "Closest to winning business, by period (how much cheaper per kg, in that period's costs): y1 C X 1.50; " \
           "y2 C X 0.50." in lines
    assert "y2: all demand met; at capacity: A X (a kg/yr more saves 2.00 USD)." in lines


# Stock links the years: A sells at 2 USD/kg in y1 only (0 t in y2), B at 10 and C at 11 in both; P needs 50 t a
# year and may hold 30 t (1 USD/kg/yr). Discount rate 0.1.
#   Buying a kg ahead costs 2 + 1 (holding, paid in y1) = 3 against B's 10 in y2, worth 10 / 1.1 = 9.09 in y1 USD:
#   P stocks the most, 30 t. y1: 80 t A = 160,000 + 30,000 holding; y2: 30 t from stock + 20 t B = 200,000.
#   total 190,000 + 200,000 / 1.1 = 371,818.18
STOCKED = {
    "Sites": MINES + PLANT,
    "Supply": [{"site_id": "A", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
               {"site_id": "A", "product": "X", "capacity_t": 0, "unit_cost_usd_per_kg": 2, "period": "y2"},
               {"site_id": "B", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
               {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 11}],
    "Lanes": [{"from_site": "*", "to_site": "P"}],
    "Demand": [{"site_id": "P", "product": "X", "quantity_t": 50}],
    "Periods": [{"period": "y1"}, {"period": "y2"}],
    "Stock": [{"site_id": "P", "product": "X", "stock_capacity_t": 30, "holding_cost_usd_per_kg_yr": 1}],
}


def test_explanations_follow_the_stock_between_periods():
    p = solve_checked(inputs(STOCKED, 0.1))
    assert p.summary["total_cost_usd"] == pytest.approx(190_000 + 200_000 / 1.1)
    # a kg more of stock room at y1's close: bought from A and held (3 USD) instead of B in y2 (10 USD, 9.09 in y1
    # USD): 10 / 1.1 - 3 = 6.09 USD
    assert limit(p, "y1", "stock capacity")["value"] == pytest.approx(10 / 1.1 - 3)
    # in y1 the store is full, so a kg from B or C would replace a kg of A: 10 - 2 = 8, 11 - 2 = 9
    assert supplier(p, "y1", "B")["price_to_win_usd_per_kg"] == pytest.approx(8.0)
    assert supplier(p, "y1", "C")["price_to_win_usd_per_kg"] == pytest.approx(9.0)
    # in y2 C would replace B: 11 - 10 = 1 (in y2's own USD, not 1 / 1.1)
    assert supplier(p, "y2", "C")["price_to_win_usd_per_kg"] == pytest.approx(1.0)
    assert supplier(p, "y2", "A")["why"] == "no capacity"
    # --json: each period's explanation, as the workbook's
    entry = json.loads(json.dumps(p.to_json()))["periods"][1]
    got = {(s["site_id"], s["product"]): s for s in entry["explanation"]["suppliers"]}
    assert entry["period"] == "y2" and got[("C", "X")]["price_to_win_usd_per_kg"] == pytest.approx(1.0)


# The contracted mix: JL Mag (10 USD/kg) has a contract for at least 40 t a year to P, in y1 only; Neo (2 USD/kg)
# has 50 t in y1 and 100 t from y2; A (3 USD/kg) 30 t. P needs 100, 100, 80, 100, 100 t. No discounting.
#   y1: 40 JL (contract) + 50 Neo + 10 A = 400,000 + 100,000 + 30,000 = 530,000
#   y2, y4, y5: 100 t Neo = 200,000 each;  y3: 80 t Neo = 160,000;   total 1,290,000
# JL's contract says 40 t a year from y1 on; the plan buys none from y2. The mix held last in y1 (Neo 50, A 10):
#   y2: Neo +50, A -10: JL's 40 t go to Neo;   y3: Neo +30 takes 30 t, 10 t are bought nowhere (demand fell);
#   y4, y5: Neo +50: 40 t to Neo again, in one run from y4.
CONTRACTED = {
    "Sites": [{"site_id": "JL", "name": "JL Mag", "country": "CN", "stage": "mine"},
              {"site_id": "NEO", "name": "Neo", "country": "EE", "stage": "mine"},
              {"site_id": "A", "country": "AU", "stage": "mine"}] + PLANT,
    "Supply": [{"site_id": "JL", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
               {"site_id": "NEO", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
               {"site_id": "NEO", "product": "X", "capacity_t": 50, "unit_cost_usd_per_kg": 2, "period": "y1"},
               {"site_id": "A", "product": "X", "capacity_t": 30, "unit_cost_usd_per_kg": 3}],
    "Lanes": [{"from_site": "*", "to_site": "P"}],
    "Demand": [{"site_id": "P", "product": "X", "quantity_t": 100},
               {"site_id": "P", "product": "X", "quantity_t": 80, "period": "y3"}],
    "Periods": [{"period": f"y{k}"} for k in range(1, 6)],
    "Contracts": [{"site_id": "JL", "product": "X", "plant": "P", "min_t": 40, "last_period": "y1"}],
}


def test_the_move_from_the_contracted_mix_in_words_and_a_table(tmp_path):
    p = solve_checked(inputs(CONTRACTED, 0.0))
    assert p.summary["total_cost_usd"] == pytest.approx(1_290_000)
    moves = p.contract_changes
    assert moves[["from_site", "to_site", "first_period", "last_period", "tonnes"]].values.tolist() == [
        ["JL", "", "y3", "y3", pytest.approx(10)],
        ["JL", "NEO", "y2", "y2", pytest.approx(40)], ["JL", "NEO", "y3", "y3", pytest.approx(30)],
        ["JL", "NEO", "y4", "y5", pytest.approx(40)]]
    notes = " | ".join(p.roadmap.loc[p.roadmap["action"] == "contract change", "note"])
    assert "move 40 t/yr of X to P from JL Mag (contracted) to Neo in y2" in notes
    assert "move 30 t/yr of X to P from JL Mag (contracted) to Neo in y3" in notes
    assert "buy 10 t/yr less X for P from JL Mag (contracted) in y3, not bought elsewhere" in notes
    assert "move 40 t/yr of X to P from JL Mag (contracted) to Neo from y4" in notes
    # the workbook: the Contract changes block on the Contracts sheet, price to win with a period column
    out = tmp_path / "plan.xlsx"
    write_workbook(out, recommendation_tables(p))
    wb = openpyxl.load_workbook(out)
    rows = [r for r in wb["Contracts"].iter_rows(values_only=True) if any(v is not None for v in r)]
    at = next(i for i, r in enumerate(rows) if r and r[0] == "Contract changes")
    assert any("move 40 t/yr of X to P from JL Mag (contracted) to Neo from y4" in r for r in rows[at:])
    sup = [r for r in wb["Suppliers"].iter_rows(values_only=True) if r and r[0] in ("y2",) and r[1] == "JL"]
    # y2: JL against Neo, the marginal supplier (it has room): 10 - 2 = 8 USD/kg
    assert sup and sup[0][12] == pytest.approx(8.0)
    assert json.loads(json.dumps(p.to_json(), default=str))["contract_changes"][0]["from_site"] == "JL"
