"""The planner against an independent formulation of the contract (``tests/oracle.py``, issue 10).

Two kinds of test:

* hand-worked cases, one or more per fault of issue 10, each with its optimal
  cost worked out in the comments; the planner must reach it (under HiGHS and
  CBC) and so must the oracle;
* hypothesis property tests on random small multi-tier instances: the
  planner's optimal total must equal the oracle's.

Issue 10's faults, and how the tests here follow them:

1. pruning drops material that still counts: minimum volumes filled with a
   by-product nobody demands or with output of slow inputs; country shares
   diluted by shipments that can never be used at a plant in time;
2. content-rule parameters taken over the whole bill of materials instead of
   the controlled material a shipment actually contains;
3. repeated Lanes rows (already fixed: the later row governs, with a warning).

The hand-worked tests of faults 1 and 2 failed before the fix (commit f22a0cb), and the
property tests draw fault-1 and fault-2 features (minimum volumes, country shares below 1,
content rules with different parameters per product) for the faults listed in ``FIXED_FAULTS``,
now all of them.

The random instances also draw licence rules by route (issue 13, item 1: ``_licence_routes``, from a
generator of their own so the rest of each instance is unchanged): plants' end uses, and Controls rows
limited to a destination, an exporter company or an end use, bans and repeated rows among them; their
hand-worked cases are in ``tests/test_licence_routes.py``.

Units: quantities in t, prices in USD/kg, so a tonne at 1 USD/kg costs 1,000 USD.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from planner.api import plan
from planner.errors import InfeasibleError
from planner.optimise.solve import options_from
from tests.conftest import build
from tests.oracle import solve_oracle
from tests.test_licence_routes import build as build_routes

K = 1000.0  # USD per tonne for each USD per kg

# Faults of issue 10 that the planner has been fixed for. The property tests
# generate an instance feature only when the fault it exercises is listed here:
#   1 -> minimum volumes on sites (with unwanted by-products and slow mines to
#        fill them) and max_country_share below 1 (with slow sites whose output
#        can only be shipped to where it is never in time for a plant);
#   2 -> content-rule Controls rows of one country with different parameters
#        per product (with site-specific recipes mixing Dy and Tb).
# To switch a fault's features on after fixing it: add its number, e.g.
# FIXED_FAULTS = {1, 2}, then run `pytest tests/test_oracle.py -q` and
# `pytest tests/test_oracle.py -q -m slow`. Fault 3 (repeated Lanes rows) is
# already fixed, so repeated rows are always generated.
FIXED_FAULTS: set[int] = {1, 2}

SOLVERS = ["highs", "cbc"]


def S(site_id: str, country: str, stage: str, **kw: object) -> dict:  # noqa: N802
    return {"site_id": site_id, "country": country, "stage": stage, **kw}


def planner_total(inputs, solver: str | None = None) -> float | None:  # noqa: ANN001
    """The planner's optimal total, solved to a tight gap (the default 1e-4 is looser than the comparison);
    None when shortage is not allowed and demand cannot be met."""
    try:
        result = plan(inputs, options_from(inputs, solver=solver, mip_gap=1e-9), detail=False)
    except InfeasibleError:
        return None
    assert result.status == "optimal", result.status
    return float(result.summary["total_cost_usd"])


def oracle_total(inputs) -> float | None:  # noqa: ANN001
    res = solve_oracle(inputs)
    return res.total_cost_usd


# --------------------------------------------------------------------------- hand-worked cases


def case_min_volume_unwanted_coproduct():
    # R (min volume 100 t on its TOTAL output) makes OX from 2 t ORE at 10 USD/kg; LA comes out jointly,
    # at most 1 t per t OX, at 0.5 USD/kg, and nobody wants it. The plant needs 30 t OX.
    # Cheapest way to reach 100 t at R: x t OX + y t LA >= 100 with y <= x -> x = 50 (30 shipped, 20 surplus),
    # y = 50 LA discarded:
    #   ore 100 t x 1 = 100,000; OX 50 t x 10 = 500,000; LA 50 t x 0.5 = 25,000  -> 625,000
    # (Filling with OX alone, 100 t: ore 200,000 + OX 1,000,000 = 1,200,000.)
    inp = build(
        [S("M", "AU", "mine"), S("R", "MY", "refiner", min_volume_t=100), S("P", "DE", "plant")],
        [{"site_id": "M", "product": "ORE", "capacity_t": 1000, "unit_cost_usd_per_kg": 1},
         {"site_id": "R", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 10},
         {"site_id": "R", "product": "LA", "capacity_t": 1000, "unit_cost_usd_per_kg": 0.5}],
        [{"from_site": "M", "to_site": "R"}, {"from_site": "R", "to_site": "P"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 30}],
        recipes=[{"product": "OX", "input": "ORE", "input_t_per_t": 2}],
        coproducts=[{"product": "OX", "coproduct": "LA", "coproduct_t_per_t": 1.0}],
    )
    return inp, 100 * 1 * K + 50 * 10 * K + 50 * 0.5 * K


def case_min_volume_slow_ore():
    # R (min volume 100 t, 10 days) makes OX from 2 t ORE at 10 USD/kg; the plant needs 30 t OX within 100 days.
    # MF's ore (5 USD/kg) is ready at once; MS's (1 USD/kg) takes 400 days, so OX made from it never reaches
    # the plant in time, but it still counts towards R's minimum volume (surplus, discarded).
    #   30 t OX for the plant from fast ore:  ore 60 t x 5 = 300,000; OX 30 t x 10 = 300,000
    #   70 t surplus OX from slow ore:        ore 140 t x 1 = 140,000; OX 70 t x 10 = 700,000
    #   total 1,440,000 (filling with fast ore instead: 300,000 + 300,000 + 700,000 + 700,000 = 2,000,000)
    inp = build(
        [S("MF", "AU", "mine"), S("MS", "US", "mine", processing_days=400),
         S("R", "MY", "refiner", min_volume_t=100, processing_days=10), S("P", "DE", "plant")],
        [{"site_id": "MF", "product": "ORE", "capacity_t": 1000, "unit_cost_usd_per_kg": 5},
         {"site_id": "MS", "product": "ORE", "capacity_t": 1000, "unit_cost_usd_per_kg": 1},
         {"site_id": "R", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "stage:mine", "to_site": "R"}, {"from_site": "R", "to_site": "P"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 30, "max_lead_time_days": 100}],
        recipes=[{"product": "OX", "input": "ORE", "input_t_per_t": 2}],
    )
    return inp, 60 * 5 * K + 30 * 10 * K + 140 * 1 * K + 70 * 10 * K


def case_country_share_late_shipment():
    # max_country_share 0.5: per stage and product, no country may make more than half of what is SHIPPED.
    # The plant needs 100 t OX within 50 days: RCN (CN) 10 USD/kg, RAU (AU) 30 USD/kg. RUS (US) makes OX at
    # 2 USD/kg but takes 100 days, so its OX is never in time for the plant; shipped to MT (a metal maker that
    # must turn all it receives into ALLOY at 0.5 USD/kg, left as surplus), it still counts as refiner OX shipped.
    # With y t from RUS to MT, CN may ship x <= 0.5 (100 + y): each t more from CN saves 30 - 10 = 20 and needs
    # 2 t of dilution at 2 + 0.5 = 2.5 -> 5, so CN ships all 100 t and RUS 100 t (US share 100/200 = 0.5):
    #   CN 100 t x 10 = 1,000,000; RUS 100 t x 2 = 200,000; ALLOY 100 t x 0.5 = 50,000  -> 1,250,000
    # (Without the late shipment: 50 t CN + 50 t AU = 500,000 + 1,500,000 = 2,000,000.)
    inp = build(
        [S("RCN", "CN", "refiner"), S("RAU", "AU", "refiner"), S("RUS", "US", "refiner", processing_days=100),
         S("MT", "JP", "metal"), S("P", "DE", "plant")],
        [{"site_id": "RCN", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 10},
         {"site_id": "RAU", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 30},
         {"site_id": "RUS", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 2},
         {"site_id": "MT", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 0.5}],
        [{"from_site": "stage:refiner", "to_site": "P"}, {"from_site": "RUS", "to_site": "MT"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 100, "max_lead_time_days": 50}],
        recipes=[{"product": "ALLOY", "input": "OX", "input_t_per_t": 1}],
        settings={"max_country_share": 0.5},
    )
    return inp, 100 * 10 * K + 100 * 2 * K + 100 * 0.5 * K


def case_content_rule_site_specific_recipe():
    # China controls DY (approval 0.5) and TB (approval 0.9), both under the content rule, denial 100 USD/kg.
    # MJ (JP) makes its magnets with a site-specific recipe: 1.4 t ALLOY + 0.03 t TB (no DY); MK (KR) uses the
    # generic recipe with DY but charges 500 USD/kg, so MJ makes all 100 t.
    #   production: ALLOY 140 t x 40 = 5,600,000; TB 3 t x 300 = 900,000; MAG 100 t x 50 = 5,000,000
    #   TB CN -> JP, listed: (1 - 0.9) x 100 = 10 USD/kg x 3 t = 30,000
    #   MAG JP -> DE under CN's content rule, containing CN TB only: TB's row, 10 USD/kg x 100 t = 1,000,000
    #   total 12,530,000 (with DY's row, 0.5 approval: 50 USD/kg -> 5,000,000 instead, total 16,530,000)
    inp = build(
        [S("AL", "JP", "metal"), S("TBCN", "CN", "metal"), S("DYCN", "CN", "metal"), S("MJ", "JP", "magnet"),
         S("MK", "KR", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "AL", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 40},
         {"site_id": "TBCN", "product": "TB", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
         {"site_id": "DYCN", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
         {"site_id": "MJ", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50},
         {"site_id": "MK", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 500}],
        [{"from_site": "stage:metal", "to_site": "stage:magnet"}, {"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100}],
        recipes=[{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03},
                 {"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4, "site_id": "MJ"},
                 {"product": "MAG", "input": "TB", "input_t_per_t": 0.03, "site_id": "MJ"}],
        controls=[{"country": "CN", "product": "DY", "approval_probability": 0.5, "denial_cost_usd_per_kg": 100,
                   "content_rule": "yes"},
                  {"country": "CN", "product": "TB", "approval_probability": 0.9, "denial_cost_usd_per_kg": 100,
                   "content_rule": "yes"}],
    )
    return inp, 140 * 40 * K + 3 * 300 * K + 100 * 50 * K + 3 * 10 * K + 100 * 10 * K


def case_content_rule_other_countrys_material():
    # China controls TB (approval 0.5) and DY (approval 0.9), both under the content rule, denial 100 USD/kg.
    # MJ (JP) makes magnets from 1.4 t ALLOY (JP) + 0.03 t DY (CN) + 0.01 t TB (AU, uncontrolled) per t.
    # The magnet contains China's DY but Australia's TB: China's content-rule license takes DY's row only.
    #   production: ALLOY 140 t x 40 = 5,600,000; DY 3 t x 300 = 900,000; TB 1 t x 1,000 = 1,000,000;
    #               MAG 100 t x 50 = 5,000,000                                          -> 12,500,000
    #   DY CN -> JP, listed: (1 - 0.9) x 100 = 10 USD/kg x 3 t = 30,000
    #   MAG JP -> DE, CN content rule with DY's row: 10 USD/kg x 100 t = 1,000,000
    #   total 13,530,000 (with China's TB row, 0.5 approval: 50 USD/kg -> 5,000,000 instead, total 17,530,000)
    inp = build(
        [S("AL", "JP", "metal"), S("DYCN", "CN", "metal"), S("TBAU", "AU", "metal"), S("MJ", "JP", "magnet"),
         S("P", "DE", "plant")],
        [{"site_id": "AL", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 40},
         {"site_id": "DYCN", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
         {"site_id": "TBAU", "product": "TB", "capacity_t": 1000, "unit_cost_usd_per_kg": 1000},
         {"site_id": "MJ", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50}],
        [{"from_site": "stage:metal", "to_site": "MJ"}, {"from_site": "MJ", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100}],
        recipes=[{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03},
                 {"product": "MAG", "input": "TB", "input_t_per_t": 0.01}],
        controls=[{"country": "CN", "product": "TB", "approval_probability": 0.5, "denial_cost_usd_per_kg": 100,
                   "content_rule": "yes"},
                  {"country": "CN", "product": "DY", "approval_probability": 0.9, "denial_cost_usd_per_kg": 100,
                   "content_rule": "yes"}],
    )
    return inp, 140 * 40 * K + 3 * 300 * K + 1 * 1000 * K + 100 * 50 * K + 3 * 10 * K + 100 * 10 * K


def case_repeated_lanes_rows():
    # Rows 1 and 3 name the same sender group in two spellings (country:jp, country:JP); rows 2 and 4 repeat
    # each other exactly. The later row governs each: J ships at 1 USD/kg, U at 2 USD/kg.
    #   J: 10 + 1 = 11 USD/kg, U: 10.5 + 2 = 12.5 USD/kg; each can make 60 t, the plant needs 100 t:
    #   J 60 t x 11 = 660,000; U 40 t x 12.5 = 500,000 -> 1,160,000
    # (If the earlier rows governed, J 15 and U 10.7: U 60 t x 10.7 + J 40 t x 15 = 1,242,000.)
    inp = build(
        [S("J", "JP", "magnet"), S("U", "US", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "J", "product": "MAG", "capacity_t": 60, "unit_cost_usd_per_kg": 10},
         {"site_id": "U", "product": "MAG", "capacity_t": 60, "unit_cost_usd_per_kg": 10.5}],
        [{"from_site": "country:jp", "to_site": "P", "freight_usd_per_kg": 5},
         {"from_site": "U", "to_site": "P", "freight_usd_per_kg": 0.2},
         {"from_site": "country:JP", "to_site": "P", "freight_usd_per_kg": 1},
         {"from_site": "U", "to_site": "P", "freight_usd_per_kg": 2}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100}],
    )
    return inp, 60 * 11 * K + 40 * 12.5 * K


HAND_CASES = {
    "min_volume_unwanted_coproduct": case_min_volume_unwanted_coproduct,
    "min_volume_slow_ore": case_min_volume_slow_ore,
    "country_share_late_shipment": case_country_share_late_shipment,
    "content_rule_site_specific_recipe": case_content_rule_site_specific_recipe,
    "content_rule_other_countrys_material": case_content_rule_other_countrys_material,
    "repeated_lanes_rows": case_repeated_lanes_rows,
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_oracle_reaches_every_hand_worked_optimum(name):
    inp, expected = HAND_CASES[name]()
    assert oracle_total(inp) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_min_volume_filled_with_unwanted_coproduct(solver):
    inp, expected = case_min_volume_unwanted_coproduct()
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_min_volume_filled_with_slow_ore(solver):
    inp, expected = case_min_volume_slow_ore()
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_country_share_met_with_late_shipment(solver):
    inp, expected = case_country_share_late_shipment()
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_content_rule_parameters_follow_site_specific_recipe(solver):
    inp, expected = case_content_rule_site_specific_recipe()
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_content_rule_other_countrys_material_brings_no_row(solver):
    inp, expected = case_content_rule_other_countrys_material()
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_repeated_lanes_rows_later_row_governs(solver):
    inp, expected = case_repeated_lanes_rows()
    messages = sorted(w.message for w in inp.warnings if w.sheet == "Lanes")
    # rows 1-4 of the sheet are Excel rows 2-5: row 4 repeats row 2 (in another spelling), row 5 repeats row 3
    assert messages == ["repeats Lanes!A2; the later row governs", "repeats Lanes!A3; the later row governs"]
    assert sorted(w.row for w in inp.warnings if w.sheet == "Lanes") == [4, 5]
    assert planner_total(inp, solver) == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- random instances

SOURCE_COUNTRIES = ["CN", "CN", "AU", "US", "MY", "JP"]
PLANT_COUNTRIES = ["DE", "US", "JP", "IN"]
STAGE_CODE = {"mine": "M", "refiner": "R", "metal": "T", "magnet": "G", "plant": "P"}


@st.composite
def instances(draw, faults: frozenset = frozenset()):  # noqa: ANN001, ANN201, C901, PLR0915
    """A random mines -> refiners -> metal makers -> magnet makers -> plants instance, as ``build`` arguments.

    ``faults``: the issue-10 faults whose features may be drawn (see FIXED_FAULTS); repeated Lanes rows in
    several spellings (fault 3, fixed) are always in play.
    """
    # One seed drives every choice: instances vary far more than with one hypothesis draw per choice (which
    # kept proposing near-copies of a few small cases); a failure prints the whole instance, to replay with
    # assert_planner_matches_oracle(case).
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    pick, num = rnd.choice, rnd.randint

    def chance(p: float) -> bool:
        return rnd.random() < p

    fault1, fault2 = 1 in faults, 2 in faults
    tiers: dict[str, list[str]] = {}
    sites, supply = [], []
    for stage, lo, hi in (("mine", 1, 3), ("refiner", 1, 2), ("metal", 1, 2), ("magnet", 1, 2), ("plant", 1, 2)):
        tiers[stage] = []
        for i in range(num(lo, hi)):
            sid = f"{STAGE_CODE[stage]}{i}"
            site = {"site_id": sid, "country": pick(PLANT_COUNTRIES if stage == "plant" else SOURCE_COUNTRIES),
                    "stage": stage, "company": pick(["", "Acme", "Bolt"])}
            if stage != "plant":
                days = [0, 0, 0, 5, 10, 20] + ([250] if fault1 else [])
                site["processing_days"] = pick(days)
                if chance(0.2):
                    site.update(status="candidate", qualification_cost_usd=pick([0, 20_000, 300_000]))
                if fault1 and chance(0.35):
                    site["min_volume_t"] = pick([10, 40, 150])
            sites.append(site)
            tiers[stage].append(sid)

    def sup(site: str, product: str, cap: list, cost: list) -> None:
        supply.append({"site_id": site, "product": product, "capacity_t": pick(cap),
                       "unit_cost_usd_per_kg": pick(cost)})

    for s in tiers["mine"]:
        sup(s, "ORE", [0, 300, 1000, 3000], [1, 2, 5])
    coproducts = []
    for s in tiers["refiner"]:
        sup(s, "OX", [100, 400, 1000], [5, 10, 30])
        for co, ratios in (("DY", [0.02, 0.05]), ("TB", [0.01, 0.03]), ("LA", [0.5, 1.0])):
            if chance(0.5):
                sup(s, co, [5, 100], [0.5, 50, 200] if co != "LA" else [0.1, 1])
                where = pick(["", s])
                if not any(r["coproduct"] == co and r["site_id"] == where for r in coproducts):
                    coproducts.append({"product": "OX", "coproduct": co, "coproduct_t_per_t": pick(ratios),
                                       "site_id": where})
    for s in tiers["metal"]:
        sup(s, "ALLOY", [100, 400], [10, 40])
        for raw in ("DY", "TB"):  # no recipe and no OX here: raw metal bought in
            if chance(0.3):
                sup(s, raw, [2, 50], [150, 300, 900])
    for s in tiers["magnet"]:
        sup(s, "MAG", [50, 200, 500], [20, 50, 100])
    for raw in ("DY", "TB"):  # somewhere to buy each heavy rare earth, so that most cases deliver something
        if not any(r["product"] == raw for r in supply):
            sup(pick(tiers["metal"]), raw, [5, 50], [150, 300, 900])
    recipes = [{"product": "OX", "input": "ORE", "input_t_per_t": pick([1.5, 2])},
               {"product": "ALLOY", "input": "OX", "input_t_per_t": 1.1},
               {"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.3},
               {"product": "MAG", "input": "DY", "input_t_per_t": 0.03}]
    if chance(0.4):
        recipes.append({"product": "OX", "input": "ORE", "input_t_per_t": 3, "site_id": tiers["refiner"][-1]})
    if chance(0.6):  # one magnet maker's own recipe uses Tb, with or without Dy
        g = pick(tiers["magnet"])
        recipes += [{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.3, "site_id": g},
                    {"product": "MAG", "input": "TB", "input_t_per_t": 0.02, "site_id": g}]
        if chance(0.5):
            recipes.append({"product": "MAG", "input": "DY", "input_t_per_t": 0.01, "site_id": g})

    # Lanes: pairs, groups in several spellings, product-specific rows and repeats (the later row governs)
    def country_group(site: str, upper: bool) -> str:
        c = next(x["country"] for x in sites if x["site_id"] == site)
        return f"country:{c if upper else c.lower()}"

    def lane_attrs() -> dict:
        return {"freight_usd_per_kg": pick([0, 0.1, 0.5, 2]), "duty_usd_per_kg": pick([0, 0, 1]),
                "tariff_pct": pick([0, 0, 10, 25]), "transit_days": pick([0, 5, 10, 20])}

    lanes = []
    for a, b in (("mine", "refiner"), ("refiner", "metal"), ("refiner", "magnet"), ("metal", "magnet"),
                 ("magnet", "plant"), ("refiner", "plant")):
        style = pick(["pairs", "stage", "country", "star"])
        if style == "stage":
            lanes.append({"from_site": pick([f"stage:{a}", f"stage:{a.upper()}"]), "to_site": f"stage:{b}",
                          **lane_attrs()})
        elif style == "star":
            lanes.append({"from_site": "*", "to_site": f"stage:{b}", **lane_attrs()})
        for f in tiers[a]:
            for t in tiers[b]:
                if style in ("pairs", "country") and (chance(0.75) or (f, t) == (tiers[a][0], tiers[b][0])):
                    frm = country_group(f, chance(0.5)) if style == "country" else f
                    lanes.append({"from_site": frm, "to_site": t, **lane_attrs()})
                if chance(0.1):  # a product-specific row beats any blank one
                    lanes.append({"from_site": f, "to_site": t, "product": pick(["OX", "DY", "TB", "ALLOY", "MAG"]),
                                  **lane_attrs()})
    for _ in range(num(0, 3)):  # repeats, later in the sheet, respelt when the row names a country
        row = dict(pick(lanes))
        if row["from_site"].lower().startswith("country:"):
            c = row["from_site"].split(":", 1)[1]
            row["from_site"] = "country:" + pick([c.upper(), c.lower()])
        lanes.append({**row, **lane_attrs()})

    demand = []
    for p in tiers["plant"]:
        lead = ["", 60, 100, 150, 250]
        demand.append({"site_id": p, "product": "MAG", "quantity_t": pick([0, 20, 60, 60, 150]),
                       "max_lead_time_days": pick(lead), "max_exposed_share": pick(["", "", 0, 0.5]),
                       "shortage_cost_usd_per_kg": pick(["", 600, 1500])})
        if chance(0.3):
            demand.append({"site_id": p, "product": pick(["DY", "OX"]), "quantity_t": pick([1, 10]),
                           "max_lead_time_days": pick(lead), "shortage_cost_usd_per_kg": pick([500, 3000])})

    controls = []
    content_params = {}  # without fault 2's features, one country's content-rule rows share their parameters
    for country, products in (("CN", ["DY", "TB", "OX", "ALLOY"]), ("AU", ["TB", "DY"]), ("US", ["*"])):
        for product in products:
            if not chance(0.45 if country == "CN" else 0.15):
                continue
            content = product != "*" and chance(0.5)
            params = {"approval_probability": pick([0.3, 0.6, 0.9, 1]), "approval_days": pick([0, 10, 30, 60]),
                      "denial_cost_usd_per_kg": pick(["", 50, 300])}
            if content and not fault2:
                params = content_params.setdefault(country, params)
            controls.append({"country": country, "product": product, **params,
                             "content_rule": "yes" if content else "no"})

    _licence_routes(random.Random(seed ^ 0x13), sites, demand, controls)

    settings_ = {"risk_weight": pick([0, 0.5, 1, 2]), "max_supplier_share": pick([1, 1, 0.6]),
                 "max_exposed_share": pick([1, 1, 0.5]), "denial_cost_usd_per_kg": pick([0, 100]),
                 "shortage_cost_usd_per_kg": pick([1000, 3000]), "allow_shortage": pick(["yes"] * 9 + ["no"])}
    if fault1:
        settings_["max_country_share"] = pick([1, 0.5, 0.7])
    return {"sites": sites, "supply": supply, "lanes": lanes, "demand": demand, "recipes": recipes,
            "coproducts": coproducts, "controls": controls, "settings": settings_}


def _licence_routes(rnd: random.Random, sites: list[dict], demand: list[dict], controls: list[dict]) -> None:
    """Licence rules by route (issue 13, item 1), drawn from their own generator so that the rest of an instance
    is what it was before: plants' end uses, and Controls rows (never content rules) limited to a destination
    (in several spellings), an exporter company or an end use, some of them bans (approval 0), some repeating an
    earlier row (the later row governs)."""
    if rnd.random() < 0.3:
        return
    for d in demand:
        d["end_use"] = rnd.choice(["civil", "military", "military", ""])
    senders = [s for s in sites if s["stage"] != "plant"]
    countries = sorted({s["country"] for s in sites})
    added = []
    for _ in range(rnd.randint(1, 4)):
        # a row of a country that has senders, mostly for a product that crosses borders often, so that it bites
        country = rnd.choice(sorted({s["country"] for s in senders}))
        row = {"country": country, "product": rnd.choice(["MAG", "MAG", "ALLOY", "OX", "DY", "TB", "*", "*"]),
               "approval_probability": rnd.choice([0, 0, 0.3, 0.6, 0.9, 1]),
               "approval_days": rnd.choice([0, 14, 30, 63]), "denial_cost_usd_per_kg": rnd.choice(["", 50, 300]),
               "content_rule": "no"}
        for column in rnd.sample(["destination", "exporter_company", "end_use"], rnd.choice([1, 1, 1, 2, 3])):
            if column == "destination":
                c = rnd.choice([*countries, "*"])
                row[column] = rnd.choice([c, f"country:{c.lower()}"]) if c != "*" else "*"
            elif column == "exporter_company":
                row[column] = rnd.choice([s["company"] or s["site_id"] for s in senders if s["country"] == country])
            else:
                row[column] = rnd.choice(["civil", "military", "military"])
        added.append(row)
    if rnd.random() < 0.3:  # a repeat: the later row governs
        added.append({**rnd.choice(added), "approval_probability": rnd.choice([0, 0.5, 1])})
    controls += added


def features(case: dict) -> set[int]:
    """The issue-10 faults an instance exercises: 1 if it has a minimum volume or a country share below 1,
    2 if some country's content-rule rows differ in their parameters; and 13 if it has licence rules by route
    (issue 13, item 1)."""
    out = set()
    if any(r.get(c) for r in case["controls"] for c in ("destination", "exporter_company", "end_use")):
        out.add(13)
    if any(s.get("min_volume_t") for s in case["sites"]) or float(case["settings"].get("max_country_share", 1)) < 1:
        out.add(1)
    params: dict[str, set] = {}
    for r in case["controls"]:
        if r["content_rule"] == "yes":
            params.setdefault(r["country"], set()).add(
                (r["approval_probability"], r["approval_days"], r["denial_cost_usd_per_kg"]))
    if any(len(v) > 1 for v in params.values()):
        out.add(2)
    return out


def assert_planner_matches_oracle(case: dict) -> None:
    inp = build_routes(**case)
    ours = solve_oracle(inp)
    theirs = planner_total(inp)
    if ours.total_cost_usd is None or theirs is None:
        assert ours.total_cost_usd == theirs, (f"planner {theirs}, oracle {ours.status}; features "
                                               f"{features(case)}\n{ours.explain()}")
        return
    assert theirs == pytest.approx(ours.total_cost_usd, rel=1e-6, abs=1.0), (
        f"planner {theirs:,.2f} != oracle {ours.total_cost_usd:,.2f}; features {features(case)}\n{ours.explain()}")


# No shrinking: an instance comes from one seed, which does not shrink towards a smaller instance, and each
# attempt costs two solves. A failure prints the whole instance and the oracle's plan with every history.
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
PROPS = settings(max_examples=6, deadline=None, derandomize=True, database=None, phases=_NO_SHRINK,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROPS_SLOW = settings(max_examples=1500, deadline=None, database=None, phases=_NO_SHRINK,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPS
@given(instances(frozenset(FIXED_FAULTS)))
def test_planner_matches_oracle_on_random_instances(case):
    assert_planner_matches_oracle(case)


@pytest.mark.slow
@PROPS_SLOW
@given(instances(frozenset(FIXED_FAULTS)))
def test_planner_matches_oracle_on_many_random_instances(case):
    assert_planner_matches_oracle(case)
