"""Licence rules as the regime writes them (issue 13, item 1; contract v2 "licence rules by route").

``Controls`` rows may name a ``destination`` (an importing country), an ``exporter_company`` (a general
licence held by one company's customers) and an ``end_use`` (``civil``/``military``, matched against
``Demand.end_use`` of the plant the material ends up at). The most specific applicable row governs: a named
exporter company, then a destination country, then an end use, then a named product; then the later row.
A governing row with ``approval_probability`` 0 is a ban: nothing crosses on that route.

Every case is worked by hand in its comments and solved under HiGHS and CBC (the plan re-verified by the
independent checker), and by the oracle (``tests/oracle.py``), which must reach the same optimum.

Units: quantities in t, prices in USD/kg, so a tonne at 1 USD/kg costs 1,000 USD.
"""

from __future__ import annotations

import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.errors import InputError
from planner.input.data import Inputs
from planner.input.validate import tables_to_inputs
from planner.optimise.network import build_network
from planner.results.check import check_plan
from tests.oracle import solve_oracle

K = 1000.0
SOLVERS = ["highs", "cbc"]

COLUMNS = {
    "Sites": ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
              "processing_days"],
    "Supply": ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"],
    "Lanes": ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct",
              "transit_days"],
    # in the schema's order (a blank period column included), so that every cell has its template address
    "Demand": ["site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share",
               "shortage_cost_usd_per_kg", "period", "end_use"],
    "Recipes": ["product", "input", "input_t_per_t", "site_id"],
    "CoProducts": ["product", "coproduct", "coproduct_t_per_t", "site_id"],
    "Controls": ["country", "product", "approval_probability", "approval_days", "denial_cost_usd_per_kg",
                 "content_rule", "note", "period", "destination", "exporter_company", "end_use"],
}


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    extra = [c for r in rows for c in r if c not in columns]
    cols = [*columns, *dict.fromkeys(extra)]
    return pd.DataFrame([{c: r.get(c, "") for c in cols} for r in rows], columns=cols)


def build(sites: list[dict], supply: list[dict], lanes: list[dict], demand: list[dict], recipes: list[dict] = (),
          coproducts: list[dict] = (), controls: list[dict] = (), settings: dict | None = None) -> Inputs:
    """Inputs from lists of row dicts through the planner's validation, with the licence-route columns
    (``Controls.destination``, ``exporter_company``, ``end_use``; ``Demand.end_use``)."""
    tables = {"Sites": _frame(sites, COLUMNS["Sites"]), "Supply": _frame(supply, COLUMNS["Supply"]),
              "Lanes": _frame(lanes, COLUMNS["Lanes"]), "Demand": _frame(demand, COLUMNS["Demand"])}
    for name, rows in (("Recipes", recipes), ("CoProducts", coproducts), ("Controls", controls)):
        if rows:
            tables[name] = _frame(list(rows), COLUMNS[name])
    if settings:
        tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})
    return tables_to_inputs(tables)


def S(site_id: str, country: str, stage: str, **kw: object) -> dict:  # noqa: N802
    return {"site_id": site_id, "country": country, "stage": stage, **kw}


def solve(inputs: Inputs, solver: str):  # noqa: ANN201
    """The planner's plan at a tight gap, re-verified by the independent checker."""
    result = plan(inputs, options_from(inputs, solver=solver, mip_gap=1e-9))
    assert result.status == "optimal", result.status
    check = check_plan(inputs, result)
    assert check.ok, "\n".join(check.failures)
    assert result.summary["total_cost_usd"] == pytest.approx(check.recomputed["total"], abs=0.05)
    return result


def shipped(result, frm: str, to: str) -> float:  # noqa: ANN001
    f = result.flows
    return float(f.loc[(f["from_site"] == frm) & (f["to_site"] == to), "tonnes"].sum())


def lead(result, site: str) -> float:  # noqa: ANN001
    p = result.plants
    return float(p.loc[p["site_id"] == site, "max_lead_time_days"].iloc[0])


