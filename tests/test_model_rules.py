"""Every modelling rule of the contract on a case small enough to solve by hand.

Units: quantities in t, prices in USD/kg, so a tonne at 1 USD/kg costs 1,000 USD.
Each test states the optimal plan and works out its cost in the comments.
"""

from __future__ import annotations

import pytest

from planner.api import plan
from planner.errors import InfeasibleError
from tests import conftest
from tests.conftest import build, plant_row, shipped, solve_checked

K = 1000.0  # USD per tonne for each USD per kg


# every rule must hold with both solvers: CBC's run is in the slow suite (CI runs it), to keep the default one
# inside its 5 minutes on a busy machine
@pytest.fixture(params=["highs", pytest.param("cbc", marks=pytest.mark.slow)], autouse=True)
def solver(request, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setitem(conftest.SOLVER, "name", request.param)
    return request.param


def S(site_id: str, country: str, stage: str, **kw: object) -> dict:  # noqa: N802
    return {"site_id": site_id, "country": country, "stage": stage, **kw}


def test_chain_with_yield_and_freight():
    # ore -> oxide at 2 t/t. 30 t oxide need 60 t ore.
    # ore 60 t x 2 = 120,000; oxide 30 t x 5 = 150,000; freight 60 x 0.1 + 30 x 0.2 = 12 USD/kg-t -> 12,000
    inp = build(
        [S("M", "AU", "mine"), S("R", "MY", "refiner"), S("P", "DE", "plant")],
        [{"site_id": "M", "product": "ORE", "capacity_t": 100, "unit_cost_usd_per_kg": 2},
         {"site_id": "R", "product": "OX", "capacity_t": 100, "unit_cost_usd_per_kg": 5}],
        [{"from_site": "M", "to_site": "R", "freight_usd_per_kg": 0.1},
         {"from_site": "R", "to_site": "P", "freight_usd_per_kg": 0.2}],
        [{"site_id": "P", "product": "OX", "quantity_t": 30}],
        recipes=[{"product": "OX", "input": "ORE", "input_t_per_t": 2}],
    )
    r = solve_checked(inp)
    assert r.status == "optimal"
    assert r.summary["total_cost_usd"] == pytest.approx(60 * 2 * K + 30 * 5 * K + (60 * 0.1 + 30 * 0.2) * K)
    assert r.cost_breakdown["freight"] == pytest.approx(12_000)
    assert plant_row(r, "P", "OX")["delivered_t"] == pytest.approx(30)


def test_capacity_splits_supply_between_cheap_and_dear():
    # cheap mine A (1 USD/kg) has 20 t; B (3 USD/kg) covers the other 30 t of 50 t demand.
    # cost = 20 x 1,000 + 30 x 3,000 = 110,000. One more t at A saves 2,000 USD (dual 2 USD/kg).
    inp = build(
        [S("A", "AU", "mine"), S("B", "US", "mine"), S("P", "DE", "plant")],
        [{"site_id": "A", "product": "X", "capacity_t": 20, "unit_cost_usd_per_kg": 1},
         {"site_id": "B", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 3}],
        [{"from_site": "stage:mine", "to_site": "P"}],
        [{"site_id": "P", "product": "X", "quantity_t": 50}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(20 * K + 30 * 3 * K)
    cap = r.production.set_index(["site_id", "product"])["capacity_value_usd_per_kg"]
    assert cap[("A", "X")] == pytest.approx(2.0)
    assert cap[("B", "X")] == pytest.approx(0.0)


def test_assembly_needs_every_input():
    # magnet = 1.4 t alloy + 0.03 t dy per t. 100 t magnets: 140 t alloy x 40 + 3 t dy x 300 + 100 t x 50
    # = 5,600,000 + 900,000 + 5,000,000 = 11,500,000
    inp = build(
        [S("AL", "JP", "metal"), S("DY", "MY", "refiner"), S("MG", "JP", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "AL", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 40},
         {"site_id": "DY", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
         {"site_id": "MG", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50}],
        [{"from_site": "*", "to_site": "MG"}, {"from_site": "MG", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100}],
        recipes=[{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(140 * 40 * K + 3 * 300 * K + 100 * 50 * K)
    assert shipped(r, "DY", "MG") == pytest.approx(3)


def test_site_specific_recipe_replaces_generic():
    # generic OX <- 5 t ORE; at R2 only 2 t ORE. Both refiners charge 10 USD/kg; ore 1 USD/kg.
    # R2: 10 t OX x (2 x 1 + 10) USD/kg = 120,000 (R1 would be 150,000)
    inp = build(
        [S("M", "AU", "mine"), S("R1", "MY", "refiner"), S("R2", "MY", "refiner"), S("P", "DE", "plant")],
        [{"site_id": "M", "product": "ORE", "capacity_t": 1000, "unit_cost_usd_per_kg": 1},
         {"site_id": "R1", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 10},
         {"site_id": "R2", "product": "OX", "capacity_t": 1000, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "M", "to_site": "stage:refiner"}, {"from_site": "stage:refiner", "to_site": "P"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 10}],
        recipes=[{"product": "OX", "input": "ORE", "input_t_per_t": 5},
                 {"product": "OX", "input": "ORE", "input_t_per_t": 2, "site_id": "R2"}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(10 * (2 * 1 + 10) * K)
    assert shipped(r, "R2", "P") == pytest.approx(10)


def test_coproduct_made_jointly_and_surplus_discarded():
    # R makes NDPR from 2 t ORE each; DY comes out at most 0.1 t per t NDPR and needs no ore of its own.
    # The plant needs 10 t DY and 50 t NDPR: R must run 100 t NDPR (50 t discarded).
    # ore 200 t x 1 = 200,000; NDPR 100 t x 20 = 2,000,000; DY 10 t x 100 = 1,000,000 -> 3,200,000
    inp = build(
        [S("M", "AU", "mine"), S("R", "MY", "refiner"), S("P", "DE", "plant")],
        [{"site_id": "M", "product": "ORE", "capacity_t": 1000, "unit_cost_usd_per_kg": 1},
         {"site_id": "R", "product": "NDPR", "capacity_t": 1000, "unit_cost_usd_per_kg": 20},
         {"site_id": "R", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "M", "to_site": "R"}, {"from_site": "R", "to_site": "P"}],
        [{"site_id": "P", "product": "DY", "quantity_t": 10}, {"site_id": "P", "product": "NDPR", "quantity_t": 50}],
        recipes=[{"product": "NDPR", "input": "ORE", "input_t_per_t": 2},
                 {"product": "DY", "input": "ORE", "input_t_per_t": 99}],  # ignored: DY is joint at R
        coproducts=[{"product": "NDPR", "coproduct": "DY", "coproduct_t_per_t": 0.1}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(200 * K + 100 * 20 * K + 10 * 100 * K)
    prod = r.production.set_index(["site_id", "product"])
    assert prod.at[("R", "NDPR"), "made_t"] == pytest.approx(100)
    assert prod.at[("R", "NDPR"), "surplus_t"] == pytest.approx(50)


def test_tariff_and_duty():
    # 10 t at 100 USD/kg; duty 2 USD/kg; tariff 25 % of the sender's unit cost = 25 USD/kg.
    # 10 t x (100 + 2 + 25) x 1,000 = 1,270,000
    inp = build(
        [S("CNMAG", "CN", "magnet"), S("P", "US", "plant")],
        [{"site_id": "CNMAG", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "CNMAG", "to_site": "P", "duty_usd_per_kg": 2, "tariff_pct": 25}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10}],
    )
    r = solve_checked(inp)
    assert r.cost_breakdown["duty"] == pytest.approx(20_000)
    assert r.cost_breakdown["tariff"] == pytest.approx(250_000)
    assert r.summary["total_cost_usd"] == pytest.approx(1_270_000)


def _license_case(**settings: object):
    # CN magnets 50 USD/kg under license (approval 0.6, denial 200 USD/kg -> expected loss 80 USD/kg)
    # versus JP magnets at 100 USD/kg, 10 t each way needed.
    return build(
        [S("CN", "CN", "magnet"), S("JP", "JP", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "CN", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 50},
         {"site_id": "JP", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10}],
        controls=[{"country": "CN", "product": "MAG", "approval_probability": 0.6, "approval_days": 63,
                   "denial_cost_usd_per_kg": 200}],
        settings=settings or None,
    )


def test_expected_license_loss_in_objective():
    # CN: 50 + 0.4 x 200 = 130 USD/kg > JP 100 USD/kg -> buy JP: 10 t x 100,000 = 1,000,000, nothing exposed
    r = solve_checked(_license_case())
    assert r.summary["total_cost_usd"] == pytest.approx(1_000_000)
    assert r.summary["exposed_t"] == 0


def test_risk_weight_scales_license_loss():
    # risk_weight 0.5: CN costs 50 + 0.5 x 80 = 90 < 100 -> CN; production 500,000 + risk 0.5 x 800,000
    r = solve_checked(_license_case(risk_weight=0.5))
    assert r.summary["total_cost_usd"] == pytest.approx(500_000 + 400_000)
    assert r.summary["expected_license_loss_usd"] == pytest.approx(800_000)
    assert r.cost_breakdown["license_risk"] == pytest.approx(400_000)
    row = plant_row(r, "P", "MAG")
    assert row["exposed_t"] == pytest.approx(10)
    assert row["max_lead_time_days"] == 63  # the approval days are lead time
    assert len(r.licenses) == 1 and r.licenses.iloc[0]["tonnes"] == pytest.approx(10)


def test_exposure_cap():
    # risk_weight 0 makes CN the cheaper (50 vs 100) but the cap allows only 30 % exposed:
    # 3 t CN x 50,000 + 7 t JP x 100,000 = 850,000
    inp = _license_case(risk_weight=0, max_exposed_share=0.3)
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(3 * 50 * K + 7 * 100 * K)
    assert plant_row(r, "P", "MAG")["exposed_t"] == pytest.approx(3)


def _blend_case(cap: float, content_rule: str = "no") -> object:
    # A JP magnet maker needs 1.4 t alloy (JP, clean) + 0.03 t DY per t. DY from CN is cheaper but licensed.
    return build(
        [S("ALY", "JP", "metal"), S("DYCN", "CN", "metal"), S("DYMY", "MY", "metal"), S("MAG", "JP", "magnet"),
         S("P", "DE", "plant")],
        [{"site_id": "ALY", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 40},
         {"site_id": "DYCN", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
         {"site_id": "DYMY", "product": "DY", "capacity_t": 2, "unit_cost_usd_per_kg": 900},
         {"site_id": "MAG", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50}],
        [{"from_site": "stage:metal", "to_site": "MAG"}, {"from_site": "MAG", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 100, "max_exposed_share": cap}],
        recipes=[{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03}],
        controls=[{"country": "CN", "product": "DY", "approval_probability": 0.5, "approval_days": 30,
                   "denial_cost_usd_per_kg": 0, "content_rule": content_rule}],
    )


def test_de_minimis_a_blend_with_any_exposed_input_is_exposed():
    # No cap: CN DY (300) beats MY DY (900); its shipment is licensed, so all 100 t of magnets are exposed
    # although DY is only 2 % of their mass.
    # cost: alloy 140 t x 40 + DY 3 t x 300 + magnets 100 t x 50 = 5,600,000 + 900,000 + 5,000,000
    r = solve_checked(_blend_case(cap=1.0))
    assert r.summary["total_cost_usd"] == pytest.approx(11_500_000)
    assert plant_row(r, "P", "MAG")["exposed_t"] == pytest.approx(100)


def test_de_minimis_exposure_cap_keeps_batches_apart():
    # Cap 50 %: at most 50 t may be exposed. Cheapest: a clean batch of 50 t with 1.5 t MY DY (900 USD/kg) and
    # an exposed batch of 50 t with 1.5 t CN DY (300 USD/kg).
    # cost = 5,600,000 (alloy) + 1.5 x 900,000 + 1.5 x 300,000 + 5,000,000 = 12,400,000
    # Averaging exposure instead (a single blend with 1.5 t of 3 t DY exposed) would claim 50 % and let the
    # whole plant's magnets be one batch: de minimis forbids that, and the batches stay apart.
    r = solve_checked(_blend_case(cap=0.5))
    assert r.summary["total_cost_usd"] == pytest.approx(5_600_000 + 1.5 * 900_000 + 1.5 * 300_000 + 5_000_000)
    assert plant_row(r, "P", "MAG")["exposed_t"] == pytest.approx(50)
    assert shipped(r, "DYMY", "MAG") == pytest.approx(1.5)


def test_de_minimis_cap_below_reach_leaves_shortage():
    # Cap 0: only clean magnets count, and clean DY covers 66.67 t; the remaining 33.33 t is short at the
    # default shortage cost 10,000 USD/kg.
    # cost = 66.667 t x (1.4 x 40 + 50) x 1,000 + 2 t x 900,000 + 33.333 t x 10,000,000
    r = solve_checked(_blend_case(cap=0.0))
    clean = 2 / 0.03
    expected = clean * (1.4 * 40 + 50) * K + 2 * 900 * K + (100 - clean) * 10_000 * K
    # CBC writes its solution with about 8 significant digits: 3e-7 t of 66.67 t at 10,000 USD/kg is 3 USD
    assert r.summary["total_cost_usd"] == pytest.approx(expected, rel=2e-8)
    row = plant_row(r, "P", "MAG")
    assert row["exposed_t"] == pytest.approx(0, abs=1e-6)
    assert row["shortage_t"] == pytest.approx(100 - clean, rel=1e-6)


def test_content_rule_makes_foreign_goods_licensed():
    # With the 0.1 % content rule, the JP magnet made with CN DY needs a CN license when it leaves JP for DE
    # (approval 0.5, denial 0 here, 30 days more lead time): two license events on the chain.
    r = solve_checked(_blend_case(cap=1.0, content_rule="yes"))
    assert r.summary["total_cost_usd"] == pytest.approx(11_500_000)
    lic = r.licenses.set_index(["from_site", "to_site"])
    assert lic.at[("MAG", "P"), "rule"] == "content rule"
    assert lic.at[("MAG", "P"), "tonnes"] == pytest.approx(100)
    assert lic.at[("DYCN", "MAG"), "rule"] == "listed product"
    # 30 days at the DY border, 30 more at the magnet's
    assert plant_row(r, "P", "MAG")["max_lead_time_days"] == 60


def test_content_rule_without_it_only_the_listed_shipment_is_licensed():
    r = solve_checked(_blend_case(cap=1.0, content_rule="no"))
    assert list(r.licenses["to_site"]) == ["MAG"]
    assert plant_row(r, "P", "MAG")["max_lead_time_days"] == 30


def _lead_case(limit: object) -> object:
    # slow cheap sea lane (35 days, 0.1 USD/kg) or fast dear air lane (7 days, 5 USD/kg), 4 days processing
    return build(
        [S("MG", "CN", "magnet", processing_days=4), S("P", "DE", "plant")],
        [{"site_id": "MG", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 50}],
        [{"from_site": "MG", "to_site": "P", "freight_usd_per_kg": 0.1, "transit_days": 35}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10, "max_lead_time_days": limit}],
    )


def test_lead_time_limit_is_exact_in_whole_days():
    # 4 processing + 35 transit = 39 days: a limit of 39 allows it, 38 does not (all 10 t short).
    ok = solve_checked(_lead_case(39))
    assert ok.summary["shortage_t"] == 0
    assert plant_row(ok, "P", "MAG")["max_lead_time_days"] == 39
    late = solve_checked(_lead_case(38))
    assert late.summary["shortage_t"] == pytest.approx(10)
    assert late.summary["total_cost_usd"] == pytest.approx(10 * 10_000 * K)


def test_assembly_waits_for_its_slowest_input():
    # alloy arrives after 10 days, DY after 40; the magnet (5 days) is ready at day 45, delivered at 45 + 3.
    # A limit of 47 forces the fast DY source (20 days, 400 USD/kg instead of 300): day 20 + 5 + 3 = 28,
    # alloy: 10 + 5 + 3 = 18 -> 28 <= 47.
    base = dict(
        sites=[S("ALY", "JP", "metal"), S("DYS", "MY", "metal"), S("DYF", "VN", "metal"),
               S("MAG", "JP", "magnet", processing_days=5), S("P", "JP", "plant")],
        supply=[{"site_id": "ALY", "product": "ALLOY", "capacity_t": 1000, "unit_cost_usd_per_kg": 40},
                {"site_id": "DYS", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 300},
                {"site_id": "DYF", "product": "DY", "capacity_t": 1000, "unit_cost_usd_per_kg": 400},
                {"site_id": "MAG", "product": "MAG", "capacity_t": 1000, "unit_cost_usd_per_kg": 50}],
        lanes=[{"from_site": "ALY", "to_site": "MAG", "transit_days": 10},
               {"from_site": "DYS", "to_site": "MAG", "transit_days": 40},
               {"from_site": "DYF", "to_site": "MAG", "transit_days": 20},
               {"from_site": "MAG", "to_site": "P", "transit_days": 3}],
        recipes=[{"product": "MAG", "input": "ALLOY", "input_t_per_t": 1.4},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03}],
    )
    free = solve_checked(build(**base, demand=[{"site_id": "P", "product": "MAG", "quantity_t": 100}]))
    assert plant_row(free, "P", "MAG")["max_lead_time_days"] == 48
    assert free.summary["total_cost_usd"] == pytest.approx(140 * 40 * K + 3 * 300 * K + 100 * 50 * K)
    tight = solve_checked(build(**base, demand=[{"site_id": "P", "product": "MAG", "quantity_t": 100,
                                                 "max_lead_time_days": 47}]))
    assert plant_row(tight, "P", "MAG")["max_lead_time_days"] == 28
    assert tight.summary["total_cost_usd"] == pytest.approx(140 * 40 * K + 3 * 400 * K + 100 * 50 * K)


def test_lead_time_segregates_one_maker_serving_two_deadlines():
    # One maker serves a tight plant (limit 30) and a relaxed one (no limit). Its input comes slow and cheap
    # (30 days, 1 USD/kg) or fast and dear (5 days, 3 USD/kg). Exact lead times send fast input only into
    # the tight plant's magnets: 10 t fast + 10 t slow. (A model that tracked one lead time per site would
    # have to buy all 20 t fast.)
    # cost = 10 t x 3,000 + 10 t x 1,000 + 20 t x 10,000 (maker) = 240,000
    inp = build(
        [S("SLOW", "AU", "mine"), S("FAST", "AU", "mine"), S("MG", "JP", "magnet", processing_days=10),
         S("P1", "JP", "plant"), S("P2", "JP", "plant")],
        [{"site_id": "SLOW", "product": "RAW", "capacity_t": 100, "unit_cost_usd_per_kg": 1},
         {"site_id": "FAST", "product": "RAW", "capacity_t": 100, "unit_cost_usd_per_kg": 3},
         {"site_id": "MG", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "SLOW", "to_site": "MG", "transit_days": 30},
         {"from_site": "FAST", "to_site": "MG", "transit_days": 5},
         {"from_site": "MG", "to_site": "stage:plant", "transit_days": 2}],
        [{"site_id": "P1", "product": "MAG", "quantity_t": 10, "max_lead_time_days": 30},
         {"site_id": "P2", "product": "MAG", "quantity_t": 10}],
        recipes=[{"product": "MAG", "input": "RAW", "input_t_per_t": 1}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(240_000)
    assert plant_row(r, "P1", "MAG")["max_lead_time_days"] == 17
    assert plant_row(r, "P2", "MAG")["max_lead_time_days"] == 42


def test_candidate_is_qualified_only_when_it_pays():
    # Incumbent 100 USD/kg; candidate 80 USD/kg with a 500,000 USD qualification cost.
    # 20 t: saving 400,000 < 500,000 -> stay (2,000,000). 40 t: saving 800,000 > 500,000 -> qualify:
    # 40 t x 80,000 + 500,000 = 3,700,000.
    def case(qty: float) -> object:
        return build(
            [S("OLD", "JP", "magnet"), S("NEW", "US", "magnet", status="candidate", qualification_cost_usd=500_000),
             S("P", "US", "plant")],
            [{"site_id": "OLD", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100},
             {"site_id": "NEW", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 80}],
            [{"from_site": "stage:magnet", "to_site": "P"}],
            [{"site_id": "P", "product": "MAG", "quantity_t": qty}],
        )

    small = solve_checked(case(20))
    assert small.summary["total_cost_usd"] == pytest.approx(2_000_000)
    assert not small.candidates.set_index("site_id").at["NEW", "used"]
    big = solve_checked(case(40))
    assert big.summary["total_cost_usd"] == pytest.approx(3_700_000)
    assert big.cost_breakdown["qualification"] == pytest.approx(500_000)
    assert big.candidates.set_index("site_id").at["NEW", "used"]


def test_minimum_volume_is_take_or_pay():
    # The cheap source (10 USD/kg) takes only orders of 50 t or more; 30 t are needed.
    # Take-or-pay: 50 t x 10,000 = 500,000 (20 t discarded) beats 30 t x 20,000 = 600,000 elsewhere.
    inp = build(
        [S("CHEAP", "AU", "mine", min_volume_t=50), S("DEAR", "US", "mine"), S("P", "US", "plant")],
        [{"site_id": "CHEAP", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 10},
         {"site_id": "DEAR", "product": "X", "capacity_t": 100, "unit_cost_usd_per_kg": 20}],
        [{"from_site": "stage:mine", "to_site": "P"}],
        [{"site_id": "P", "product": "X", "quantity_t": 30}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(500_000)
    prod = r.production.set_index("site_id")
    assert prod.at["CHEAP", "made_t"] == pytest.approx(50)
    assert prod.at["CHEAP", "surplus_t"] == pytest.approx(20)


def test_supplier_share_cap_counts_per_company():
    # Two Lynas sites (1 USD/kg) and one MP site (2 USD/kg); max 60 % from one company:
    # 60 t Lynas x 1,000 + 40 t MP x 2,000 = 140,000
    inp = build(
        [S("L1", "MY", "refiner", company="Lynas"), S("L2", "AU", "refiner", company="Lynas"),
         S("MP", "US", "refiner", company="MP"), S("P", "US", "plant")],
        [{"site_id": s, "product": "OX", "capacity_t": 100, "unit_cost_usd_per_kg": c}
         for s, c in (("L1", 1), ("L2", 1), ("MP", 2))],
        [{"from_site": "*", "to_site": "P"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 100}],
        settings={"max_supplier_share": 0.6},
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(60 * K + 40 * 2 * K)


def test_country_share_cap_per_stage_and_product():
    # At the refiner stage at most 70 % of OX shipped may come from one country: 70 t CN (1 USD/kg) +
    # 30 t AU (2 USD/kg) = 130,000
    inp = build(
        [S("C1", "CN", "refiner"), S("C2", "CN", "refiner"), S("A1", "AU", "refiner"), S("P", "US", "plant")],
        [{"site_id": s, "product": "OX", "capacity_t": 100, "unit_cost_usd_per_kg": c}
         for s, c in (("C1", 1), ("C2", 1), ("A1", 2))],
        [{"from_site": "*", "to_site": "P"}],
        [{"site_id": "P", "product": "OX", "quantity_t": 100}],
        settings={"max_country_share": 0.7},
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(70 * K + 30 * 2 * K)


def test_priced_shortage_when_supply_runs_out():
    # 40 t available, 100 t needed at 500 USD/kg shortage: 40 x 10,000 + 60 x 500,000 = 30,400,000
    inp = build(
        [S("M", "AU", "mine"), S("P", "US", "plant")],
        [{"site_id": "M", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "M", "to_site": "P"}],
        [{"site_id": "P", "product": "X", "quantity_t": 100, "shortage_cost_usd_per_kg": 500}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(40 * 10 * K + 60 * 500 * K)
    assert r.cost_breakdown["shortage"] == pytest.approx(30_000_000)
    assert plant_row(r, "P", "X")["shortage_t"] == pytest.approx(60)


def test_shortage_not_allowed_is_infeasible_with_a_diagnosis():
    inp = build(
        [S("M", "AU", "mine"), S("P", "US", "plant")],
        [{"site_id": "M", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "M", "to_site": "P", "transit_days": 20}],
        [{"site_id": "P", "product": "X", "quantity_t": 100}, {"site_id": "P", "product": "Y", "quantity_t": 5},
         {"site_id": "P", "product": "Z", "quantity_t": 5, "max_lead_time_days": 10}],
        settings={"allow_shortage": "no"},
    )
    with pytest.raises(InfeasibleError) as info:
        plan(inp)
    text = "\n".join(info.value.findings)
    assert "60.0 t short" in text and "capacity" in text
    assert "no lane brings Y" in text


def test_a_large_infeasible_model_is_not_re_solved_to_diagnose_it(monkeypatch):
    import planner.api as api  # noqa: PLC0415

    inp = build(
        [S("M", "AU", "mine"), S("P", "US", "plant")],
        [{"site_id": "M", "product": "X", "capacity_t": 40, "unit_cost_usd_per_kg": 10}],
        [{"from_site": "M", "to_site": "P", "transit_days": 20}],
        [{"site_id": "P", "product": "X", "quantity_t": 100}, {"site_id": "P", "product": "Y", "quantity_t": 5}],
        settings={"allow_shortage": "no"},
    )
    monkeypatch.setattr(api, "DIAGNOSE_BELOW", 1)  # every model is "large"

    def no_resolve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("re-solved")

    monkeypatch.setattr(api, "_shortages", no_resolve)
    with pytest.raises(InfeasibleError) as info:
        plan(inp)
    findings = info.value.findings
    assert "no lane brings Y" in findings[0]  # the structural check still runs: it costs no solve
    assert findings[-1].startswith("not evaluated: how much of each demand falls short")
    assert "allow_shortage = yes" in findings[-1] and len(findings) == 2


def test_lead_time_diagnosis_names_the_limit():
    inp = _lead_case(20).with_settings(allow_shortage=False)
    with pytest.raises(InfeasibleError) as info:
        plan(inp)
    text = "\n".join(info.value.findings)
    # 4 days' processing + 35 days' transit can never meet a 20-day limit: all 10 t short, and the finding
    # points at the limit's cell
    assert "10.0 t short, limited by its lead-time limit (Demand!D2 max_lead_time_days)" in text
    assert "10.0 t more be delivered" in text


def test_most_specific_lane_row_governs():
    # "*" row says 5 USD/kg freight; a company row 1 USD/kg; a site row for the product 0.5 USD/kg.
    # M1 (company A) -> P: site row for product X -> 0.5; M2 (company A) -> P: company row -> 1.
    # Demand 10 t from each (capacities 10): freight = 10 x 500 + 10 x 1,000 = 15,000
    inp = build(
        [S("M1", "AU", "mine", company="A"), S("M2", "AU", "mine", company="A"), S("P", "US", "plant")],
        [{"site_id": "M1", "product": "X", "capacity_t": 10, "unit_cost_usd_per_kg": 1},
         {"site_id": "M2", "product": "X", "capacity_t": 10, "unit_cost_usd_per_kg": 1}],
        [{"from_site": "*", "to_site": "*", "freight_usd_per_kg": 5},
         {"from_site": "company:A", "to_site": "P", "freight_usd_per_kg": 1},
         {"from_site": "M1", "to_site": "P", "product": "X", "freight_usd_per_kg": 0.5},
         {"from_site": "M1", "to_site": "stage:plant", "freight_usd_per_kg": 9}],
        [{"site_id": "P", "product": "X", "quantity_t": 20}],
    )
    r = solve_checked(inp)
    assert r.cost_breakdown["freight"] == pytest.approx(15_000)


def test_equal_costs_prefer_the_unexposed_plan():
    # Two sources at the same price; one crosses a listed border with approval 1 (no expected loss).
    # Both plans cost 1,000,000; the planner must report the unexposed one, not an arbitrary vertex.
    inp = build(
        [S("CN", "CN", "magnet"), S("JP", "JP", "magnet"), S("P", "DE", "plant")],
        [{"site_id": "CN", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100},
         {"site_id": "JP", "product": "MAG", "capacity_t": 100, "unit_cost_usd_per_kg": 100}],
        [{"from_site": "stage:magnet", "to_site": "P"}],
        [{"site_id": "P", "product": "MAG", "quantity_t": 10}],
        controls=[{"country": "CN", "product": "MAG"}],
    )
    r = solve_checked(inp)
    assert r.summary["total_cost_usd"] == pytest.approx(1_000_000)
    assert r.summary["exposed_t"] == 0
