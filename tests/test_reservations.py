"""Reserved volumes (issue 13, item 3): a first-stage decision with a fee, each optimum worked out by hand and
every plan re-verified by the independent checker (tests.conftest.solve_checked: check_horizon, or
check_regimes against regimes).

Units: t and USD/kg, so 1 t at 1 USD/kg costs 1,000 USD (1 M = 10^6 USD). Periods are years of 365 days, no
discounting. The cast: U, a cheap Chinese supplier (10 USD/kg) whose exports a regime can ban; Q, an
Australian supplier (15 USD/kg) with little or nothing for sale without a reservation, offering up to 100 t/yr
for a fee; P, a German plant needing 100 t of X a year, whose shortage costs 100 USD/kg.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from planner.errors import InputError
from planner.input.validate import tables_to_inputs
from planner.output.sheets import recommendation_tables
from planner.output.write import write_workbook
from planner.results.check import check_regimes
from tests.conftest import frame, solve_checked

K = 1000.0
M = 1e6
SITE_COLS = ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
             "processing_days", "qualification_periods"]
BAN = [{"scenario": "ban", "sheet": "Controls", "key": "CN/X", "column": "approval_probability",
        "operation": "set", "value": 0}]


def case(fee: float, *, u_cap: float = 1000, q_cap: float = 0, max_t: float = 100, periods=("2027",),  # noqa: ANN001
         first: str = "", last: str = "", regimes=(("normal", 0.7), ("ban", 0.3)), settings: dict | None = None,
         q_candidate: tuple[float, int] | None = None, reservations: list[dict] | None = None):
    """U (CN, ``u_cap`` t at 10), Q (AU, ``q_cap`` t at 15 without a reservation; up to ``max_t`` t/yr reserved
    at ``fee`` USD/kg/yr, from ``first`` to ``last``), P (DE, 100 t/yr at 100 USD/kg short). ``q_candidate``:
    Q must be qualified (fee USD, lead periods)."""
    q = {"site_id": "Q", "name": "Q", "company": "QCo", "country": "AU", "stage": "magnet", "status": "qualified"}
    if q_candidate is not None:
        q.update(status="candidate", qualification_cost_usd=q_candidate[0], qualification_periods=q_candidate[1])
    sites = [
        {"site_id": "U", "name": "U", "company": "UCo", "country": "CN", "stage": "magnet", "status": "qualified"},
        q,
        {"site_id": "P", "name": "P", "company": "Me", "country": "DE", "stage": "plant", "status": "qualified"},
    ]
    tables = {
        "Sites": frame(sites, SITE_COLS),
        "Supply": frame([{"site_id": "U", "product": "X", "capacity_t": u_cap, "unit_cost_usd_per_kg": 10},
                         {"site_id": "Q", "product": "X", "capacity_t": q_cap, "unit_cost_usd_per_kg": 15}],
                        ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame([{"from_site": s, "to_site": "P", "product": "X", "freight_usd_per_kg": 0} for s in ("U", "Q")],
                       ["from_site", "to_site", "product", "freight_usd_per_kg"]),
        "Demand": frame([{"site_id": "P", "product": "X", "quantity_t": 100, "shortage_cost_usd_per_kg": 100}],
                        ["site_id", "product", "quantity_t", "shortage_cost_usd_per_kg"]),
        "Controls": frame([{"country": "CN", "product": "X", "approval_probability": 1, "denial_cost_usd_per_kg": 0,
                            "content_rule": "no"}],
                          ["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                           "content_rule"]),
        "Reservations": frame(reservations if reservations is not None else [
            {"site_id": "Q", "product": "X", "max_t": max_t, "fee_usd_per_kg_yr": fee, "first_period": first,
             "last_period": last}],
            ["site_id", "product", "max_t", "fee_usd_per_kg_yr", "first_period", "last_period"]),
    }
    if periods:
        tables["Periods"] = frame([{"period": t} for t in periods], ["period"])
    if settings:
        tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})
    if regimes:
        tables["Regimes"] = frame([{"scenario": n, "probability": p} for n, p in regimes], ["scenario", "probability"])
        tables["RegimeChanges"] = frame(BAN, ["scenario", "sheet", "key", "column", "operation", "value", "period"])
    return tables_to_inputs(tables)


def solve(inputs):  # noqa: ANN001, ANN201
    return solve_checked(inputs, solver="highs", mip_gap=1e-9)


def reserved(p) -> float:  # noqa: ANN001
    r = p.reservations
    return float(r["reserved_t"].iloc[0])


# --------------------------------------------------------------------------- without regimes


def test_a_reservation_is_taken_for_what_capacity_lacks_and_no_more():
    # U sells 50 t; without more, P is 50 t short: 0.5 M + 5 M = 5.5 M a year. Reserving r t/yr of Q at 20 USD/kg/yr
    # costs 20 k per t in fee and 15 k per t bought, against 100 k per t short: r = 50 (more is fee for nothing).
    # A year: U 0.5 M + Q 50 t x 15 k = 0.75 M + fee 50 x 20 k = 1.0 M = 2.25 M; two years 4.5 M.
    p = solve(case(20, u_cap=50, periods=("2027", "2028"), regimes=()))
    assert p.summary["total_cost_usd"] == pytest.approx(4.5 * M, abs=1.0)
    assert reserved(p) == pytest.approx(50.0, abs=1e-6)
    assert p.cost_breakdown["reservation"] == pytest.approx(2.0 * M, abs=1.0)
    r = p.reservations
    assert r["taken_t"].tolist() == pytest.approx([50.0, 50.0], abs=1e-6)
    assert p.summary["shortage_t"] == pytest.approx(0.0, abs=1e-6)
    assert "reserve" in set(p.roadmap["action"])


def test_a_reservation_adds_to_the_capacity_for_sale_without_one():
    # Q sells 30 t without a reservation: only 20 t/yr need reserving. A year: U 0.5 M + Q 50 t x 15 k = 0.75 M
    # + fee 20 t x 20 k = 0.4 M = 1.65 M.
    p = solve(case(20, u_cap=50, q_cap=30, regimes=()))
    assert p.summary["total_cost_usd"] == pytest.approx(1.65 * M, abs=1.0)
    assert reserved(p) == pytest.approx(20.0, abs=1e-6)
    prod = p.production.set_index("site_id")
    assert float(prod.at["Q", "capacity_t"]) == pytest.approx(50.0)  # 30 for sale + 20 reserved, not + 100


def test_a_reservation_runs_only_in_its_periods():
    # Reservable in 2028 only: 2027 is 50 t short (5.5 M), 2028 costs 2.25 M as above.
    p = solve(case(20, u_cap=50, periods=("2027", "2028"), first="2028", regimes=()))
    assert p.summary["total_cost_usd"] == pytest.approx(7.75 * M, abs=1.0)
    assert p.reservations["period"].tolist() == ["2028"]


def test_a_reservation_at_a_candidate_is_usable_only_once_it_is_qualified():
    # Q must be qualified (0.5 M, one period): nothing from Q in 2027 whatever is reserved. The reservation runs
    # both years, so its fee is paid in both: 2027 5.5 M (50 t short) + fee 1.0 M; 2028 0.5 + 0.75 + 1.0 M;
    # qualification 0.5 M: 9.25 M, against 11 M with neither.
    p = solve(case(20, u_cap=50, periods=("2027", "2028"), regimes=(), q_candidate=(0.5 * M, 1)))
    assert p.summary["total_cost_usd"] == pytest.approx(9.25 * M, abs=1.0)
    r = p.reservations.set_index("period")
    assert float(r.at["2027", "taken_t"]) == pytest.approx(0.0, abs=1e-6)
    assert float(r.at["2028", "taken_t"]) == pytest.approx(50.0, abs=1e-6)
    assert p.qualifications["start_period"].tolist() == ["2027"]


# --------------------------------------------------------------------------- against regimes


@pytest.mark.parametrize(("fee", "volume"), [(25.0, 100.0), (26.0, 0.0)])
def test_a_reservation_against_a_ban_is_worth_it_exactly_below_the_arithmetic(fee, volume):  # noqa: ANN001
    # Normal (0.7): U at 10 for 1 M. Ban (0.3): without Q, 100 t short = 10 M; with 100 t reserved, 1.5 M. The fee
    # (100 t x fee k) is paid in both. Expected: 3.7 M without; 1.15 M + 0.1 M x fee with: worth it below
    # fee = 25.5 USD/kg/yr. At 25: 3.65 M (normal 3.5 M, ban 4.0 M); at 26: 3.7 M, nothing reserved.
    p = solve(case(fee))
    ans = p.regimes
    assert reserved(p) == pytest.approx(volume, abs=1e-6)
    if volume:
        assert ans.expected == pytest.approx(3.65 * M, abs=1.0)
        assert list(ans.costs) == pytest.approx([3.5 * M, 4.0 * M], abs=1.0)
        # the deterministic plan (no ban in sight) reserves nothing: 3.7 M in expectation; the hedge saves 0.05 M
        assert ans.vss == pytest.approx(0.05 * M, abs=1.0)
        # with perfect information: normal 1 M, ban 1.5 M + 2.5 M fee = 4 M: 1.9 M; EVPI 1.75 M
        assert ans.evpi == pytest.approx(1.75 * M, abs=1.0)
        normal = ans.plans[0].reservations
        assert float(normal["taken_t"].sum()) == pytest.approx(0.0, abs=1e-6)  # paid, idle where no ban comes
        h = p.hedges
        assert h["kind"].tolist() == ["reservation"]
        assert h["protects_against"].tolist() == ["ban"]
    else:
        assert ans.expected == pytest.approx(3.7 * M, abs=1.0)
        assert ans.vss == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize(("lam", "volume"), [(0.08, 0.0), (0.09, 100.0)])
def test_risk_aversion_buys_the_reservation_above_the_arithmetic_threshold(lam, volume):  # noqa: ANN001
    # fee 30: expected 3.7 M without, 1.15 + 3.0 = 4.15 M with (+0.45 M); CVaR at 0.9 is the ban's cost (its
    # probability 0.3 covers the worst 10 %): 10 M without, 1.5 + 3.0 = 4.5 M with (-5.5 M). Worth it when
    # lambda x 5.5 > 0.45: lambda > 0.0818.
    p = solve(case(30, settings={"risk_aversion": lam, "cvar_alpha": 0.9}))
    assert reserved(p) == pytest.approx(volume, abs=1e-6)
    assert p.regimes.cvar == pytest.approx((4.5 if volume else 10.0) * M, abs=1.0)


def test_the_checker_catches_a_reservation_that_differs_between_regimes():
    inputs = case(25)
    p = solve(inputs)
    bad = dataclasses.replace(p)
    plans = list(p.regimes.plans)
    r = plans[1].reservations.copy()
    r["reserved_t"] = 60.0
    plans[1] = dataclasses.replace(plans[1], reservations=r)
    bad.regimes = dataclasses.replace(p.regimes, plans=plans)
    failures = "\n".join(check_regimes(inputs, bad).failures)
    assert "Reservations row 2 reserves 60.000000 t/yr in regime ban" in failures
    assert "reservation" in failures  # and the fee of 60 t no longer adds up in the ban regime's cost


def test_the_checker_catches_production_above_capacity_plus_reserved():
    inputs = case(20, u_cap=50, q_cap=30, regimes=())
    p = solve(inputs)
    r = p.reservations.copy()
    r["reserved_t"] = 10.0  # Q makes 50 t: 30 for sale + 20 reserved; with 10 reserved it is above capacity
    bad = dataclasses.replace(p, reservations=r)
    from planner.results.check import check_horizon  # noqa: PLC0415

    failures = "\n".join(check_horizon(inputs, bad).failures)
    assert "Q makes 50.000000 t of X, above its capacity 40 t" in failures


# --------------------------------------------------------------------------- input


def test_reservations_need_a_periods_sheet():
    with pytest.raises(InputError) as e:
        case(20, periods=(), regimes=())
    assert any(i.sheet == "Reservations" and i.row == 2 and "Periods sheet" in i.message for i in e.value.issues)


@pytest.mark.parametrize(("row", "column", "message"), [
    ({"site_id": "Q", "product": "Y", "max_t": 10, "fee_usd_per_kg_yr": 1}, "site_id", 'has no Supply row for "Y"'),
    ({"site_id": "Q", "product": "X", "max_t": 10, "fee_usd_per_kg_yr": 1, "first_period": "2029"}, "first_period",
     'unknown period "2029"'),
    ({"site_id": "Q", "product": "X", "max_t": 10, "fee_usd_per_kg_yr": 1, "first_period": "2028",
      "last_period": "2027"}, "last_period", 'last_period "2027" is before first_period "2028"'),
    ({"site_id": "Q", "product": "X", "max_t": -1, "fee_usd_per_kg_yr": 1}, "max_t", ""),
    ({"site_id": "Q", "product": "X", "max_t": 10}, "fee_usd_per_kg_yr", ""),
])
def test_a_bad_reservation_is_refused_naming_its_cell(row, column, message):  # noqa: ANN001
    with pytest.raises(InputError) as e:
        case(20, periods=("2027", "2028"), regimes=(), reservations=[row])
    hits = [i for i in e.value.issues if i.sheet == "Reservations" and i.row == 2 and i.column == column]
    assert hits and message in hits[0].message


def test_a_regime_cannot_change_a_reservation():
    inputs = case(25)
    changes = pd.concat([inputs.regime_changes, frame([{
        "scenario": "ban", "sheet": "Reservations", "key": "Q/X", "column": "max_t", "operation": "set",
        "value": 0}], list(inputs.regime_changes.columns.drop("_row")))], ignore_index=True)
    tables = {"Regimes": inputs.regimes.drop(columns="_row"), "RegimeChanges": changes.drop(columns="_row")}
    with pytest.raises(InputError) as e:
        tables_to_inputs({**_tables(inputs), **tables})
    assert any(i.sheet == "RegimeChanges" and i.column == "sheet" and "no scenario or regime can change it"
               in i.message for i in e.value.issues)


def _tables(inputs) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    out = {name: getattr(inputs, attr).drop(columns="_row") for name, attr in (
        ("Sites", "sites"), ("Supply", "supply"), ("Lanes", "lanes"), ("Demand", "demand"), ("Controls", "controls"),
        ("Reservations", "reservations"))}
    out["Periods"] = inputs.periods
    return {k: (v.drop(columns="period") if "period" in v and k != "Periods" else v) for k, v in out.items()}


def test_the_workbook_shows_the_reservations(tmp_path):  # noqa: ANN001
    from openpyxl import load_workbook  # noqa: PLC0415

    inputs = case(25)
    p = solve(inputs)
    out = tmp_path / "plan.xlsx"
    write_workbook(out, recommendation_tables(p))
    wb = load_workbook(out, read_only=True)
    assert "Reservations" in wb.sheetnames
    text = [str(c) for row in wb["Reservations"].iter_rows(values_only=True) for c in row if c is not None]
    assert "Q" in text and 100.0 in [float(c) for c in text if c.replace(".", "", 1).isdigit()]


def test_the_regimes_sheet_shows_the_cost_distribution(tmp_path):  # noqa: ANN001
    from openpyxl import load_workbook  # noqa: PLC0415

    # fee 25: normal costs 3.5 M (probability 0.7), ban 4.0 M (0.3): cost <= 3.5 M with 70 %, <= 4.0 M with 100 %
    p = solve(case(25))
    out = tmp_path / "plan.xlsx"
    write_workbook(out, recommendation_tables(p))
    rows = [(*r, None, None, None, None) for r in load_workbook(out, read_only=True)["Regimes"].iter_rows(
        values_only=True)]
    head = next(i for i, r in enumerate(rows) if r[0] == "Cost (USD)" and r[1] == "Probability cost <= this")
    assert [tuple(r[:4]) for r in rows[head + 1:head + 3]] == [(3500000, 0.7, 0.7, "normal"), (4000000, 1, 0.3, "ban")]