# --------------------------------------------------------------------------- the cases


def case_destination(with_japan_row: bool = True, spelling: str = "country:JP") -> tuple[Inputs, float]:
    # China licenses magnets at 0.9 (denial 100 USD/kg: 10 USD/kg expected loss) to anywhere, at 0.5 into Japan
    # (50 USD/kg). MCN makes magnets at 10 USD/kg, MAU (Australia, uncontrolled) at 40; PJ (JP) and PD (DE)
    # need 100 t each.
    #   PD: MCN 10 + 10 = 20 USD/kg (MAU 40)                       -> 100 t x 20 = 2,000,000
    #   PJ: MCN 10 + 50 = 60 USD/kg, MAU 40: from Australia        -> 100 t x 40 = 4,000,000
    #   total 6,000,000 (without the Japan row: both from China, 4,000,000)
    controls = [{"country": "CN", "product": "MAG", "approval_probability": 0.9, "denial_cost_usd_per_kg": 100}]
    if with_japan_row:
        controls.append({"country": "CN", "product": "MAG", "approval_probability": 0.5,
                         "denial_cost_usd_per_kg": 100, "destination": spelling})
    inp = build(
        [S("MCN", "CN", "magnet"), S("MAU", "AU", "magnet"), S("PJ", "JP", "plant"), S("PD", "DE", "plant")],
        [{"site_id": "MCN", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 10},
         {"site_id": "MAU", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 40}],
        [{"from_site": "stage:magnet", "to_site": "stage:plant"}],
        [{"site_id": "PJ", "product": "MAG", "quantity_t": 100}, {"site_id": "PD", "product": "MAG", "quantity_t": 100}],
        controls=controls,
    )
    return inp, (100 * 20 * K + 100 * 40 * K) if with_japan_row else 2 * 100 * 20 * K


def case_exporter_company() -> tuple[Inputs, float]:
    # China's individual licence for magnets: 0.6, 63 days (denial 100: 40 USD/kg expected loss); JL Mag's
    # customers hold a general licence: 0.95, 14 days (5 USD/kg). MJL (JL Mag) makes 50 t at 20 USD/kg, MOT
    # (another Chinese maker) any amount at 10. P needs 50 t within 30 days, Q 50 t with no limit.
    #   P: only JL Mag's magnets arrive in time (14 <= 30 < 63)   -> 50 t x (20 + 5) = 1,250,000
    #   Q: MOT 10 + 40 = 50 USD/kg (JL Mag's 25 is sold out)      -> 50 t x 50 = 2,500,000
    #   total 3,750,000; P's magnets take 14 days, Q's 63
    inp = build(
        [S("MJL", "CN", "magnet", company="JL Mag"), S("MOT", "CN", "magnet", company="Other Mag"),
         S("P", "DE", "plant"), S("Q", "DE", "plant")],
        [{"site_id": "MJL", "product": "MAG", "capacity_t": 50, "unit_cost_usd_per_kg": 20},
         {"site_id": "MOT", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "stage:magnet", "to_site": "stage:plant"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 50, "max_lead_time_days": 30},
         {"site_id": "Q", "product": "MAG", "quantity_t": 50}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": 0.6, "approval_days": 63,
                   "denial_cost_usd_per_kg": 100},
                  {"country": "CN", "product": "MAG", "approval_probability": 0.95, "approval_days": 14,
                   "denial_cost_usd_per_kg": 100, "exporter_company": "JL Mag"}],
    )
    return inp, 50 * 25 * K + 50 * 50 * K


