"""Outputs and what-ifs of a plan over periods (contract v2, issue 12: 7, 8): the workbook's findings and
charts by year, the Sankey of one period, and batch and sweep over the horizon, each worked by hand.

Units: t and USD/kg, so a tonne at 1 USD/kg costs 1,000 USD. Periods are years of 365 days.

The case (``CASE``): a plant P needs 50 t of X a year over 2026-2028. OLD (CN) sells at 10 USD/kg, 100 t;
NEW (AU) at 2 USD/kg, 100 t from 2027 (a 2026 row of 0 t replaces its nameplate row there).
    2026: 50 t from OLD = 500,000;  2027 and 2028: 50 t from NEW = 100,000 each;  total 700,000.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.api import plan
from planner.cli import main
from planner.errors import InputError, UsageError
from planner.input.validate import load, tables_to_inputs
from planner.output.horizon import horizon_findings
from planner.output.sankey import period_plan
from planner.output.sheets import CHINA_RED, recommendation_tables
from planner.output.write import write_workbook
from planner.whatif.batch import comparison, flow_changes, period_comparison, run_batch
from planner.whatif.scenarios import Change, Scenario, ScenarioError, apply_scenario, parse_whatif
from tests.conftest import frame

K = 1000.0
CASE = {
    "Sites": [{"site_id": "OLD", "name": "Old mine", "country": "CN", "stage": "mine"},
              {"site_id": "NEW", "name": "New refinery", "country": "AU", "stage": "mine"},
              {"site_id": "P", "name": "Plant", "country": "DE", "stage": "plant"}],
    "Supply": [{"site_id": "OLD", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
               {"site_id": "NEW", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
               {"site_id": "NEW", "product": "X", "capacity_t": 0, "unit_cost_usd_per_kg": 2, "period": "2026"}],
    "Lanes": [{"from_site": "*", "to_site": "P"}],
    "Demand": [{"site_id": "P", "product": "X", "quantity_t": 50}],
    "Periods": [{"period": "2026"}, {"period": "2027"}, {"period": "2028"}],
}
COLUMNS = {
    "Sites": ["site_id", "name", "country", "stage", "status", "qualification_cost_usd", "qualification_periods",
              "period"],
    "Supply": ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg", "period"],
    "Lanes": ["from_site", "to_site", "product", "freight_usd_per_kg", "transit_days", "period"],
    "Demand": ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg", "period"],
    "Periods": ["period", "days"],
    "WhatIf": ["scenario", "sheet", "key", "column", "operation", "value", "period"],
}


def tables(case: dict) -> dict[str, pd.DataFrame]:
    return {name: frame(rows, COLUMNS[name]) for name, rows in case.items()}


def inputs(case: dict = CASE):  # noqa: ANN201
    return tables_to_inputs(tables(case))


def write_csv(folder: Path, case: dict = CASE, whatif: list[dict] = ()) -> Path:
    """The case as a CSV folder, one file per sheet, as a user would hand it to the command line."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, f in tables(case).items():
        f.to_csv(folder / f"{name}.csv", index=False)
    if whatif:
        frame(list(whatif), COLUMNS["WhatIf"]).to_csv(folder / "WhatIf.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def base():  # noqa: ANN201
    return plan(inputs())


# --------------------------------------------------------------------------- the workbook


def test_workbook_opens_with_findings_then_charts_by_year(base, tmp_path):
    out = tmp_path / "plan.xlsx"
    write_workbook(out, recommendation_tables(base))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:4] == ["Findings", "Horizon", "Roadmap", "Charts"]
    ws = wb["Charts"]
    rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
    # cost by period and part: production only, 500,000 then 100,000 twice
    at = rows.index(("Period", "Production", None))
    assert rows[at + 1:at + 4] == [("2026", 500_000, None), ("2027", 100_000, None), ("2028", 100_000, None)]
    # supply mix by year and supplier country, China first: 50 t from CN in 2026, then from AU
    at = rows.index(("Period", "CN", "AU"))
    assert rows[at + 1:at + 4] == [("2026", 50, 0), ("2027", 0, 50), ("2028", 0, 50)]
    at = rows.index(("Period", "Exposed share of demand", "Short share of demand"))
    assert rows[at + 1] == ("2026", 0, 0)
    charts = ws._charts
    assert len(charts) == 3  # cost, mix, exposure (no magnet or metal stage: no China-by-stage chart)
    mix = charts[1]
    assert mix.grouping == "stacked" and len(mix.series) == 2
    assert str(mix.series[0].graphicalProperties.solidFill.srgbClr).endswith(CHINA_RED)  # China in its red


