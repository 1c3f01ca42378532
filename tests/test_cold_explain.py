"""The explanations' faster paths give the same figures: re-solves in the calling thread instead of a worker
thread, and a cost-only re-solve without a MIP's fixed-LP duals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.api import options_from, plan
from planner.input.validate import load
from planner.optimise.model import build_model
from planner.optimise.solve import solve
from planner.results import explain as ex
from planner.results.report import plan_cost

REPO = Path(__file__).resolve().parents[1]
CASES = ["rare_earth_magnets.xlsx", "rare_earth_magnets_v1_2025.xlsx"]


@pytest.mark.parametrize("case", CASES)
def test_explanations_are_the_same_in_a_thread_or_not(case, monkeypatch):
    inputs = load(REPO / "inputs" / case)
    opts = options_from(inputs)
    here = plan(inputs, opts)
    monkeypatch.setattr(ex, "IN_THREAD_BELOW", -1)  # every re-solve in a worker thread, as before
    threaded = plan(inputs, opts)
    a, b = here.explanation, threaded.explanation
    assert a is not None and b is not None
    pd.testing.assert_frame_equal(a.suppliers, b.suppliers, check_exact=True)
    pd.testing.assert_frame_equal(a.limits, b.limits, check_exact=True)
    assert a.findings == b.findings
    assert len(a.limits) and (a.limits["limit"] == "no exposure").any()  # the re-solves did run


@pytest.mark.parametrize("case", CASES)
def test_a_cost_only_resolve_needs_no_duals(case):
    inputs = load(REPO / "inputs" / case)
    opts = options_from(inputs)
    dem = inputs.demand.copy()
    first = dem.index[dem["max_lead_time_days"].notna()][0]
    dem.loc[first, "max_lead_time_days"] = int(dem.loc[first, "max_lead_time_days"]) + 1
    model = build_model(replace(inputs, demand=dem))
    with_duals = solve(model, replace(opts, verbose=False))
    without = solve(model, replace(opts, verbose=False, duals=False))
    assert with_duals.status == without.status
    np.testing.assert_array_equal(with_duals.x, without.x)
    assert plan_cost(model, with_duals.x)[0] == plan_cost(model, without.x)[0]
    assert model.is_mip == (without.row_dual is None)
