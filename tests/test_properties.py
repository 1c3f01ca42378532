"""Properties of the model on random small supply chains (hypothesis).

Every generated plan passes the independent checker; permuting input rows never
changes the cost; adding capacity never raises the optimal cost; scaling every
cost by k scales the total by k.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.api import plan
from planner.results.check import check_plan
from tests.conftest import build

COUNTRIES = ["CN", "AU", "US", "JP", "DE"]


@st.composite
def chains(draw):  # noqa: ANN001, ANN201
    """A random mine -> refiner -> magnet -> plant chain with every contract feature in play."""
    rnd = random.Random(draw(st.integers(0, 10**9)))
    n_mine, n_ref, n_mag, n_plant = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2)),
                                     draw(st.integers(1, 2)))
    sites, supply, lanes, demand = [], [], [], []
    tiers = {"mine": [], "refiner": [], "magnet": [], "plant": []}
    for stage, n in (("mine", n_mine), ("refiner", n_ref), ("magnet", n_mag), ("plant", n_plant)):
        for i in range(n):
            sid = f"{stage[:3].upper()}{i}"
            site = {"site_id": sid, "country": rnd.choice(COUNTRIES), "stage": stage,
                    "company": f"C{rnd.randint(0, 2)}", "processing_days": rnd.randint(0, 20)}
            if stage != "plant" and rnd.random() < 0.2:
                site.update(status="candidate", qualification_cost_usd=rnd.choice([0, 1e4, 1e5]),
                            min_volume_t=rnd.choice([0, 0, 5]))
            sites.append(site)
            tiers[stage].append(sid)
    for s in tiers["mine"]:
        supply.append({"site_id": s, "product": "ORE", "capacity_t": rnd.randint(0, 200),
                       "unit_cost_usd_per_kg": rnd.randint(1, 10)})
    dy_site = rnd.choice(tiers["refiner"])
    for s in tiers["refiner"]:
        supply.append({"site_id": s, "product": "OX", "capacity_t": rnd.randint(10, 100),
                       "unit_cost_usd_per_kg": rnd.randint(5, 50)})
    supply.append({"site_id": dy_site, "product": "DY", "capacity_t": rnd.randint(1, 10),
                   "unit_cost_usd_per_kg": rnd.randint(100, 500)})
    for s in tiers["magnet"]:
        supply.append({"site_id": s, "product": "MAG", "capacity_t": rnd.randint(10, 80),
                       "unit_cost_usd_per_kg": rnd.randint(20, 100)})
    for a, b in (("mine", "refiner"), ("refiner", "magnet"), ("magnet", "plant")):
        for f in tiers[a]:
            for t in tiers[b]:
                if rnd.random() < 0.8 or (f, t) == (tiers[a][0], tiers[b][0]):  # every tier connected
                    lanes.append({"from_site": f, "to_site": t, "freight_usd_per_kg": round(rnd.uniform(0, 2), 2),
                                  "tariff_pct": rnd.choice([0, 0, 25]), "transit_days": rnd.randint(0, 40)})
    for p in tiers["plant"]:
        demand.append({"site_id": p, "product": "MAG", "quantity_t": rnd.randint(0, 60),
                       "max_lead_time_days": rnd.choice(["", rnd.randint(20, 120)]),
                       "max_exposed_share": rnd.choice(["", 0, 0.5, 1]),
                       "shortage_cost_usd_per_kg": rnd.choice(["", 300, 1000])})
    controls = []
    if rnd.random() < 0.7:
        controls.append({"country": "CN", "product": rnd.choice(["OX", "DY", "*"]),
                         "approval_probability": rnd.choice([0.25, 0.6, 1]), "approval_days": rnd.randint(0, 60),
                         "denial_cost_usd_per_kg": rnd.randint(0, 300), "content_rule": rnd.choice(["yes", "no"])})
    settings_ = {"max_supplier_share": rnd.choice([1, 1, 0.7]), "max_country_share": rnd.choice([1, 1, 0.8]),
                 "risk_weight": rnd.choice([0, 1, 2])}
    return dict(
        sites=sites, supply=supply, lanes=lanes, demand=demand,
        recipes=[{"product": "OX", "input": "ORE", "input_t_per_t": rnd.choice([2, 4.5])},
                 {"product": "MAG", "input": "OX", "input_t_per_t": 0.5},
                 {"product": "MAG", "input": "DY", "input_t_per_t": 0.03}],
        coproducts=[{"product": "OX", "coproduct": "DY", "coproduct_t_per_t": 0.05, "site_id": dy_site}],
        controls=controls, settings=settings_,
    )


# Every example is two or three solves. The default run keeps each property with a few examples (quick enough
# to run often); the long runs draw many more and are marked slow (pytest -m slow, run by CI).
PROPS = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROPS_LONG = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _cost(case: dict) -> float:
    inputs = build(**case)
    result = plan(inputs)
    check = check_plan(inputs, result)
    assert check.ok, "\n".join(check.failures)
    return result.summary["total_cost_usd"]


def _row_order(case: dict, rnd) -> None:  # noqa: ANN001
    cost = _cost(case)
    shuffled = {k: (rnd.sample(v, len(v)) if isinstance(v, list) else v) for k, v in case.items()}
    assert _cost(shuffled) == pytest.approx(cost, rel=1e-9, abs=0.05)


def _more_capacity(case: dict, pick: int, extra: int) -> None:
    cost = _cost(case)
    supply = [dict(r) for r in case["supply"]]
    supply[pick % len(supply)]["capacity_t"] += extra
    assert _cost({**case, "supply": supply}) <= cost + 1e-6 * abs(cost) + 0.05


def _scaling(case: dict, k: float) -> None:
    cost = _cost(case)

    def scaled(rows: list[dict], cols: tuple[str, ...]) -> list[dict]:
        return [{c: (v * k if c in cols and v not in ("", None) else v) for c, v in r.items()} for r in rows]

    case2 = {
        **case,
        "sites": scaled(case["sites"], ("qualification_cost_usd",)),
        "supply": scaled(case["supply"], ("unit_cost_usd_per_kg",)),
        "lanes": scaled(case["lanes"], ("freight_usd_per_kg",)),
        "demand": scaled(case["demand"], ("shortage_cost_usd_per_kg",)),
        "controls": scaled(case["controls"], ("denial_cost_usd_per_kg",)),
        # the default shortage cost lives in Settings
        "settings": {**case["settings"], "shortage_cost_usd_per_kg": 10000 * k},
    }
    assert _cost(case2) == pytest.approx(k * cost, rel=1e-7, abs=0.05 * k)


@PROPS
@given(chains(), st.randoms(use_true_random=False))
def test_every_plan_checks_and_row_order_does_not_matter(case, rnd):
    _row_order(case, rnd)


@PROPS
@given(chains(), st.integers(0, 10**6), st.integers(1, 100))
def test_more_capacity_never_costs_more(case, pick, extra):
    _more_capacity(case, pick, extra)


@PROPS
@given(chains(), st.sampled_from([0.5, 3.0]))
def test_scaling_every_cost_scales_the_total(case, k):
    _scaling(case, k)


@pytest.mark.slow
@PROPS_LONG
@given(chains(), st.randoms(use_true_random=False))
def test_every_plan_checks_and_row_order_does_not_matter_long(case, rnd):
    _row_order(case, rnd)


@pytest.mark.slow
@PROPS_LONG
@given(chains(), st.integers(0, 10**6), st.integers(1, 100))
def test_more_capacity_never_costs_more_long(case, pick, extra):
    _more_capacity(case, pick, extra)


@pytest.mark.slow
@PROPS_LONG
@given(chains(), st.sampled_from([0.5, 3.0]))
def test_scaling_every_cost_scales_the_total_long(case, k):
    _scaling(case, k)
