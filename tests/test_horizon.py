"""Planning over periods (contract v2, issue 12): each rule with its optimum worked out by hand.

Units: t and USD/kg, so a tonne at 1 USD/kg costs 1,000 USD. Periods are years of 365 days.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from planner.api import plan
from planner.errors import InputError
from planner.input.validate import load, tables_to_inputs
from planner.optimise.solve import options_from
from planner.results.check import check_horizon, check_plan
from tests.conftest import frame

K = 1000.0
ROOT = Path(__file__).resolve().parents[1]
SITE_COLS = ["site_id", "country", "stage", "status", "qualification_cost_usd", "min_volume_t", "processing_days",
             "qualification_periods", "period"]


# CBC in the slow run (CI runs it), as for the model rules
@pytest.fixture(params=["highs", pytest.param("cbc", marks=pytest.mark.slow)])
def solver(request):  # noqa: ANN001, ANN201
    return request.param


def horizon(sites, supply, lanes, demand, periods, settings=None, controls=()):  # noqa: ANN001, ANN201
    tables = {
        "Sites": frame(sites, SITE_COLS),
        "Supply": frame(supply, ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg", "period"]),
        "Lanes": frame(lanes, ["from_site", "to_site", "product", "freight_usd_per_kg", "transit_days", "period"]),
        "Demand": frame(demand, ["site_id", "product", "quantity_t", "max_lead_time_days", "period"]),
        "Periods": frame([{"period": p} if isinstance(p, str) else p for p in periods], ["period", "days"]),
    }
    if controls:
        tables["Controls"] = frame(list(controls), ["country", "product", "approval_probability", "approval_days",
                                                    "denial_cost_usd_per_kg", "content_rule", "period"])
    if settings:
        tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})
    return tables_to_inputs(tables)


def solve_checked(inputs, solver):  # noqa: ANN001, ANN201
    p = plan(inputs, options_from(inputs, solver=solver, mip_gap=1e-9))
    chk = check_horizon(inputs, p)
    assert chk.ok, "\n".join(chk.failures)
    assert p.summary["total_cost_usd"] == pytest.approx(chk.recomputed["total"], abs=0.05)
    return p


def shipped(p, period: str, frm: str) -> float:  # noqa: ANN001
    f = p.flows
    return float(f.loc[(f["period"] == period) & (f["from_site"] == frm), "tonnes"].sum())


def started(p) -> dict[str, str]:  # noqa: ANN001
    return dict(zip(p.qualifications["site_id"], p.qualifications["start_period"], strict=True))


OLD_NEW = [{"site_id": "OLD", "country": "CN", "stage": "mine"}, {"site_id": "NEW", "country": "AU", "stage": "mine"},
           {"site_id": "P", "country": "DE", "stage": "plant"}]


def test_capacity_that_arrives_in_period_two(solver):
    # NEW (2 USD/kg) has no capacity in 2026 (a row for 2026 replaces its nameplate row there), 100 t from
    # 2027; OLD costs 10 USD/kg. The plant needs 50 t a year.
    #   2026: 50 t from OLD = 500,000;  2027: 50 t from NEW = 100,000;  total 600,000
    inp = horizon(OLD_NEW,
                  [{"site_id": "OLD", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
                   {"site_id": "NEW", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
                   {"site_id": "NEW", "product": "X", "capacity_t": 0, "unit_cost_usd_per_kg": 2, "period": "2026"}],
                  [{"from_site": "*", "to_site": "P"}], [{"site_id": "P", "product": "X", "quantity_t": 50}],
                  ["2026", "2027"])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(50 * 10 * K + 50 * 2 * K)
    assert shipped(p, "2026", "OLD") == pytest.approx(50) and shipped(p, "2027", "NEW") == pytest.approx(50)
    notes = " | ".join(p.roadmap["note"])
    assert "NEW starts supplying X in 2027: 50.0 t" in notes and "OLD stops supplying X in 2027" in notes


def test_a_ramp_and_a_closure_are_rows_per_period(solver):
    # NEW ramps 25 %, 60 %, 100 % of 40 t (10, 24, 40 t) and closes in the fourth period (0 t); the plant needs
    # 40 t a year; OLD (10 USD/kg) fills the rest: 30 + 16 + 0 + 40 t from OLD, 10 + 24 + 40 + 0 t from NEW.
    #   OLD: 86 t x 10,000 = 860,000;  NEW: 74 t x 2,000 = 148,000;  total 1,008,000
    inp = horizon(OLD_NEW,
                  [{"site_id": "OLD", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
                   {"site_id": "NEW", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 2},
                   {"site_id": "NEW", "product": "X", "capacity_t": 10, "unit_cost_usd_per_kg": 2, "period": "y1"},
                   {"site_id": "NEW", "product": "X", "capacity_t": 24, "unit_cost_usd_per_kg": 2, "period": "y2"},
                   {"site_id": "NEW", "product": "X", "capacity_t": 0, "unit_cost_usd_per_kg": 2, "period": "y4"}],
                  [{"from_site": "*", "to_site": "P"}], [{"site_id": "P", "product": "X", "quantity_t": 40}],
                  ["y1", "y2", "y3", "y4"])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(86 * 10 * K + 74 * 2 * K)
    assert [shipped(p, t, "NEW") for t in ("y1", "y2", "y3", "y4")] == pytest.approx([10, 24, 40, 0])


CAND = [{"site_id": "OLD", "country": "CN", "stage": "mine"},
        {"site_id": "C", "country": "AU", "stage": "mine", "status": "candidate", "qualification_cost_usd": 1000,
         "qualification_periods": 2},
        {"site_id": "P", "country": "DE", "stage": "plant"}]
CAND_SUPPLY = [{"site_id": "OLD", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
               {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2}]


def test_qualification_with_a_lead_time_is_started_early_enough(solver):
    # Demand only in the third period (50 t); C (2 USD/kg, 1,000 USD to qualify) takes two periods to qualify.
    # Started in 2026 it is usable in 2028: 1,000 + 50 t x 2,000 = 101,000 (OLD instead: 500,000).
    inp = horizon(CAND, CAND_SUPPLY, [{"from_site": "*", "to_site": "P"}],
                  [{"site_id": "P", "product": "X", "quantity_t": 0},
                   {"site_id": "P", "product": "X", "quantity_t": 50, "period": "2028"}],
                  ["2026", "2027", "2028"])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(1000 + 50 * 2 * K)
    assert started(p) == {"C": "2026"}
    assert "start qualifying C in 2026 (2 periods to qualify): usable from 2028, first used in 2028" in \
        " | ".join(p.roadmap["note"])


def test_a_qualification_is_started_no_earlier_than_needed(solver):
    # The same, with a one-period lead: started in 2026 or 2027 it is ready for 2028 at the same cost (no
    # discounting); the plan waits, as a manager would: started in 2027.
    sites = [dict(s, qualification_periods=1) if s["site_id"] == "C" else s for s in CAND]
    inp = horizon(sites, CAND_SUPPLY, [{"from_site": "*", "to_site": "P"}],
                  [{"site_id": "P", "product": "X", "quantity_t": 0},
                   {"site_id": "P", "product": "X", "quantity_t": 50, "period": "2028"}],
                  ["2026", "2027", "2028"])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(1000 + 50 * 2 * K)
    assert started(p) == {"C": "2027"}


def test_a_lead_longer_than_the_horizon_means_never_used(solver):
    # Three periods to qualify over a two-period horizon: C can never supply; OLD does, 2 x 50 t x 10,000.
    sites = [dict(s, qualification_periods=3) if s["site_id"] == "C" else s for s in CAND]
    inp = horizon(sites, CAND_SUPPLY, [{"from_site": "*", "to_site": "P"}],
                  [{"site_id": "P", "product": "X", "quantity_t": 50}], ["2026", "2027"])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(2 * 50 * 10 * K)
    assert started(p) == {} and shipped(p, "2027", "C") == 0


def _discount_case(rate: float):  # noqa: ANN202
    # Four years; the plant needs 2 t in the first and 10 t in each later one. OLD costs 10 USD/kg, the
    # candidate C 5 USD/kg and 100,000 USD to qualify (no lead). Saving per year with C: 10,000 in the first,
    # 50,000 after. Started in year k, C costs 100,000 d_k and saves the discounted savings from k on.
    sites = [dict(s, qualification_cost_usd=100_000, qualification_periods=0) if s["site_id"] == "C" else s
             for s in CAND]
    supply = [{"site_id": "OLD", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
              {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 5}]
    return horizon(sites, supply, [{"from_site": "*", "to_site": "P"}],
                   [{"site_id": "P", "product": "X", "quantity_t": 10},
                    {"site_id": "P", "product": "X", "quantity_t": 2, "period": "y1"}],
                   ["y1", "y2", "y3", "y4"], settings={"discount_rate": rate, "contract_version": 2})


def test_discounting_moves_a_qualification_later_as_the_arithmetic_says(solver):
    # rate 0: started in y1, fee 100,000 + 32 t x 5,000 = 260,000 (starting in y2 instead: 20,000 + 100,000 +
    # 150,000 = 270,000).
    p = solve_checked(_discount_case(0.0), solver)
    assert started(p) == {"C": "y1"}
    assert p.summary["total_cost_usd"] == pytest.approx(100_000 + 32 * 5 * K)
    # rate 0.2: d = 1, 1/1.2, 1/1.44, 1/1.728. Net effect of qualifying (fee less savings against OLD):
    #   in y1: 100,000 - (10,000 + 50,000 (d2 + d3 + d4)) = -15,324.07
    #   in y2: (100,000 - 50,000) d2 - 50,000 (d3 + d4) = -21,990.74   <- best
    #   in y3: (100,000 - 50,000) d3 - 50,000 d4 = +5,787.04;  never: 0
    d = [1 / 1.2 ** k for k in range(4)]
    p = solve_checked(_discount_case(0.2), solver)
    assert started(p) == {"C": "y2"}
    expected = 2 * 10 * K + (100_000 + 10 * 5 * K) * d[1] + 10 * 5 * K * (d[2] + d[3])
    assert p.summary["total_cost_usd"] == pytest.approx(expected)
    assert [t for t, _ in p.periods] == ["y1", "y2", "y3", "y4"]
    assert p.periods[1][1].cost_breakdown["qualification"] == 100_000  # paid, undiscounted, in its period


def test_a_shorter_period_scales_yearly_figures(solver):
    # A 146-day period (0.4 of a year): capacity and demand per year scale by 0.4 in it. 100 t/yr demand,
    # OLD 10 USD/kg.  2026 (365 days): 100 t = 1,000,000;  2027 (146 days): 40 t = 400,000
    inp = horizon(OLD_NEW[:1] + OLD_NEW[2:],
                  [{"site_id": "OLD", "product": "X", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
                  [{"from_site": "*", "to_site": "P"}], [{"site_id": "P", "product": "X", "quantity_t": 100}],
                  [{"period": "2026", "days": 365}, {"period": "2027", "days": 146}])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx((100 + 40) * 10 * K)
    assert p.summary["demand_t"] == pytest.approx(140)


def test_a_one_period_v2_workbook_plans_as_the_v1_one():
    # the bundled case with a Periods sheet of one row (and a period column left blank): same optimum, flows
    ref = load(ROOT / "inputs" / "rare_earth_magnets.xlsx")
    v1 = plan(ref, detail=False)
    tables = {
        "Sites": ref.sites, "Supply": ref.supply, "Recipes": ref.recipes, "CoProducts": ref.coproducts,
        "Lanes": ref.lanes, "Demand": ref.demand, "Controls": ref.controls,
        "Settings": pd.DataFrame({"key": list(ref.settings), "value": [
            ("yes" if v else "no") if isinstance(v, bool) else str(v) for v in ref.settings.values()]}),
        "Periods": pd.DataFrame({"period": ["2026"], "days": [365]}),
    }
    v2 = tables_to_inputs({k: v.drop(columns=[c for c in ("_row",) if c in v]) for k, v in tables.items()})
    p = plan(v2, detail=False)
    assert p.summary["total_cost_usd"] == pytest.approx(v1.summary["total_cost_usd"], rel=1e-9)
    a = v1.flows.set_index(["from_site", "to_site", "product"])["tonnes"]
    b = p.flows.set_index(["from_site", "to_site", "product"])["tonnes"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index(), check_exact=False, rtol=1e-6)
    assert check_horizon(v2, p).ok
    assert "periods" in p.to_json() and "periods" not in v1.to_json()  # v1 JSON keeps its keys


def test_period_errors_are_located():
    with pytest.raises(InputError) as e:
        horizon(OLD_NEW, [{"site_id": "OLD", "product": "X", "capacity_t": 1, "unit_cost_usd_per_kg": 1,
                           "period": "2029"}],
                [{"from_site": "*", "to_site": "P"}], [{"site_id": "P", "product": "X", "quantity_t": 1}],
                ["2026", "2027"])
    assert any("Supply!E2 (period): unknown period \"2029\" (not in sheet Periods)" in str(i) for i in e.value.issues)
    with pytest.raises(InputError) as e:
        tables_to_inputs({"Sites": frame(OLD_NEW, SITE_COLS),
                          "Supply": frame([{"site_id": "OLD", "product": "X", "capacity_t": 1,
                                            "unit_cost_usd_per_kg": 1, "period": "2027"}],
                                          ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg", "period"]),
                          "Lanes": frame([{"from_site": "*", "to_site": "P"}], ["from_site", "to_site"]),
                          "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 1}],
                                          ["site_id", "product", "quantity_t"])})
    assert any("there is no Periods sheet" in str(i) for i in e.value.issues)
    with pytest.raises(InputError) as e:
        horizon([*CAND, {"site_id": "C", "country": "AU", "stage": "mine", "status": "candidate",
                         "qualification_cost_usd": 5000, "qualification_periods": 2, "period": "2027"}],
                CAND_SUPPLY, [{"from_site": "*", "to_site": "P"}],
                [{"site_id": "P", "product": "X", "quantity_t": 1}], ["2026", "2027"])
    assert any("qualification_cost_usd" in str(i) and "decided once" in str(i) for i in e.value.issues)
    with pytest.raises(InputError) as e:
        horizon(OLD_NEW, [{"site_id": "OLD", "product": "X", "capacity_t": 1, "unit_cost_usd_per_kg": 1,
                           "period": "2026"},
                          {"site_id": "OLD", "product": "X", "capacity_t": 2, "unit_cost_usd_per_kg": 1,
                           "period": "2026"}],
                [{"from_site": "*", "to_site": "P"}], [{"site_id": "P", "product": "X", "quantity_t": 1}],
                ["2026", "2027"])
    assert any("duplicate" in str(i) for i in e.value.issues)


def test_the_checker_catches_a_candidate_used_before_it_is_qualified():
    inp = horizon(CAND, CAND_SUPPLY, [{"from_site": "*", "to_site": "P"}],
                  [{"site_id": "P", "product": "X", "quantity_t": 0},
                   {"site_id": "P", "product": "X", "quantity_t": 50, "period": "2028"}],
                  ["2026", "2027", "2028"])
    p = plan(inp)
    assert check_horizon(inp, p).ok
    p.qualifications = p.qualifications.assign(start_period="2027")  # too late for a two-period lead
    failures = check_horizon(inp, p).failures
    assert any("is not complete" in f for f in failures)
    # and a period's own plan still checks as a one-year plan against that period's rows
    t, p28 = p.periods[2]
    assert check_plan(inp.for_period(t), p28, qualification_usd=0.0).ok


# --------------------------------------------------------------------------- stock between periods

CN_DE = [{"site_id": "CNM", "country": "CN", "stage": "mine"}, {"site_id": "P", "country": "DE", "stage": "plant"}]


def _stock_case(holding: float, **demand) -> object:  # noqa: ANN003
    tables = {
        "Sites": frame(CN_DE, SITE_COLS),
        "Supply": frame([{"site_id": "CNM", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 1}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": "CNM", "to_site": "P"}], ["from_site", "to_site"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 10, **demand}],
                        ["site_id", "product", "quantity_t", "min_cover_days"]),
        # China's licence for X tightens in y2: approval 0.9 -> 0.2, denial 100 USD/kg
        "Controls": frame([{"country": "CN", "product": "X", "approval_probability": 0.9,
                            "denial_cost_usd_per_kg": 100},
                           {"country": "CN", "product": "X", "approval_probability": 0.2,
                            "denial_cost_usd_per_kg": 100, "period": "y2"}],
                          ["country", "product", "approval_probability", "denial_cost_usd_per_kg", "period"]),
        "Stock": frame([{"site_id": "P", "product": "X", "holding_cost_usd_per_kg_yr": holding}],
                       ["site_id", "product", "holding_cost_usd_per_kg_yr"]),
        "Periods": frame([{"period": "y1"}, {"period": "y2"}], ["period"]),
    }
    return tables_to_inputs(tables)


def test_stock_is_bought_before_a_licence_regime_tightens_when_holding_is_cheaper(solver):
    # 10 t a year at P from China at 1 USD/kg; expected licence loss 10 USD/kg in y1 (0.1 x 100), 80 in y2.
    # Holding 5 USD/kg/yr: buy 20 t in y1, hold 10 t: 20 x 1,000 + 20 x 10,000 + 10 x 5,000 = 270,000
    # (buying each year: 10 x 1,000 x 2 + 10 x 10,000 + 10 x 80,000 = 920,000)
    p = solve_checked(_stock_case(5.0), solver)
    assert p.summary["total_cost_usd"] == pytest.approx(270_000)
    assert shipped(p, "y1", "CNM") == pytest.approx(20) and shipped(p, "y2", "CNM") == pytest.approx(0)
    y1, y2 = (p.plants[p.plants["period"] == t].iloc[0] for t in ("y1", "y2"))
    assert y1["stock_closing_t"] == pytest.approx(10) and y2["delivered_t"] == pytest.approx(10)
    # exposure survives stock: the stored tonnes crossed a licence event in y1 and are exposed when drawn in y2
    assert y2["exposed_t"] == pytest.approx(10)
    assert p.periods[0][1].cost_breakdown["holding"] == pytest.approx(50_000)


def test_no_stock_when_holding_is_dearer_than_the_expected_loss(solver):
    # Holding 100 USD/kg/yr is dearer than the 70 USD/kg the tighter regime adds: buy each year, 920,000
    p = solve_checked(_stock_case(100.0), solver)
    assert p.summary["total_cost_usd"] == pytest.approx(920_000)
    assert shipped(p, "y1", "CNM") == pytest.approx(10) and shipped(p, "y2", "CNM") == pytest.approx(10)


def test_min_cover_days_force_a_stockpile_and_its_cost_is_reported(solver):
    # 365 t/yr (1 t a day) with 30 days of cover: each year closes with 30 t (the last year: of its own
    # demand). No licence in this case (Controls removed), holding 2 USD/kg/yr, ore 1 USD/kg.
    #   y1: buy 365 + 30 = 395 t;  y2: use 30 from stock, buy 335 + 30 = 365 t;  760 t x 1,000 = 760,000
    #   holding: (30 + 30) t x 2,000 = 120,000;  total 880,000
    inp = _stock_case(2.0, min_cover_days=30)
    inp = dataclasses.replace(inp, controls=inp.controls.iloc[0:0],
                              demand=inp.demand.assign(quantity_t=365.0),
                              supply=inp.supply.assign(capacity_t=1000.0))
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(880_000)
    assert [p.periods[k][1].cost_breakdown["holding"] for k in (0, 1)] == pytest.approx([60_000, 60_000])
    assert list(p.plants["stock_closing_t"]) == pytest.approx([30, 30])


def test_initial_stock_covers_a_year_and_the_purchase_goes_to_the_cheaper_one(solver):
    # 10 t in stock at the start (clean, ready), 10 t needed a year; the licence costs 10 USD/kg of expected
    # loss in y1 and 80 in y2, holding is free. The initial stock covers one year, so 10 t are bought, in y1:
    #   10 t x (1,000 + 10,000) = 110,000   (bought in y2 instead: 10 x (1,000 + 80,000) = 810,000)
    inp = _stock_case(0.0)
    inp = dataclasses.replace(inp, stock=inp.stock.assign(initial_stock_t=10.0))
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(110_000)
    assert shipped(p, "y1", "CNM") == pytest.approx(10) and shipped(p, "y2", "CNM") == pytest.approx(0)


def test_stock_needs_periods_and_a_demanded_product():
    with pytest.raises(InputError) as e:
        tables_to_inputs({
            "Sites": frame(CN_DE, SITE_COLS),
            "Supply": frame([{"site_id": "CNM", "product": "X", "capacity_t": 1, "unit_cost_usd_per_kg": 1}],
                            ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
            "Lanes": frame([{"from_site": "CNM", "to_site": "P"}], ["from_site", "to_site"]),
            "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 1}], ["site_id", "product", "quantity_t"]),
            "Stock": frame([{"site_id": "P", "product": "X"}, {"site_id": "CNM", "product": "X"}],
                           ["site_id", "product"])})
    text = "\n".join(str(i) for i in e.value.issues)
    assert "Stock!A2 (site_id): stock is carried between periods: it needs a Periods sheet" in text


def test_the_workbook_and_roadmap_show_the_stock(tmp_path):
    from planner.output.sheets import recommendation_tables  # noqa: PLC0415
    from planner.output.write import write_workbook  # noqa: PLC0415

    p = plan(_stock_case(5.0))
    assert "P builds up 10.0 t of X stock in y1 (closing 10.0 t)" in " | ".join(p.roadmap["note"])
    assert "P draws down 10.0 t of X stock in y2 (closing 0.0 t)" in " | ".join(p.roadmap["note"])
    write_workbook(tmp_path / "h.xlsx", recommendation_tables(p))
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.load_workbook(tmp_path / "h.xlsx")
    assert {"Horizon", "Roadmap", "Stock"} <= set(wb.sheetnames)
    rows = [r for r in wb["Stock"].iter_rows(values_only=True) if r[0] in ("y1", "y2")]
    assert rows == [("y1", "P", "X", "yes", None, 0, 10), ("y2", "P", "X", "yes", None, 10, 0)]


# --------------------------------------------------------------------------- contracts in force

def _contract_case(contracts: list[dict], dear_country: str = "JP", controls: tuple = ()) -> object:
    tables = {
        "Sites": frame([{"site_id": "CHEAP", "country": "AU", "stage": "mine"},
                        {"site_id": "DEAR", "country": dear_country, "stage": "mine"},
                        {"site_id": "P", "country": "DE", "stage": "plant"}], SITE_COLS),
        "Supply": frame([{"site_id": "CHEAP", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
                         {"site_id": "DEAR", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": "*", "to_site": "P"}], ["from_site", "to_site"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 50}], ["site_id", "product", "quantity_t"]),
        "Contracts": frame(contracts, ["site_id", "product", "plant", "min_t", "max_t", "first_period",
                                       "last_period", "take_or_pay"]),
        "Periods": frame([{"period": "y1"}, {"period": "y2"}], ["period"]),
    }
    if controls:
        tables["Controls"] = frame(list(controls), ["country", "product", "approval_probability",
                                                    "denial_cost_usd_per_kg"])
    return tables_to_inputs(tables)


def test_a_contracts_minimum_binds_even_when_a_cheaper_source_exists(solver):
    # P needs 50 t a year; CHEAP sells at 2 USD/kg, DEAR at 10. A contract with DEAR: at least 20 t to P in y1.
    #   y1: 20 t DEAR (200,000) + 30 t CHEAP (60,000);  y2: 50 t CHEAP (100,000);  total 360,000
    inp = _contract_case([{"site_id": "DEAR", "product": "X", "plant": "P", "min_t": 20, "last_period": "y1"}])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(360_000)
    assert shipped(p, "y1", "DEAR") == pytest.approx(20) and shipped(p, "y2", "DEAR") == 0
    assert "after its contract (Contracts row 2) ends in y1, DEAR's X goes from 20.0 t to 0.0 t in y2" in \
        " | ".join(p.roadmap["note"])


def test_take_or_pay_is_paid_for_what_is_not_taken(solver):
    # DEAR is Chinese, with a licence at approval 0.5 and 200 USD/kg denial cost: 100 USD/kg of expected loss.
    # Take-or-pay 20 t in each year at DEAR's 10 USD/kg: taking them costs 20 x (10 + 100) x 1,000 = 2,200,000,
    # paying for them untaken 200,000. So each year: 200,000 paid + 50 t CHEAP (100,000); total 600,000.
    inp = _contract_case([{"site_id": "DEAR", "product": "X", "min_t": 20, "take_or_pay": "yes"}], "CN",
                         ({"country": "CN", "product": "X", "approval_probability": 0.5,
                           "denial_cost_usd_per_kg": 200},))
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(600_000)
    assert [p.periods[k][1].cost_breakdown["take_or_pay"] for k in (0, 1)] == pytest.approx([200_000, 200_000])
    assert "pay for 20.0 t of X from DEAR not taken in y1 (take-or-pay: 20.0 t contracted, 0.0 t bought)" in \
        " | ".join(p.roadmap["note"])


def test_a_contracts_maximum_caps_what_is_bought(solver):
    # A contract caps CHEAP at 30 t a year to P: 30 t CHEAP (60,000) + 20 t DEAR (200,000) a year: 520,000
    inp = _contract_case([{"site_id": "CHEAP", "product": "X", "plant": "P", "max_t": 30}])
    p = solve_checked(inp, solver)
    assert p.summary["total_cost_usd"] == pytest.approx(520_000)
    assert "buy the contract's maximum of X from CHEAP to P in y1: 30.0 t" in " | ".join(p.roadmap["note"])


def test_contract_errors_are_located():
    with pytest.raises(InputError) as e:
        _contract_case([{"site_id": "NOPE", "product": "X", "min_t": 5, "max_t": 1, "first_period": "y9"}])
    text = "\n".join(str(i) for i in e.value.issues)
    assert 'Contracts!A2 (site_id): "NOPE" has no Supply row for "X"' in text
    assert 'Contracts!F2 (first_period): unknown period "y9"' in text
    assert "Contracts!D2 (min_t): min_t 5 is above max_t 1" in text