def test_findings_say_cost_scarcity_and_qualifications_in_words():
    # OLD has 30 t at 10 USD/kg; the candidate C (2 USD/kg, 1,000 USD to qualify) takes one period to qualify;
    # P needs 50 t a year and a tonne short costs 100 USD/kg.
    #   2026: 30 t from OLD (300,000) + 20 t short (2,000,000) + C's fee (1,000) = 2,301,000
    #   2027: 50 t from C = 100,000;   total 2,401,000
    # (starting C in 2026 is the only way to have it in 2027; without it 2027 would cost 2,300,000)
    case = {
        "Sites": [{"site_id": "OLD", "country": "CN", "stage": "mine"},
                  {"site_id": "C", "name": "Candidate", "country": "AU", "stage": "mine", "status": "candidate",
                   "qualification_cost_usd": 1000, "qualification_periods": 1},
                  {"site_id": "P", "country": "DE", "stage": "plant"}],
        "Supply": [{"site_id": "OLD", "product": "X", "capacity_t": 30, "unit_cost_usd_per_kg": 10},
                   {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 2}],
        "Lanes": [{"from_site": "*", "to_site": "P"}],
        "Demand": [{"site_id": "P", "product": "X", "quantity_t": 50, "shortage_cost_usd_per_kg": 100}],
        "Periods": [{"period": "2026"}, {"period": "2027"}],
    }
    p = plan(inputs(case))
    assert p.summary["total_cost_usd"] == pytest.approx(2_401_000)
    lines = horizon_findings(p)
    assert lines[0].startswith("Over 2026-2027 (2 periods) the plan costs 2.4 M USD (undiscounted): cash 401,000 "
                               "USD, expected license loss 0 USD, shortage penalty 2.0 M USD.")
    assert "Cost by period: 2026 2.3 M USD, 2027 100,000 USD; the dearest is 2026, the cheapest 2027." in lines
    # OLD at capacity while 20 t are short: a kg more replaces a kg short, 100 - 10 = 90 USD
    assert "2026: 20.0 t short (P X 20.0 t); at capacity: OLD X (a kg/yr more saves 90.00 USD)." in lines
    assert "2027: all demand met; no capacity at its limit." in lines
    assert "Start qualifying Candidate in 2026 (1 period to qualify): usable from 2027, first used in 2027; " \
           "1,000 USD." in lines


# --------------------------------------------------------------------------- the Sankey of one period


def test_the_sankey_draws_one_period_the_first_by_default(base):
    first, t = period_plan(base)
    assert t == "2026" and set(first.flows["from_site"]) == {"OLD"}
    later, t = period_plan(base, "2028")
    assert t == "2028" and set(later.flows["from_site"]) == {"NEW"}
    with pytest.raises(UsageError, match="not a period of this plan"):
        period_plan(base, "2031")
    one_year = base.periods[0][1]
    assert period_plan(one_year) == (one_year, "")
    with pytest.raises(UsageError, match="one year"):
        period_plan(one_year, "2026")


