"""Builders for small cases made in code, and a solve helper that always re-checks the plan."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.input.data import Inputs
from planner.input.validate import tables_to_inputs
from planner.results.check import check_horizon, check_plan, check_regimes


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], columns=columns)


def build(
    sites: list[dict],
    supply: list[dict],
    lanes: list[dict],
    demand: list[dict],
    recipes: list[dict] = (),
    coproducts: list[dict] = (),
    controls: list[dict] = (),
    settings: dict | None = None,
) -> Inputs:
    """Inputs from lists of row dicts, through the planner's own validation."""
    tables = {
        "Sites": frame(sites, ["site_id", "name", "company", "country", "stage", "status", "qualification_cost_usd",
                               "min_volume_t", "processing_days"]),
        "Supply": frame(supply, ["site_id", "product", "capacity_t", "unit_cost_usd_per_kg"]),
        "Lanes": frame(lanes, ["from_site", "to_site", "product", "freight_usd_per_kg", "duty_usd_per_kg",
                               "tariff_pct", "transit_days"]),
        "Demand": frame(demand, ["site_id", "product", "quantity_t", "max_lead_time_days", "max_exposed_share",
                                 "shortage_cost_usd_per_kg"]),
    }
    if recipes:
        tables["Recipes"] = frame(list(recipes), ["product", "input", "input_t_per_t", "site_id"])
    if coproducts:
        tables["CoProducts"] = frame(list(coproducts), ["product", "coproduct", "coproduct_t_per_t", "site_id"])
    if controls:
        tables["Controls"] = frame(list(controls), ["country", "product", "approval_probability", "approval_days",
                                                    "denial_cost_usd_per_kg", "content_rule", "note"])
    if settings:
        tables["Settings"] = pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})
    if AS_V2["on"]:
        tables["Periods"] = pd.DataFrame({"period": ["2026"], "days": [365]})
    return tables_to_inputs(tables)


SOLVER: dict[str, str | None] = {"name": None}  # set per test by the `solver` fixture of a module
# on: every case built here becomes a one-period v2 input (a Periods sheet of one row), which must plan
# exactly as the v1 input does (tests/test_v1_as_v2.py runs the hand-worked model rules so)
AS_V2: dict[str, bool] = {"on": False}


def solve_checked(inputs: Inputs, **overrides: object):  # noqa: ANN201
    """Solve (with the module's solver, if it sets one), then re-verify the plan with the independent checker."""
    if SOLVER["name"] and "solver" not in overrides:
        overrides["solver"] = SOLVER["name"]
    result = plan(inputs, options_from(inputs, **overrides))
    if result.regimes is not None:  # against licence regimes: every regime's plan, the expected cost and CVaR
        check = check_regimes(inputs, result)
        assert check.ok, "\n".join(check.failures)
        assert result.summary["expected_cost_usd"] == pytest.approx(check.recomputed["expected"], abs=0.05)
        return result
    check = check_horizon(inputs, result) if result.periods is not None else check_plan(inputs, result)
    assert check.ok, "\n".join(check.failures)
    assert result.summary["total_cost_usd"] == pytest.approx(check.recomputed["total"], abs=0.05)
    return result


def plant_row(result, site: str, product: str) -> dict:  # noqa: ANN001
    p = result.plants
    return p[(p["site_id"] == site) & (p["product"] == product)].iloc[0].to_dict()


def shipped(result, frm: str, to: str, product: str | None = None) -> float:  # noqa: ANN001
    f = result.flows
    m = (f["from_site"] == frm) & (f["to_site"] == to)
    if product:
        m &= f["product"] == product
    return float(f.loc[m, "tonnes"].sum())