def case_end_use(military: str = "military", australia: bool = True) -> tuple[Inputs, float]:
    # China licenses Dy at 0.9 (denial 100: 10 USD/kg) and denies it for military end use (approval 0: a ban).
    # MJ (JP) makes magnets at 50 USD/kg from 0.05 t Dy per t, for PC (civil) and PM (military), 100 t each.
    # Chinese Dy costs 300 USD/kg, Australian 500. The Dy in PM's magnets must not be Chinese, although both
    # plants' magnets are made at MJ from one buffer of Dy.
    #   magnets 200 t x 50                         = 10,000,000
    #   PC's Dy: 5 t Chinese x (300 + 10)          =  1,550,000
    #   PM's Dy: 5 t Australian x 500              =  2,500,000   -> total 14,050,000
    # Without Australian Dy PM goes short (1,000 USD/kg): 5,000,000 + 1,550,000 + 100 t x 1,000 K = 106,550,000.
    # With PM civil too, the military row applies to nothing: 10,000,000 + 10 t x 310 K = 13,100,000.
    sites = [S("DYCN", "CN", "refiner"), S("MJ", "JP", "magnet"), S("PC", "US", "plant"), S("PM", "US", "plant")]
    supply = [{"site_id": "DYCN", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
              {"site_id": "MJ", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50}]
    if australia:
        sites.append(S("DYAU", "AU", "refiner"))
        supply.append({"site_id": "DYAU", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 500})
    inp = build(
        sites, supply,
        [{"from_site": "stage:refiner", "to_site": "MJ"}, {"from_site": "MJ", "to_site": "stage:plant"}],
        [{"site_id": "PC", "product": "MAG", "quantity_t": 100, "end_use": "civil"},
         {"site_id": "PM", "product": "MAG", "quantity_t": 100, "end_use": military,
          "shortage_cost_usd_per_kg": 1000}],
        recipes=[{"product": "MAG", "input": "DY", "input_t_per_t": 0.05}],
        controls=[{"country": "CN", "product": "DY", "approval_probability": 0.9, "denial_cost_usd_per_kg": 100},
                  {"country": "CN", "product": "DY", "approval_probability": 0, "denial_cost_usd_per_kg": 100,
                   "end_use": "military", "note": "Ann. 18/2025: no military end use"}],
    )
    if military != "military":
        return inp, 200 * 50 * K + 10 * 310 * K
    if not australia:
        return inp, 100 * 50 * K + 5 * 310 * K + 100 * 1000 * K
    return inp, 200 * 50 * K + 5 * 310 * K + 5 * 500 * K


def case_ban(australia_t: float = 4) -> tuple[Inputs, float]:
    # China bans Dy exports (approval 0; denial cost 100 USD/kg). P (DE) needs 10 t of Dy, shortage 1,000 USD/kg.
    # DCN would sell at 100 USD/kg; DAU (AU) sells at 400, up to ``australia_t``.
    #   4 t: 4 t x 400 K = 1,600,000 + 6 t short x 1,000 K = 6,000,000  -> 7,600,000
    #   ample Australian Dy: 10 t x 400 K                                 -> 4,000,000
    # Were the ban an expected loss of denial_cost x 1 = 100 USD/kg, China's Dy at 200 USD/kg would win:
    # 10 t x 200 K = 2,000,000. A ban lets nothing cross.
    inp = build(
        [S("DCN", "CN", "metal"), S("DAU", "AU", "metal"), S("P", "DE", "plant")],
        [{"site_id": "DCN", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 100},
         {"site_id": "DAU", "product": "DY", "capacity_t": australia_t, "unit_cost_usd_per_kg": 400}],
        [{"from_site": "*", "to_site": "P"}],
        [{"site_id": "P", "product": "DY", "quantity_t": 10, "shortage_cost_usd_per_kg": 1000}],
        controls=[{"country": "CN", "product": "DY", "approval_probability": 0, "denial_cost_usd_per_kg": 100}],
    )
    short = max(10 - australia_t, 0)
    return inp, min(australia_t, 10) * 400 * K + short * 1000 * K


# Rows that all apply to JL Mag's magnets shipped from China to a Japanese military plant (denial 100 USD/kg,
# so approval a costs (1 - a) x 100 USD/kg), each more specific than the one before, and rows that do not apply.
ROW_A = {"product": "MAG", "approval_probability": 0.9}                                  # 10 USD/kg
ROW_B = {"product": "*", "end_use": "military", "approval_probability": 0.8}             # 20: end use > product
ROW_C = {"product": "*", "destination": "JP", "approval_probability": 0.7}               # 30: destination > end use
ROW_D = {"product": "*", "exporter_company": "JL Mag", "approval_probability": 0.6}      # 40: exporter > destination
ROW_E = {"product": "MAG", "exporter_company": "JL Mag", "approval_probability": 0.5}    # 50: then a named product
NOT_APPLYING = [{"product": "*", "exporter_company": "Other Mag", "approval_probability": 0.1},
                {"product": "MAG", "destination": "DE", "approval_probability": 0.1},
                {"product": "MAG", "end_use": "civil", "approval_probability": 0.1},
                {"product": "DY", "exporter_company": "JL Mag", "approval_probability": 0.1}]


def case_specificity(rows: list[dict], reverse: bool = False) -> Inputs:
    # MJL (JL Mag, CN) makes magnets at 10 USD/kg for P (JP, military), 100 t: cost 100 t x (10 + loss) K.
    controls = [{"country": "CN", "denial_cost_usd_per_kg": 100, **r} for r in [*rows, *NOT_APPLYING]]
    return build(
        [S("MJL", "CN", "magnet", company="JL Mag"), S("MOT", "CN", "magnet", company="Other Mag"),
         S("P", "JP", "plant")],
        [{"site_id": "MJL", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "MJL", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100, "end_use": "military"}],
        controls=controls[::-1] if reverse else controls,
    )


SPECIFICITY = {  # rows given -> the governing row's expected loss, USD/kg
    "product": ([ROW_A], 10),
    "end_use_beats_product": ([ROW_A, ROW_B], 20),
    "destination_beats_end_use": ([ROW_A, ROW_B, ROW_C], 30),
    "exporter_beats_destination": ([ROW_A, ROW_B, ROW_C, ROW_D], 40),
    "named_product_among_exporter_rows": ([ROW_A, ROW_B, ROW_C, ROW_D, ROW_E], 50),
}


def case_tie(first: float, later: float, spellings: tuple[str, str] = ("JP", "country:jp")) -> tuple[Inputs, float]:
    # Two rows of equal specificity (China, magnets, into Japan: the destination in two spellings). The later row
    # governs: MCN's magnets at 10 USD/kg + (1 - later) x 100 USD/kg, for 100 t.
    inp = build(
        [S("MCN", "CN", "magnet"), S("P", "JP", "plant")],
        [{"site_id": "MCN", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "MCN", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": first, "denial_cost_usd_per_kg": 100,
                   "destination": spellings[0]},
                  {"country": "CN", "product": "MAG", "approval_probability": later, "denial_cost_usd_per_kg": 100,
                   "destination": spellings[1]}],
    )
    return inp, 100 * (10 + (1 - later) * 100) * K


HAND_CASES = {
    "destination": case_destination,
    "destination_any": lambda: case_destination(with_japan_row=False),
    "destination_plain_code": lambda: case_destination(spelling="jp"),
    "exporter_company": case_exporter_company,
    "end_use": case_end_use,
    "end_use_short": lambda: case_end_use(australia=False),
    "end_use_all_civil": lambda: case_end_use(military="civil"),
    "ban_short": case_ban,
    "ban_route_around": lambda: case_ban(1000),
    "tie_later_row": lambda: case_tie(0.9, 0.5),
    "tie_later_row_reversed": lambda: case_tie(0.5, 0.9),
    "tie_star_and_blank": lambda: case_tie(0.9, 0.6, ("*", "")),
    **{f"specificity_{k}": (lambda rows=rows, loss=loss: (case_specificity(rows), 100 * (10 + loss) * K))
       for k, (rows, loss) in SPECIFICITY.items()},
}


# --------------------------------------------------------------------------- planner


@pytest.mark.parametrize("solver", SOLVERS)
def test_destination_rule_makes_japan_dearer_not_germany(solver):
    inp, expected = case_destination()
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 6,000,000
    assert shipped(r, "MCN", "PD") == pytest.approx(100)
    assert shipped(r, "MAU", "PJ") == pytest.approx(100)
    assert r.cost_breakdown["license_risk"] == pytest.approx(100 * 10 * K)  # only the German 100 t, at 10 USD/kg
    without, expected_without = case_destination(with_japan_row=False)
    assert solve(without, solver).summary["total_cost_usd"] == pytest.approx(expected_without, rel=1e-9)
    plain, _ = case_destination(spelling="jp")  # JP, jp, country:JP, country:jp are one destination
    assert solve(plain, solver).summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_exporter_company_general_licence(solver):
    inp, expected = case_exporter_company()
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 3,750,000
    assert shipped(r, "MJL", "P") == pytest.approx(50)
    assert shipped(r, "MOT", "Q") == pytest.approx(50)
    assert lead(r, "P") == 14
    assert lead(r, "Q") == 63


@pytest.mark.parametrize("solver", SOLVERS)
def test_military_plant_gets_no_chinese_dy(solver):
    inp, expected = case_end_use()
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 14,050,000
    # one magnet maker serves both plants: exactly the civil plant's Dy is Chinese
    assert shipped(r, "DYCN", "MJ") == pytest.approx(5)
    assert shipped(r, "DYAU", "MJ") == pytest.approx(5)
    assert shipped(r, "MJ", "PM") == pytest.approx(100)
    assert shipped(r, "MJ", "PC") == pytest.approx(100)


@pytest.mark.parametrize("solver", SOLVERS)
def test_military_plant_goes_short_without_other_dy(solver):
    inp, expected = case_end_use(australia=False)
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 106,550,000
    assert shipped(r, "MJ", "PM") == pytest.approx(0, abs=1e-6)
    assert shipped(r, "MJ", "PC") == pytest.approx(100)


@pytest.mark.parametrize("solver", SOLVERS)
def test_military_row_idle_when_every_plant_is_civil(solver):
    inp, expected = case_end_use(military="civil")
    assert solve(inp, solver).summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 13,100,000


@pytest.mark.parametrize("solver", SOLVERS)
def test_ban_goes_short(solver):
    inp, expected = case_ban()
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 7,600,000
    assert r.cost_breakdown["shortage"] == pytest.approx(6 * 1000 * K)
    assert shipped(r, "DCN", "P") == 0
    # no ship column exists on the banned route at all
    net = build_network(inp)
    lanes = net.lanes.iloc[net.ships["lane"].to_numpy()]
    assert "DCN" not in set(lanes["from_site"])
    assert "DCN" in set(net.lanes["from_site"])  # the lane itself is there


@pytest.mark.parametrize("solver", SOLVERS)
def test_ban_routes_around(solver):
    inp, expected = case_ban(1000)
    r = solve(inp, solver)
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 4,000,000
    assert shipped(r, "DAU", "P") == pytest.approx(10)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", sorted(SPECIFICITY))
@pytest.mark.parametrize("reverse", [False, True])
def test_most_specific_row_governs(name, reverse, solver):
    rows, loss = SPECIFICITY[name]
    r = solve(case_specificity(rows, reverse), solver)
    assert r.summary["total_cost_usd"] == pytest.approx(100 * (10 + loss) * K, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_later_row_breaks_ties(solver):
    inp, expected = case_tie(0.9, 0.5)
    assert solve(inp, solver).summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 6,000,000
    assert [w.message for w in inp.warnings if w.sheet == "Controls"] == [
        "repeats Controls!A2; the later row governs"]
    inp, expected = case_tie(0.5, 0.9)
    assert solve(inp, solver).summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 2,000,000
    inp, expected = case_tie(0.9, 0.6, ("*", ""))  # * and blank: any destination, both
    assert solve(inp, solver).summary["total_cost_usd"] == pytest.approx(expected, rel=1e-9)  # 5,000,000


# --------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_oracle_reaches_every_hand_worked_optimum(name):
    inp, expected = HAND_CASES[name]()
    assert solve_oracle(inp).total_cost_usd == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- validation


def _problems(**tables: list[dict]) -> list[str]:
    base = {
        "sites": [S("M", "CN", "magnet", company="JL Mag"), S("P", "DE", "plant")],
        "supply": [{"site_id": "M", "product": "MAG", "capacity_t": 10, "unit_cost_usd_per_kg": 1}],
        "lanes": [{"from_site": "M", "to_site": "P"}],
        "demand": [{"site_id": "P", "product": "MAG", "quantity_t": 1}],
    }
    base.update(tables)
    with pytest.raises(InputError) as err:
        build(**base)
    return [str(i) for i in err.value.issues]


def test_unknown_end_use_is_located():
    assert _problems(demand=[{"site_id": "P", "product": "MAG", "quantity_t": 1, "end_use": "militray"}]) == [
        'Demand!H2 (end_use): expected one of civil, military, got "militray" (did you mean "military"?)']
    assert _problems(controls=[{"country": "CN", "product": "MAG", "end_use": "defence"}]) == [
        'Controls!K2 (end_use): expected one of civil, military, got "defence"']


def test_destination_naming_no_country_is_located():
    assert _problems(controls=[{"country": "CN", "product": "MAG", "destination": "country:UK"}]) == [
        'Controls!I2 (destination): "UK" is not an ISO 3166-1 alpha-2 country code (did you mean "GB"?)']
    assert _problems(controls=[{"country": "CN", "product": "MAG", "destination": "stage:plant"}]) == [
        'Controls!I2 (destination): expected *, a country code or country:XX, got "stage:plant"']


def test_unknown_exporter_company_is_located():
    assert _problems(controls=[{"country": "CN", "product": "MAG", "exporter_company": "JL Mags"}]) == [
        'Controls!J2 (exporter_company): unknown company "JL Mags" (not a company in Sites) (did you mean "JL Mag"?)']


def test_content_rule_limited_to_a_route_is_refused():
    assert _problems(controls=[{"country": "CN", "product": "MAG", "content_rule": "yes", "destination": "DE"}]) == [
        "Controls!F2 (content_rule): a content rule holds for every route: leave destination blank on this row, or "
        "give the route's own parameters on a row without the content rule"]


# --------------------------------------------------------------------------- over periods


@pytest.mark.parametrize("solver", SOLVERS)
def test_destination_row_for_one_period(solver):
    # The Japan row of case_destination holds from 2027 only (contract v2: a row for one period replaces the blank
    # row with the same key there; here there is none, so in 2026 the row for every destination governs):
    #   2026: both plants from China, 100 t x 20 x 2 = 4,000,000;  2027: 6,000,000 as in case_destination
    #   total 10,000,000 (no discounting)
    from planner.api import plan_horizon
    from planner.results.check import check_horizon

    inp, _ = case_destination()
    tables = {"Sites": inp.sites.drop(columns="_row"), "Supply": inp.supply.drop(columns="_row"),
              "Lanes": inp.lanes.drop(columns="_row"), "Demand": inp.demand.drop(columns="_row"),
              "Controls": inp.controls.drop(columns="_row").assign(
                  period=["2027" if d else "" for d in inp.controls["destination"]]),
              "Periods": pd.DataFrame({"period": ["2026", "2027"], "days": [365, 365]})}
    v2 = tables_to_inputs(tables)
    result = plan_horizon(v2, options_from(v2, solver=solver, mip_gap=1e-9))
    assert result.summary["total_cost_usd"] == pytest.approx(4_000_000 + 6_000_000, rel=1e-9)
    check = check_horizon(v2, result)
    assert check.ok, "\n".join(check.failures)