def test_cli_picture_of_a_period_and_its_refusals(tmp_path):
    src = write_csv(tmp_path / "case")
    out = tmp_path / "plan.xlsx"
    r = CliRunner().invoke(main, ["solve", str(src), "-o", str(out), "--picture", "--period", "2027", "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["picture_period"] == "2027"
    html = (tmp_path / "plan_chain.html").read_text()
    assert "New refinery" in html and "Old mine" not in html  # 2027's chain: NEW only
    for args, says in ((["--picture", "--period", "2031"], "not a period of this input"),
                       (["--period", "2027"], "give --picture too")):
        r = CliRunner().invoke(main, ["solve", str(src), "-o", str(tmp_path / "x.xlsx"), *args])
        assert r.exit_code == 2 and says in r.stderr
    one_year = dict(CASE, Supply=CASE["Supply"][:2])
    del one_year["Periods"]
    r = CliRunner().invoke(main, ["solve", str(write_csv(tmp_path / "v1", one_year)), "-o", str(tmp_path / "y.xlsx"),
                                  "--picture", "--period", "2027"])
    assert r.exit_code == 2 and "no Periods sheet" in r.stderr
    assert not (tmp_path / "y.xlsx").exists()


# --------------------------------------------------------------------------- what-ifs over the horizon


DELAY = Scenario("NEW a year late", (Change("Supply", "NEW/X", "capacity_t", "set", 0, period="2027"),))


def test_a_period_change_touches_that_period_only():
    inp = inputs()
    changed = apply_scenario(inp, DELAY)
    s = changed.supply[(changed.supply["site_id"] == "NEW")].set_index("period")["capacity_t"]
    assert s.to_dict() == {"2026": 0, "2027": 0, "2028": 100}  # 2028 keeps the blank row's 100 t
    # blank period: every period
    every = apply_scenario(inp, Scenario("all", (Change("Supply", "OLD/X", "unit_cost_usd_per_kg", "set", 9),)))
    assert set(every.supply.loc[every.supply["site_id"] == "OLD", "unit_cost_usd_per_kg"]) == {9}
    # a set that matches no row in the period creates that period's row (its other columns from more rows)
    new = apply_scenario(inp, Scenario("lane", (
        Change("Supply", "NEW/Y", "capacity_t", "set", 5, period="2028"),
        Change("Supply", "NEW/Y", "unit_cost_usd_per_kg", "set", 1, period="2028"))))
    assert new.supply.loc[new.supply["product"] == "Y", "period"].tolist() == ["2028"]
    for change, says in ((Change("Supply", "NEW/X", "capacity_t", "set", 0, period="2031"), "unknown period"),
                         (Change("Sites", "NEW", "", "delete", None, period="2027"), "whole horizon"),
                         (Change("Supply", "NEW/X", "period", "set", "2028"), "period column")):
        with pytest.raises(ScenarioError, match=says):
            apply_scenario(inp, Scenario("bad", (change,)))
    v1 = tables_to_inputs({k: v for k, v in tables(dict(CASE, Supply=CASE["Supply"][:2])).items() if k != "Periods"})
    with pytest.raises(ScenarioError, match="no Periods sheet"):
        apply_scenario(v1, DELAY)


def test_whatif_period_column_is_checked_when_read():
    rows = [{"scenario": "a", "sheet": "Settings", "key": "risk_weight", "operation": "set", "value": 1,
             "period": "2027"},
            {"scenario": "b", "sheet": "Supply", "key": "NEW/X", "column": "capacity_t", "operation": "set",
             "value": 0, "period": "2027"}]
    with pytest.raises(InputError) as e:
        tables_to_inputs({**tables(CASE), "WhatIf": frame(rows, COLUMNS["WhatIf"])})
    assert [("WhatIf", i.row) for i in e.value.issues if "leave period blank" in str(i)] == [("WhatIf", 2)]
    ok = tables_to_inputs({**tables(CASE), "WhatIf": frame(rows[1:], COLUMNS["WhatIf"])})
    assert parse_whatif(ok.whatif)[0].changes[0].period == "2027"


def test_a_batch_over_the_horizon_compares_totals_and_periods():
    # NEW a year late: 2027 from OLD too, 500,000 instead of 100,000: total 1,100,000 (+400,000), all in 2027
    out = run_batch(inputs(), [DELAY], options=_options(), jobs=1)
    base, late = out
    assert base.plan.summary["total_cost_usd"] == pytest.approx(700 * K)
    assert late.plan.summary["total_cost_usd"] == pytest.approx(1100 * K)
    comp = comparison(out)
    assert comp.loc[1, "delta_cost_usd"] == pytest.approx(400 * K)
    assert comp.loc[1, "reading"] == "Costs 0.4 M USD over 2026-2028 more: cash +0.4 M, shortage penalty +0.0 M " \
                                     "(+0.0 t short), expected license loss +0.0 M; by period: 2027 +0.4 M."
    per = period_comparison(out).set_index(["scenario", "period"])
    assert per.loc[("NEW a year late", "2027"), "delta_cost_usd"] == pytest.approx(400 * K)
    assert per.loc[("NEW a year late", "2028"), "delta_cost_usd"] == pytest.approx(0)
    assert per.loc[("NEW a year late", "2027"), "suppliers_in"] == "OLD"
    fc = flow_changes(out)
    assert fc[["period", "from_site", "change_t"]].values.tolist() == [["2027", "NEW", -50.0], ["2027", "OLD", 50.0]]


def _options():  # noqa: ANN202
    from planner.optimise.solve import options_from  # noqa: PLC0415

    return options_from(inputs())


def test_cli_batch_and_sweep_json_carry_the_horizon_keys(tmp_path):
    src = write_csv(tmp_path / "case", whatif=[{"scenario": "NEW a year late", "sheet": "Supply", "key": "NEW/X",
                                                "column": "capacity_t", "operation": "set", "value": 0,
                                                "period": "2027"}])
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "b.xlsx"), "--jobs", "1", "--json"])
    assert r.exit_code == 0, r.output
    entries = json.loads(r.stdout)["scenarios"]
    late = entries[1]
    assert late["scenario"] == "NEW a year late" and late["total_cost_usd"] == pytest.approx(1100 * K)
    assert [q["period"] for q in late["periods"]] == ["2026", "2027", "2028"]
    assert late["periods"][1]["total_cost_usd"] == pytest.approx(500 * K)
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    assert "Periods" in wb.sheetnames
    # the sweep of OLD's price, 5 and 10 USD/kg: 2026 costs 250,000 or 500,000; 2027-28 100,000 each
    r = CliRunner().invoke(main, ["sweep", str(src), "--param", "Supply:OLD/X:unit_cost_usd_per_kg", "--from", "5",
                                  "--to", "10", "--steps", "2", "-o", str(tmp_path / "s.xlsx"), "--jobs", "1",
                                  "--json"])
    assert r.exit_code == 0, r.output
    pts = json.loads(r.stdout)["points"]
    assert [p["total_cost_usd"] for p in pts[1:]] == pytest.approx([450 * K, 700 * K])
    assert [q["total_cost_usd"] for q in pts[1]["periods"]] == pytest.approx([250 * K, 100 * K, 100 * K])


