"""The stress test (planner stress): each supplier or country's exports lost in turn, with the shortage, cost and
time-to-survive worked out by hand.

Units: t and USD/kg, so a tonne at 1 USD/kg costs 1,000 USD. Periods are years of 365 days.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.api import options_from
from planner.cli import main
from planner.input.validate import tables_to_inputs
from planner.whatif.batch import run_batch
from planner.whatif.stress import stress_report, stress_scenarios, time_to_survive
from tests.conftest import build, frame
from tests.test_validate import write_xlsx

K = 1000.0


def run(inputs, by: str = "supplier", jobs: int = 1):  # noqa: ANN001, ANN201
    losses, scenarios = stress_scenarios(inputs, by)
    return stress_report(inputs, losses, run_batch(inputs, scenarios, options_from(inputs), jobs=jobs))


def row(report, lost_id: str) -> dict:  # noqa: ANN001
    r = report.ranking
    return r[r["lost_id"] == lost_id].iloc[0].to_dict()


# --------------------------------------------------------------------------- three suppliers, one year

THREE = {
    "sites": [{"site_id": "A", "name": "Mine A", "country": "AU", "stage": "mine"},
              {"site_id": "B", "name": "Mine B", "country": "US", "stage": "mine"},
              {"site_id": "C", "name": "Mine C", "country": "CA", "stage": "mine"},
              {"site_id": "D", "name": "Mine D", "country": "DE", "stage": "mine"},
              {"site_id": "P", "name": "Plant P", "country": "DE", "stage": "plant"}],
    # A 60 t at 1, B 30 t at 2, C 50 t at 4; D is dearer than going short (20 > 10 USD/kg), so never used
    "supply": [{"site_id": "A", "product": "X", "capacity_t": 60, "unit_cost_usd_per_kg": 1},
               {"site_id": "B", "product": "X", "capacity_t": 30, "unit_cost_usd_per_kg": 2},
               {"site_id": "C", "product": "X", "capacity_t": 50, "unit_cost_usd_per_kg": 4},
               {"site_id": "D", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 20}],
    "lanes": [{"from_site": "stage:mine", "to_site": "P"}],
    "demand": [{"site_id": "P", "product": "X", "quantity_t": 100, "shortage_cost_usd_per_kg": 10}],
}


def three():  # noqa: ANN201
    return build(THREE["sites"], THREE["supply"], THREE["lanes"], THREE["demand"])


def test_three_suppliers_ranked_by_the_shortage_then_the_cost_their_loss_causes():
    # Baseline: P needs 100 t: A 60 x 1,000 + B 30 x 2,000 + C 10 x 4,000 = 160,000 USD, nothing short.
    base = 60 * 1 * K + 30 * 2 * K + 10 * 4 * K
    # Without A: B 30 + C 50 = 80 t, 20 t short: 60,000 + 200,000 + 20 x 10,000 = 460,000 (+300,000)
    no_a = 30 * 2 * K + 50 * 4 * K + 20 * 10 * K
    # Without B: A 60 + C 40: 60,000 + 160,000 = 220,000 (+60,000), nothing short
    no_b = 60 * 1 * K + 40 * 4 * K
    # Without C: A 60 + B 30 = 90 t, 10 t short: 60,000 + 60,000 + 100,000 = 220,000 (+60,000)
    no_c = 60 * 1 * K + 30 * 2 * K + 10 * 10 * K
    rep = run(three())
    r = rep.ranking
    # A (20 t short) before C (10 t) before B (0 t, +60,000) before D (nothing); C and B cost the same
    assert list(r["lost_id"]) == ["A", "C", "B", "D"]
    assert list(r["rank"]) == [1, 2, 3, 4]
    a, b, c, d = (row(rep, s) for s in "ABCD")
    assert a["shortage_t"] == pytest.approx(20) and a["delta_cost_usd"] == pytest.approx(no_a - base)
    assert c["shortage_t"] == pytest.approx(10) and c["delta_cost_usd"] == pytest.approx(no_c - base)
    assert b["shortage_t"] == pytest.approx(0, abs=1e-6) and b["delta_cost_usd"] == pytest.approx(no_b - base)
    # the cost parts: without A, cash 260,000 - 160,000 and the penalty 200,000
    assert a["delta_cash_usd"] == pytest.approx(100 * K) and a["delta_shortage_penalty_usd"] == pytest.approx(200 * K)
    assert a["delta_license_risk_usd"] == pytest.approx(0)
    # the plant worst hit, and its time-to-survive: one year, no stock, so short from the first day
    assert (a["worst_plant"], a["worst_product"], a["worst_plant_shortage_t"]) == ("P", "X", pytest.approx(20))
    assert a["time_to_survive_days"] == 0 and a["time_to_survive"] == "0 days"
    assert "Losing Mine A leaves Plant P 20.0 t of X short a year" in a["reading"]
    assert "short from the first day" in a["reading"]
    # B's loss: others absorb it (C, from 10 to 40 t); no plant short, time-to-survive unlimited
    assert b["effect"] == "cost" and b["time_to_survive"] == "unlimited" and pd.isna(b["worst_plant"])
    assert "Mine C (+30.0 t X)" in b["taken_over_by"]
    # D's loss changes nothing, and says why
    assert d["effect"] == "none" and d["delta_cost_usd"] == pytest.approx(0, abs=1e-6)
    assert d["reading"] == "No effect: Mine D supplies nothing in the baseline plan."
    # one Survival row per plant left shorter: A's and C's
    s = rep.survival
    assert sorted(s["lost_id"]) == ["A", "C"] and list(s["time_to_survive_days"]) == [0, 0]
    assert list(s["shortage_t"]) == pytest.approx([20, 10])  # equal days: the larger shortage first
    # the findings: the top risks in words, then the count
    assert rep.findings[0].startswith("Losing Mine A leaves Plant P 20.0 t of X short a year (+0.3 M USD a year")
    assert rep.findings[-1].startswith("Of 4 suppliers lost in turn, 2 leave a plant short, 1 only cost more and 1 "
                                       "change nothing (unused in the baseline: Mine D)")


def test_a_loss_absorbed_by_spare_capacity_at_the_same_cost_names_who_absorbs_it():
    # Two mines at 1 USD/kg with 60 and 100 t; the plant needs 50 t: either can carry it all
    inp = build([{"site_id": "E", "name": "Mine E", "country": "AU", "stage": "mine"},
                 {"site_id": "F", "name": "Mine F", "country": "US", "stage": "mine"},
                 {"site_id": "P", "country": "DE", "stage": "plant"}],
                [{"site_id": "E", "product": "X", "capacity_t": 60, "unit_cost_usd_per_kg": 1},
                 {"site_id": "F", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 1}],
                [{"from_site": "stage:mine", "to_site": "P"}],
                [{"site_id": "P", "product": "X", "quantity_t": 50}])
    rep = run(inp)
    assert set(rep.ranking["effect"]) == {"none"}
    for lost, other in (("E", "Mine F"), ("F", "Mine E")):
        r = row(rep, lost)
        if r["baseline_shipped_t"] > 0:
            assert r["reading"].startswith(f"No effect: the {r['baseline_shipped_t']:,.1f} t Mine {lost} ships in the "
                                           f"baseline are taken over at the same cost by {other} (+")
        else:
            assert r["reading"] == f"No effect: Mine {lost} supplies nothing in the baseline plan."


# --------------------------------------------------------------------------- time-to-survive with stock, two years


def _two_years():  # noqa: ANN202
    sites = [{"site_id": "A", "country": "AU", "stage": "mine"}, {"site_id": "B1", "country": "US", "stage": "mine"},
             {"site_id": "B2", "country": "CA", "stage": "mine"}, {"site_id": "P1", "country": "DE", "stage": "plant"},
             {"site_id": "P2", "country": "DE", "stage": "plant"}]
    tables = {
        "Sites": frame(sites, ["site_id", "country", "stage"]),
        "Supply": frame([{"site_id": "A", "product": "X", "capacity_t": 730, "unit_cost_usd_per_kg": 1},
                         {"site_id": "B1", "product": "X", "capacity_t": 146, "unit_cost_usd_per_kg": 2},
                         {"site_id": "B2", "product": "X", "capacity_t": 146, "unit_cost_usd_per_kg": 2}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": "A", "to_site": "P1"}, {"from_site": "A", "to_site": "P2"},
                        {"from_site": "B1", "to_site": "P1"}, {"from_site": "B2", "to_site": "P2"}],
                       ["from_site", "to_site"]),
        "Demand": frame([{"site_id": p, "product": "X", "quantity_t": 365, "shortage_cost_usd_per_kg": 10}
                         for p in ("P1", "P2")], ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"]),
        "Stock": frame([{"site_id": "P1", "product": "X", "initial_stock_t": 73},
                        {"site_id": "P2", "product": "X", "initial_stock_t": 292}],
                       ["site_id", "product", "initial_stock_t"]),
        "Periods": frame([{"period": "y1"}, {"period": "y2"}], ["period"]),
    }
    return tables_to_inputs(tables)


def test_time_to_survive_with_stock_over_two_years():
    # Each plant needs 365 t a year (1 t a day). Baseline: A (730 t/yr at 1 USD/kg) covers both plants after
    # their stock: 2 x 730 - 73 - 292 = 1,095 t x 1,000 = 1,095,000 USD, nothing short.
    # Without A, each plant gets 146 t a year from its own B (0.4 t a day): 219 t a year (0.6 t a day) is
    # uncovered by arrivals, and drawn from stock while it lasts:
    #   P1: 73 t of stock lasts 73 / 0.6 = 121.7 days; 2 x 219 - 73 = 365 t short over the two years
    #   P2: 292 t covers y1's 219 t and 73 t of y2's: 365 + 73 / 0.6 = 486.7 days; 438 - 292 = 146 t short
    #   cost: 584 t x 2,000 + 511 t x 10,000 = 6,278,000 USD (+5,183,000)
    rep = run(_two_years())
    a = row(rep, "A")
    assert a["shortage_t"] == pytest.approx(365 + 146)
    assert a["delta_cost_usd"] == pytest.approx(584 * 2 * K + 511 * 10 * K - 1095 * K)
    assert (a["worst_plant"], a["stock_t"]) == ("P1", pytest.approx(73))
    assert a["time_to_survive_days"] == pytest.approx(73 / 0.6)
    assert "with the 73.0 t in stock it lasts 122 days" in a["reading"]
    assert "short over y1-y2" in a["reading"]
    s = rep.survival.set_index("plant")
    assert s.at["P1", "time_to_survive_days"] == pytest.approx(121.667, abs=1e-3)
    assert s.at["P2", "time_to_survive_days"] == pytest.approx(365 + 73 / 0.6)
    assert s.at["P2", "shortage_t"] == pytest.approx(146) and s.at["P2", "stock_t"] == pytest.approx(292)
    assert list(rep.survival["plant"]) == ["P1", "P2"]  # the first to run out first
    assert s.at["P1", "uncovered_t_per_day"] == pytest.approx(0.6)
    # B1 and B2 are unused in the baseline: losing either changes nothing
    assert row(rep, "B1")["effect"] == row(rep, "B2")["effect"] == "none"


def test_time_to_survive_walks_the_periods():
    # 100 t of stock; 0.5 t a day uncovered in a 100-day period, then 1 t a day: 50 t in the first, 50 days more
    assert time_to_survive(100, [(50, 100), (365, 365)]) == pytest.approx(150)
    # a period that receives more than it uses builds the stock back up: 20 - 10 + 30 = 40 t left, at 2 t a day
    assert time_to_survive(20, [(10, 10), (-30, 30), (730, 365)]) == pytest.approx(10 + 30 + 20)
    assert time_to_survive(0, [(5, 365)]) == 0
    assert time_to_survive(10, [(0, 365)]) is None
    # stock left after the horizon goes at the last period's rate
    assert time_to_survive(500, [(365, 365)]) == pytest.approx(500)


# --------------------------------------------------------------------------- a country's exports


def _countries():  # noqa: ANN202
    sites = [{"site_id": "M1", "name": "China mine 1", "country": "CN", "stage": "mine"},
             {"site_id": "M2", "name": "China mine 2", "country": "CN", "stage": "mine"},
             {"site_id": "M3", "name": "Australian mine", "country": "AU", "stage": "mine"},
             {"site_id": "PD", "name": "German plant", "country": "DE", "stage": "plant"},
             {"site_id": "PC", "name": "Chinese plant", "country": "CN", "stage": "plant"}]
    tables = {
        "Sites": frame(sites, ["site_id", "name", "country", "stage"]),
        "Supply": frame([{"site_id": "M1", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 1},
                         {"site_id": "M2", "product": "X", "capacity_t": 50, "unit_cost_usd_per_kg": 1},
                         {"site_id": "M3", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 3}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": "stage:mine", "to_site": "stage:plant"}], ["from_site", "to_site"]),
        "Demand": frame([{"site_id": "PD", "product": "X", "quantity_t": 100},
                         {"site_id": "PC", "product": "X", "quantity_t": 30}], ["site_id", "product", "quantity_t"]),
        # China licenses X at 0.9 in general, and freely to Germany (a route's own row, which governs there)
        "Controls": frame([{"country": "CN", "product": "X", "approval_probability": 0.9,
                            "denial_cost_usd_per_kg": 10},
                           {"country": "CN", "product": "X", "approval_probability": 1, "destination": "DE"}],
                          ["country", "product", "approval_probability", "denial_cost_usd_per_kg", "destination"]),
        "Settings": pd.DataFrame({"key": ["shortage_cost_usd_per_kg"], "value": ["10"]}),
    }
    return tables_to_inputs(tables)


def test_losing_a_countrys_exports_bans_every_route_abroad_and_keeps_its_domestic_flows():
    # Baseline: 130 t from the Chinese mines at 1 USD/kg (Germany's licence is free): 130,000 USD.
    # Without China's exports: Germany gets only Australia's 40 t at 3 USD/kg and is 60 t short; the Chinese
    # plant still gets its 30 t at home: 40 x 3,000 + 30 x 1,000 + 60 x 10,000 = 750,000 (+620,000).
    rep = run(_countries(), by="country")
    assert list(rep.ranking["lost_id"]) == ["CN", "AU"]
    cn, au = row(rep, "CN"), row(rep, "AU")
    assert cn["kind"] == "country" and cn["lost"] == "CN exports"
    assert cn["shortage_t"] == pytest.approx(60)
    assert cn["delta_cost_usd"] == pytest.approx(40 * 3 * K + 30 * K + 60 * 10 * K - 130 * K)
    assert (cn["worst_plant"], cn["worst_plant_shortage_t"]) == ("PD", pytest.approx(60))
    assert cn["baseline_shipped_t"] == pytest.approx(100)  # what China ships abroad; its 30 t at home stay
    assert "Australian mine (+40.0 t X)" in cn["taken_over_by"]
    assert au["reading"] == "No effect: no site in AU ships abroad in the baseline plan."
    assert rep.survival["plant"].tolist() == ["PD"]  # the Chinese plant is not hit


def test_country_scenarios_set_every_row_of_the_country_to_a_ban():
    _, scenarios = stress_scenarios(_countries(), "both")
    names = [s.name for s in scenarios]
    assert names == ["without M1", "without M2", "without M3", "without AU exports", "without CN exports"]
    cn = scenarios[-1].changes
    assert [(c.sheet, c.key, c.column, c.operation, c.value) for c in cn] == [
        ("Controls", "CN/*/*/*/*", "approval_probability", "set", 0.0),
        ("Controls", "CN/X", "approval_probability", "set", 0.0)]
    assert [(c.sheet, c.key, c.value) for c in scenarios[0].changes] == [("Supply", "M1/*", 0.0)]


# --------------------------------------------------------------------------- the command line


def _sheets(case: dict) -> dict[str, list[list[object]]]:
    def rows(items: list[dict], cols: list[str]) -> list[list[object]]:
        return [cols, *[[r.get(c) for c in cols] for r in items]]

    return {"Sites": rows(case["sites"], ["site_id", "name", "country", "stage"]),
            "Supply": rows(case["supply"], ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
            "Lanes": rows(case["lanes"], ["from_site", "to_site"]),
            "Demand": rows(case["demand"], ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"])}


def test_cli_stress_writes_the_workbook_and_the_json(tmp_path: Path):
    src = write_xlsx(tmp_path / "three.xlsx", _sheets(THREE))
    out = tmp_path / "stress.xlsx"
    res = CliRunner().invoke(main, ["stress", str(src), "-o", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "Mine A" in res.output and f"Workbook: {out}" in res.output
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["Findings", "Stress", "Survival", "Scenarios"]
    stress = [r for r in wb["Stress"].iter_rows(values_only=True) if r and isinstance(r[0], int)]
    assert [r[1] for r in stress] == ["Mine A", "Mine C", "Mine B", "Mine D"]
    tts = [r[19] for r in stress]
    assert tts == [0, 0, "unlimited", "unlimited"]
    wb.close()
    res = CliRunner().invoke(main, ["stress", str(src), "-o", str(out), "--jobs", "1", "--json", "--by", "both"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert [r["lost"] for r in payload["stress"]][:3] == ["Mine A", "AU exports", "Mine C"]  # AU exports: A's
    assert {r["kind"] for r in payload["stress"]} == {"supplier", "country"}
    assert payload["stress"][0]["time_to_survive_days"] == 0 and payload["baseline"]["status"] == "optimal"
    assert payload["survival"][0]["lost"] == "Mine A"


def test_cli_stress_on_a_bad_input_writes_nothing(tmp_path: Path):
    sheets = _sheets(THREE)
    sheets["Supply"][1][2] = -5  # a negative capacity
    src = write_xlsx(tmp_path / "bad.xlsx", sheets)
    out = tmp_path / "stress.xlsx"
    res = CliRunner().invoke(main, ["stress", str(src), "-o", str(out)])
    assert res.exit_code == 3
    assert "Supply!C2 (capacity_t)" in res.output and "Nothing was written." in res.output
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
    res = CliRunner().invoke(main, ["stress", str(src), "-o", str(out), "--by", "company"])
    assert res.exit_code == 2 and not out.exists()
