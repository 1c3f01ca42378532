"""The reduced model (only the latest departure of each lane and class per arrival bucket) has the
optima of the full one (issue 16): a differential test on random instances, and its size.

``build_network(inputs, latest_departures=False)`` builds the model as it was before the reduction;
both are solved to a tight gap and their optimal objectives compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from bench.generate import generate
from planner.input.data import SolveOptions
from planner.input.validate import tables_to_inputs
from planner.optimise.model import build_model
from planner.optimise.network import build_network
from planner.optimise.solve import OPTIMAL, solve
from tests.conftest import build
from tests.test_properties import chains

TIGHT = SolveOptions(mip_gap=1e-9, time_limit_s=120)


def _optima(inputs) -> tuple[float, float, int, int]:  # noqa: ANN001
    full = build_model(inputs, build_network(inputs, latest_departures=False))
    reduced = build_model(inputs, build_network(inputs))
    a, b = solve(full, TIGHT), solve(reduced, TIGHT)
    assert a.status == OPTIMAL and b.status == OPTIMAL, (a.status, b.status)
    return a.objective, b.objective, full.n_cols, reduced.n_cols


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _check(case: dict) -> None:
    a, b, n_full, n_reduced = _optima(build(**case))
    assert _same(a, b), f"full model {a!r}, reduced {b!r}"
    assert n_reduced <= n_full


DIFF = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@DIFF
@given(chains())
def test_reduced_model_has_the_full_models_optimum(case):
    _check(case)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chains())
def test_reduced_model_has_the_full_models_optimum_many(case):
    _check(case)


def _counted(tables: dict, seed: int) -> dict:
    """bench/generate.py's case with minimum volumes at some refiners and metal makers and a country share."""
    rng = np.random.default_rng(seed)
    sites = tables["Sites"].copy()
    pick = sites["stage"].isin(["refiner", "metal"]) & (rng.random(len(sites)) < 0.3)
    sites.loc[pick, "min_volume_t"] = 50.0
    st = pd.concat([tables["Settings"], pd.DataFrame([("max_country_share", 0.6)], columns=["key", "value"])],
                   ignore_index=True)
    return {**tables, "Sites": sites, "Settings": st}


@pytest.mark.parametrize(("scale", "seed", "counted"), [(4, 1, False), (6, 2, True), (8, 3, False), (8, 4, True)])
def test_reduced_model_on_generated_cases(scale, seed, counted):
    tables = generate(scale, seed=seed, candidates=2)
    a, b, n_full, n_reduced = _optima(tables_to_inputs(_counted(tables, seed) if counted else tables))
    assert _same(a, b), f"full model {a!r}, reduced {b!r}"
    assert n_reduced < n_full  # every generated case has lanes with several departures per arrival bucket
