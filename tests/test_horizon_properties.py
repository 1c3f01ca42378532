"""Properties of plans over periods on random supply chains (hypothesis).

* A horizon of unlinked periods (no candidates, no stock, no discounting) costs the sum of each period
  planned alone as a one-year input; with candidates it costs no more (a qualification is paid once).
* Letting plants hold stock between periods never raises the cost.
* Every horizon plan passes the independent check (check_horizon), with stock or without.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.api import plan
from planner.input.validate import tables_to_inputs
from planner.results.check import check_horizon
from tests.conftest import build, frame
from tests.test_properties import chains

SITE_COLS = ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd", "min_volume_t",
             "processing_days"]
DEMAND_COLS = ["site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share",
               "shortage_cost_usd_per_kg", "period"]


def _tables(case: dict) -> dict[str, pd.DataFrame]:
    tables = {
        "Sites": frame(case["sites"], SITE_COLS),
        "Supply": frame(case["supply"], ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame(case["lanes"], ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg",
                                       "tariff_pct", "transit_days"]),
        "Demand": frame(case["demand"], DEMAND_COLS),
        "Recipes": frame(case["recipes"], ["product", "input", "input_t_per_t", "site_id"]),
        "CoProducts": frame(case["coproducts"], ["product", "coproduct", "coproduct_t_per_t", "site_id"]),
        "Settings": pd.DataFrame({"key": list(case["settings"]), "value": [str(v) for v in case["settings"].values()]}),
    }
    if case["controls"]:
        tables["Controls"] = frame(case["controls"], ["country", "product", "approval_probability", "approval_days",
                                                      "denial_cost_usd_per_kg", "content_rule", "note"])
    return tables


def _horizon(case: dict, factors: list[float], stock: float | None) -> object:
    """The case over len(factors) periods, each plant's demand times that period's factor; with ``stock``,
    every plant may hold stock at that holding cost."""
    tables = _tables(case)
    periods = [f"p{k}" for k in range(len(factors))]
    rows = []
    for r in case["demand"]:
        for t, f in zip(periods, factors, strict=True):
            rows.append({**r, "quantity_t": round(float(r["quantity_t"]) * f, 3), "period": t})
    tables["Demand"] = frame(rows, DEMAND_COLS)
    tables["Periods"] = pd.DataFrame({"period": periods})
    if stock is not None:
        tables["Stock"] = pd.DataFrame([{"site_id": r["site_id"], "product": r["product"],
                                         "holding_cost_usd_per_kg_yr": stock} for r in case["demand"]])
    return tables_to_inputs(tables)


def _one_year(case: dict, factor: float) -> float:
    demand = [{**r, "quantity_t": round(float(r["quantity_t"]) * factor, 3)} for r in case["demand"]]
    return plan(build(**{**case, "demand": demand}), detail=False).summary["total_cost_usd"]


def _checked(inputs) -> float:  # noqa: ANN001
    p = plan(inputs, detail=False)
    chk = check_horizon(inputs, p)
    assert chk.ok, "\n".join(chk.failures)
    return p.summary["total_cost_usd"]


def _unlinked_and_stock(case: dict, factors: list[float], holding: float) -> None:
    alone = sum(_one_year(case, f) for f in factors)
    horizon = _checked(_horizon(case, factors, None))
    candidates = any(s.get("status") == "candidate" for s in case["sites"])
    tol = 1e-6 * max(abs(alone), 1.0) + 0.05 * len(factors)
    if candidates:
        assert horizon <= alone + tol
    else:
        assert horizon == pytest.approx(alone, rel=1e-6, abs=0.05 * len(factors))
    with_stock = _checked(_horizon(case, factors, holding))
    assert with_stock <= horizon + 1e-6 * max(abs(horizon), 1.0) + 0.05


FACTORS = st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5]), min_size=2, max_size=3)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(), FACTORS, st.sampled_from([0.0, 5.0]))
def test_unlinked_periods_add_up_and_stock_never_costs_more(case, factors, holding):
    _unlinked_and_stock(case, factors, holding)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(), FACTORS, st.sampled_from([0.0, 5.0]))
def test_unlinked_periods_add_up_and_stock_never_costs_more_many(case, factors, holding):
    _unlinked_and_stock(case, factors, holding)