def test_a_one_year_batch_keeps_its_v1_keys(tmp_path):
    one_year = dict(CASE, Supply=CASE["Supply"][:2])
    del one_year["Periods"]
    src = write_csv(tmp_path / "v1", one_year, whatif=[{"scenario": "dear", "sheet": "Supply", "key": "NEW/X",
                                                         "column": "unit_cost_usd_per_kg", "operation": "set",
                                                         "value": 20}])
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(tmp_path / "b.xlsx"), "--jobs", "1", "--json"])
    assert r.exit_code == 0, r.output
    entries = json.loads(r.stdout)["scenarios"]
    assert "periods" not in entries[0] and entries[1]["total_cost_usd"] == pytest.approx(500 * K)
    assert "Periods" not in openpyxl.load_workbook(tmp_path / "b.xlsx").sheetnames
    assert load(src).periods is None


def test_the_horizon_summary_gives_each_figure_its_unit_and_readable_names(tmp_path):
    # a share of 0.15 under a whole-number format read "0 fraction"; cost parts read as snake_case keys
    import openpyxl  # noqa: PLC0415

    from planner.output.sheets import recommendation_tables  # noqa: PLC0415
    from planner.output.write import write_workbook  # noqa: PLC0415
    from tests.test_horizon import _stock_case  # noqa: PLC0415

    p = plan(_stock_case(5.0))
    write_workbook(tmp_path / "h.xlsx", recommendation_tables(p))
    ws = openpyxl.load_workbook(tmp_path / "h.xlsx")["Horizon"]
    cells = {r[0].value: r[1] for r in ws.iter_rows() if r[0].value}
    assert cells["License-exposed share of deliveries"].number_format == "0.0%"
    assert "  Expected license loss" in cells and "  license_risk" not in cells
    assert cells["Demand"].number_format.startswith("#,##0.0")


def test_a_no_effect_reason_over_years_is_read_in_the_year_changed():
    # OLD (10 USD/kg) is bought only in 2026 (NEW has no capacity then): halving its 2028 capacity changes
    # nothing, and the reason must say so of 2028, where the baseline buys none of it, not of the five years
    cut = Scenario("OLD halved in 2028", (Change("Supply", "OLD/X", "capacity_t", "multiply", 0.5, 0, "2028"),))
    out = run_batch(inputs(), [cut], options=_options(), jobs=1)
    reading = comparison(out).loc[1, "reading"]
    assert reading.startswith("No effect, because the baseline buys none of Old mine's X in 2028"), reading
