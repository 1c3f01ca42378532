"""Explanations: price to win, values of binding limits and the findings, checked against hand-worked numbers."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.api import plan
from planner.cli import main
from tests.conftest import build

ROOT = Path(__file__).resolve().parents[1]


def S(site_id: str, country: str, stage: str, **kw: object) -> dict:  # noqa: N802
    return {"site_id": site_id, "country": country, "stage": stage, **kw}


def three_mines(c_cost: float = 4.5, qty: float = 50):  # noqa: ANN201
    # A: 1 USD/kg, 20 t; B: 3 USD/kg, 100 t; C: c_cost USD/kg, 100 t. 50 t needed: 20 A + 30 B.
    return build(
        [S("A", "AU", "mine"), S("B", "US", "mine"), S("C", "CA", "mine"), S("P", "DE", "plant")],
        [{"site_id": "A", "product": "X", "capacity_t": 20, "unit_cost_usd_per_kg": 1},
         {"site_id": "B", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 3},
         {"site_id": "C", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": c_cost}],
        [{"from_site": "stage:mine", "to_site": "P"}],
        [{"site_id": "P", "product": "X", "quantity_t": qty}],
    )


def supplier(result, site: str) -> dict:  # noqa: ANN001
    s = result.explanation.suppliers
    return s[s["site_id"] == site].iloc[0].to_dict()


def test_price_to_win_is_the_gap_to_the_marginal_supplier():
    # C at 4.5 USD/kg against B, the marginal supplier, at 3: it must be 1.5 USD/kg cheaper to enter
    r = plan(three_mines())
    assert supplier(r, "C")["price_to_win_usd_per_kg"] == pytest.approx(1.5)
    assert "1.50 USD/kg cheaper" in supplier(r, "C")["why"]
    # and at 2.9 USD/kg it does enter
    assert supplier(plan(three_mines(c_cost=2.9)), "C")["in_mix"]


def test_capacity_value_and_the_bottleneck_finding():
    # one more kg/yr at A replaces a kg from B: saves 3 - 1 = 2 USD
    r = plan(three_mines())
    assert supplier(r, "A")["capacity_value_usd_per_kg"] == pytest.approx(2.0)
    assert any("A's X capacity (20 t/yr) is a bottleneck: one more kg/yr would save 2.00 USD" in f
               for f in r.explanation.findings)


def test_an_unqualified_candidate_is_priced_by_qualifying_it():
    # 20 t needed; incumbent 100 USD/kg; candidate 80 USD/kg with 500,000 USD to qualify:
    # qualified, it takes all 20 t: 500,000 + 20 x 80,000 = 2,100,000 against 2,000,000 -> +100 k USD a year
    inp = build(
        [S("OLD", "JP", "magnet"), S("NEW", "US", "magnet", status="candidate", qualification_cost_usd=500_000),
         S("P", "US", "plant")],
        [{"site_id": "OLD", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100},
         {"site_id": "NEW", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 80}],
        [{"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 20}],
    )
    r = plan(inp)
    assert supplier(r, "NEW")["why"] == "not qualified: qualifying it (500 k USD) would add 100 k USD a year to the total"


def test_one_more_day_of_lead_time_is_valued_by_re_solving():
    # 4 days' processing + 35 days' transit against a 38-day limit: all 10 t short at 10,000 USD/kg.
    # One more day lets them come: 10 t x (10,000 - 50 - 0.1) USD/kg = 99,499,000 USD a year
    inp = build(
        [S("MG", "CN", "magnet", processing_days=4), S("P", "DE", "plant")],
        [{"site_id": "MG", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 50}],
        [{"from_site": "MG", "to_site": "P", "freight_usd_per_kg": 0.1, "transit_days": 35}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10, "max_lead_time_days": 38}],
    )
    r = plan(inp)
    lim = r.explanation.limits
    row = lim[lim["limit"] == "lead time"].iloc[0]
    assert row["value"] == pytest.approx(99_499_000)
    assert "One more day of allowed lead time at P MAG would save 99.5 M USD a year." in r.explanation.findings


def test_the_price_of_no_exposure_is_stated():
    # risk_weight 0.5: CN magnets cost 50 + 0.5 x 0.4 x 200 = 90 USD/kg against JP at 100, so the plant takes
    # 10 t exposed. Allowing none costs 10 t x (100 - 90) USD/kg = 100,000 USD a year more.
    inp = build(
        [S("CN", "CN", "magnet"), S("JP", "JP", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "CN", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 50},
         {"site_id": "JP", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": 0.6, "approval_days": 63,
                   "denial_cost_usd_per_kg": 200}],
        settings={"risk_weight": 0.5},
    )
    r = plan(inp)
    assert ("P's 10 t of MAG are license-exposed (from CN); allowing it none would cost 100 k USD a year more."
            in r.explanation.findings)


def test_findings_follow_their_numbers():
    # the shortage sentence cites the shortage: 40 t of 100 t at first, 10 t of 70 t when demand drops
    def short_line(qty: float) -> str:
        inp = build([S("M", "AU", "mine"), S("P", "US", "plant")],
                    [{"site_id": "M", "product": "X", "capacity_t": 60, "unit_cost_usd_per_kg": 10}],
                    [{"from_site": "M", "to_site": "P"}],
                    [{"site_id": "P", "product": "X", "quantity_t": qty, "shortage_cost_usd_per_kg": 500}])
        return next(f for f in plan(inp).explanation.findings if " is short " in f)

    assert short_line(100).startswith("P is short 40.0 t of its 100.0 t of X (40 %)")
    assert short_line(70).startswith("P is short 10.0 t of its 70.0 t of X (14 %)")
    assert "more supply would cost over 500 USD/kg" in short_line(70)


@pytest.fixture(scope="module")
def reference_workbook(tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("wb") / "plan.xlsx"
    # the v1 case: the findings below are its figures (the bundled default is the 2026 case)
    res = CliRunner().invoke(main, ["solve", str(ROOT / "inputs" / "rare_earth_magnets_v1_2025.xlsx"), "-o", str(out),
                                    "-q"])
    assert res.exit_code == 0, res.output
    return out


def test_charts_are_native_excel_charts_over_their_tables(reference_workbook):
    with zipfile.ZipFile(reference_workbook) as z:
        charts = sorted(n for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml", n))
        xml = [z.read(n).decode() for n in charts]
    assert len(charts) == 6
    titles = " ".join(xml)
    for title in ("Total cost by part", "Total cost by stage", "Made where, by stage", "Supply mix per plant",
                  "Exposed share of demand against the cap", "Utilisation of the busiest sites"):
        assert title in titles
    # the cost chart's values are the cost parts listed on the Charts sheet, starting under its header (row 3)
    assert re.search(r"Charts'?!\$B\$4:\$B\$\d+", xml[0])


def test_cost_by_stage_adds_up_to_the_total(reference_workbook):
    import openpyxl  # noqa: PLC0415

    from planner.api import plan  # noqa: PLC0415
    from planner.input.validate import load  # noqa: PLC0415

    rows = list(openpyxl.load_workbook(reference_workbook)["Charts"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Cost by stage") + 3  # title, blank line, header
    block = []
    for r in rows[start:]:
        if r[0] is None:
            break
        block.append(r)
    labels = [r[0] for r in block]
    assert labels[:4] == ["mine (production)", "refiner (production)", "metal (production)", "magnet (production)"]
    total = plan(load(ROOT / "inputs" / "rare_earth_magnets_v1_2025.xlsx")).summary["total_cost_usd"]
    assert sum(r[1] for r in block) == pytest.approx(total, abs=1.0)


def test_findings_come_first(reference_workbook):
    import openpyxl  # noqa: PLC0415

    wb = openpyxl.load_workbook(reference_workbook)
    assert wb.sheetnames[0] == "Findings"
    lines = [r[0] for r in wb["Findings"].iter_rows(values_only=True) if isinstance(r[0], str)]
    assert next(x for x in lines if x.startswith("1. ")).startswith("1. The plan costs ")


def test_a_binding_exposure_cap_is_valued_by_loosening_it():
    # CN magnets at 50 + 0.4 x 100 = 90 USD/kg (expected licence loss) against JP at 100; P needs 100 t and may
    # take at most 30 % exposed: 30 t CN, 70 t JP. One more point (1 t) of exposure moves 1 t from JP to CN:
    # 1 t x (100 - 90) USD/kg = 10,000 USD a year.
    inp = build(
        [S("CN", "CN", "magnet"), S("JP", "JP", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "CN", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50},
         {"site_id": "JP", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100, "max_exposed_share": 0.3}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": 0.6, "approval_days": 0,
                   "denial_cost_usd_per_kg": 100}],
    )
    r = plan(inp)
    lim = r.explanation.limits
    row = lim[lim["limit"] == "exposure cap"].iloc[0]
    assert row["where"] == "P MAG"
    assert row["value"] == pytest.approx(10_000, abs=1.0)
