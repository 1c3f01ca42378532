"""The cold run's cheaper path gives the same figures: ``report.PlanCost`` (numpy and plain floats) against
``build_plan``'s pandas arithmetic, and its group sums against pandas' groupby."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.api import options_from
from planner.input.validate import load
from planner.optimise.model import build_model
from planner.optimise.solve import solve
from planner.results.report import PlanCost, _group_sums, build_plan

REPO = Path(__file__).resolve().parents[1]


def test_group_sums_are_pandas_groupby_sums():
    rng = np.random.default_rng(3)
    keys = [("a", "x"), ("b", "x"), ("a", "y"), ("c", "z")]
    for trial in range(200):
        n = int(rng.integers(1, 60))
        ks = [keys[int(i)] for i in rng.integers(0, len(keys), n)]
        vs = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 17, n)).tolist()
        if trial % 7 == 0:
            vs[int(rng.integers(0, n))] = float("nan")
        if trial % 11 == 0:
            vs[int(rng.integers(0, n))] = float("inf")
        frame = pd.DataFrame({"k0": [k[0] for k in ks], "k1": [k[1] for k in ks], "v": vs})
        want = frame.groupby(["k0", "k1"])["v"].sum().to_dict()
        got = _group_sums(ks, vs)
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert got[k] == v or (np.isnan(got[k]) and np.isnan(v)), (trial, k, got[k], v)
    # compensated, as pandas sums: a plain running sum gives 1e16 here
    assert _group_sums(["a"] * 3, [1e16, 1.0, 1.0])["a"] == pd.Series([1e16, 1.0, 1.0]).groupby([0, 0, 0]).sum()[0]
    assert _group_sums(["a"] * 3, [1e16, 1.0, 1.0])["a"] != 1e16
    assert _group_sums(["a", "b"], [float("nan"), 1.0]) == {"a": 0.0, "b": 1.0}  # a group of NaN only sums to 0


@pytest.mark.parametrize("case", ["rare_earth_magnets.xlsx", "rare_earth_magnets_v1_2025.xlsx"])
def test_plan_cost_is_build_plans_cost(case):
    """The total and each Demand row's shortage, for the plan and for solutions far from it (columns scaled,
    zeroed, set to solver noise and to fractions of a yes/no decision)."""
    inputs = load(REPO / "inputs" / case)
    model = build_model(inputs)
    res = solve(model, replace(options_from(inputs), verbose=False))
    cost = PlanCost(model)
    rng = np.random.default_rng(11)
    xs = [res.x]
    for k in range(12):
        x = res.x * (rng.uniform(0, 2, len(res.x)) if k % 2 else rng.choice([0.0, 1.0, 3.0], len(res.x)))
        if k % 3 == 0:
            x = x + rng.uniform(0, 500, len(x)) * (rng.random(len(x)) < 0.3)
        if k % 4 == 0:
            x[rng.random(len(x)) < 0.2] = rng.choice([1e-8, -1e-8, -0.3, 0.49, 0.5, 1.5])
        xs.append(x)
    for x in xs:
        plan = build_plan(model, replace(res, x=x), detail=False)
        total, shortage = cost(x)
        assert total == plan.summary["total_cost_usd"]
        assert shortage == plan.plants["shortage_t"].tolist()
