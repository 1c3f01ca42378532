"""What-ifs applied to the baseline's model arrays (planner.whatif.delta) against the full path.

The delta path must give exactly what re-validating, rebuilding and re-solving gives: the model it makes is
compared array by array with a full rebuild of the scenario's input, its inputs' warnings with the full
path's, and a batch with it against the same batch without it (same plans, flows, statuses, messages).
Every change that can alter the network's structure must take the full path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.generate import generate
from planner.api import options_from
from planner.input.validate import load, tables_to_inputs
from planner.optimise.model import build_model
from planner.whatif import batch
from planner.whatif.delta import DeltaBase, Fallback
from planner.whatif.scenarios import Change, Scenario, ScenarioError, apply_scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "inputs" / "rare_earth_magnets.xlsx"


def _reference():
    return load(REFERENCE)


def _generated(scale: int, seed: int, candidates: int = 2):
    return tables_to_inputs(generate(scale, seed=seed, candidates=candidates))


def _scenarios(inputs, n: int, seed: int) -> list[Scenario]:  # noqa: ANN001
    """Random single and multi-change scenarios over every kind of change the delta path takes."""
    rng = np.random.default_rng(seed)
    sup = inputs.supply[inputs.supply["capacity_t"] > 0]
    dem = inputs.demand[inputs.demand["quantity_t"] > 0]
    lanes = inputs.lanes

    def one() -> Change:
        kind = int(rng.integers(9))
        if kind <= 2:
            r = sup.iloc[int(rng.integers(len(sup)))]
            col = "capacity_t" if kind < 2 else "unit_cost_usd_per_kg"
            op = ("multiply", round(float(rng.uniform(0.3, 2.0)), 3)) if kind != 1 else \
                ("add", float(rng.integers(1, 500)))
            return Change("Supply", f"{r['site_id']}/{r['product']}", col, *op)
        if kind <= 4:
            r = dem.iloc[int(rng.integers(len(dem)))]
            if kind == 3:
                return Change("Demand", f"{r['site_id']}/{r['product']}", "quantity_t", "multiply",
                              round(float(rng.uniform(0.5, 1.8)), 3))
            return Change("Demand", f"{r['site_id']}/{r['product']}", "shortage_cost_usd_per_kg", "set",
                          float(rng.integers(50, 20000)))
        if kind <= 6:
            r = lanes.iloc[int(rng.integers(len(lanes)))]
            col = ("freight_usd_per_kg", "duty_usd_per_kg", "tariff_pct")[int(rng.integers(3))]
            key = f"{r['from_site']}/{r['to_site']}/{r['product'] or ''}".rstrip("/")
            value = round(float(rng.uniform(0, 0.3)), 3) if col == "tariff_pct" else round(float(rng.uniform(0, 3)), 3)
            return Change("Lanes", key, col, "set", value)
        if kind == 7:
            return Change("Settings", "risk_weight", "value", "set", round(float(rng.uniform(0, 3)), 2))
        return Change("Settings", "shortage_cost_usd_per_kg", "value", "multiply", round(float(rng.uniform(0.2, 3)), 2))

    out = []
    for i in range(n):
        k = 1 if i % 2 == 0 else int(rng.integers(2, 5))
        out.append(Scenario(f"s{i}", tuple(one() for _ in range(k))))
    return out


def _same_model(a, b) -> None:  # noqa: ANN001
    assert a.cols["key"].tolist() == b.cols["key"].tolist()
    assert a.rows["key"].tolist() == b.rows["key"].tolist()
    for name in ("c", "col_lo", "col_hi", "integer", "a_row", "a_col", "a_val", "row_lo", "row_hi", "tiebreak"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    pd.testing.assert_frame_equal(a.net.lanes, b.net.lanes)
    pd.testing.assert_frame_equal(a.net.supply, b.net.supply)
    pd.testing.assert_frame_equal(a.net.demand, b.net.demand)
    assert a.net.warnings == b.net.warnings
    assert a.inputs.warnings == b.inputs.warnings
    assert a.inputs.settings == b.inputs.settings
    for t in ("supply", "demand", "lanes"):
        pd.testing.assert_frame_equal(getattr(a.inputs, t), getattr(b.inputs, t), check_dtype=False)


def _check_models(inputs, scenarios) -> int:  # noqa: ANN001
    base = DeltaBase(inputs)
    taken = 0
    for sc in scenarios:
        try:
            d = base.apply(sc)
        except Fallback:
            continue
        taken += 1
        full = apply_scenario(inputs, sc)
        _same_model(d.model, build_model(full))
    return taken


def test_delta_models_equal_full_builds_reference():
    inputs = _reference()
    scenarios = _scenarios(inputs, 12, seed=1)
    assert _check_models(inputs, scenarios) >= 10


# by default the reference case above; generated cases in the slow run
@pytest.mark.parametrize(("scale", "seed"), [pytest.param(3, 1, marks=pytest.mark.slow),
                                             pytest.param(4, 2, marks=pytest.mark.slow)])
def test_delta_models_equal_full_builds_generated(scale, seed):
    inputs = _generated(scale, seed)
    assert _check_models(inputs, _scenarios(inputs, 20, seed=seed)) >= 15


def _json(o: batch.Outcome) -> dict:
    if o.plan is None:
        return {"status": o.status, "message": o.message, "findings": o.findings}
    j = o.plan.to_json()
    j.pop("solve_time_s")
    return {**j, "capacity_t": o.capacity_t, "flows": o.plan.flows.to_dict("records"),
            "production": o.plan.production.to_dict("records"), "sourcing": o.plan.sourcing.to_dict("records"),
            "made_where": None if o.made_where is None else o.made_where.to_dict("records")}


def _close(a: object, b: object, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == b or (np.isnan(a) and np.isnan(b)), (path, a, b)  # to the last digit
    else:
        assert a == b, (path, a, b)


def _compare_batches(inputs, scenarios, monkeypatch) -> None:  # noqa: ANN001
    options = options_from(inputs)
    with_delta = batch.run_batch(inputs, scenarios, options, warm=True)
    monkeypatch.setattr(batch, "eligible", lambda _inputs: False)
    without = batch.run_batch(inputs, scenarios, options, warm=True)
    monkeypatch.undo()
    assert [o.status for o in with_delta] == [o.status for o in without]
    for a, b in zip(with_delta, without, strict=True):
        _close(_json(a), _json(b), a.scenario)
    pd.testing.assert_frame_equal(batch.comparison(with_delta), batch.comparison(without))


@pytest.mark.slow  # a MIP, re-solved from scratch each time; by default the generated LP below takes the warm path
def test_delta_batch_equals_full_path_reference(monkeypatch):
    inputs = _reference()
    _compare_batches(inputs, _scenarios(inputs, 8, seed=3), monkeypatch)


def test_delta_batch_equals_full_path_generated(monkeypatch):
    inputs = _generated(3, 5)
    _compare_batches(inputs, _scenarios(inputs, 5, seed=5), monkeypatch)  # 16 a case in the slow runs


@pytest.mark.slow
@pytest.mark.parametrize(("scale", "seed", "candidates"), [(4, 11, 0), (5, 12, 3), (6, 13, 2), (8, 14, 4)])
def test_delta_differential_generated_slow(scale, seed, candidates, monkeypatch):
    inputs = _generated(scale, seed, candidates)
    scenarios = _scenarios(inputs, 40, seed=seed)
    assert _check_models(inputs, scenarios) >= 30
    _compare_batches(inputs, scenarios[:16], monkeypatch)


@pytest.mark.slow
def test_delta_differential_reference_slow(monkeypatch):
    inputs = _reference()
    scenarios = _scenarios(inputs, 120, seed=17)
    assert _check_models(inputs, scenarios) >= 100
    _compare_batches(inputs, scenarios[:40], monkeypatch)


# --------------------------------------------------------------------------- fallbacks


def _fallbacks(inputs) -> list[tuple[str, tuple[Change, ...]]]:  # noqa: ANN001
    sup = inputs.supply[inputs.supply["capacity_t"] > 0].iloc[0]
    skey = f"{sup['site_id']}/{sup['product']}"
    dem = inputs.demand[inputs.demand["quantity_t"] > 0].iloc[0]
    dkey = f"{dem['site_id']}/{dem['product']}"
    lane = inputs.lanes.iloc[0]
    lkey = f"{lane['from_site']}/{lane['to_site']}/{lane['product'] or ''}".rstrip("/")
    ctrl = inputs.controls.iloc[0]
    ckey = "/".join(str(ctrl[c]) for c in ("country", "product"))
    site = inputs.sites.iloc[0]["site_id"]
    return [
        ("capacity to zero", (Change("Supply", skey, "capacity_t", "set", 0),)),
        ("capacity made negative (invalid)", (Change("Supply", skey, "capacity_t", "set", -5),)),
        ("unit cost not a number", (Change("Supply", skey, "unit_cost_usd_per_kg", "set", "cheap"),)),
        ("demand to zero", (Change("Demand", dkey, "quantity_t", "multiply", 0),)),
        ("new supply row", (Change("Supply", f"{site}/NEW_PRODUCT", "capacity_t", "set", 10),)),
        ("deleted lane", (Change("Lanes", lkey, "", "delete", None),)),
        ("lead time", (Change("Lanes", lkey, "transit_days", "add", 30),)),
        ("processing days", (Change("Sites", site, "processing_days", "add", 5),)),
        ("min volume", (Change("Sites", site, "min_volume_t", "set", 10),)),
        ("qualification status", (Change("Sites", site, "status", "set", "candidate"),)),
        ("recipe", (Change("Recipes", "*/*/*", "input_t_per_t", "multiply", 1.1),)),
        ("approval", (Change("Controls", ckey, "approval_probability", "set", 0),)),
        ("denial cost", (Change("Controls", ckey, "denial_cost_usd_per_kg", "set", 12.0),)),
        ("exposure cap", (Change("Demand", dkey, "max_exposed_share", "set", 0.5),)),
        ("structural setting", (Change("Settings", "allow_shortage", "value", "set", "no"),)),
        ("country share", (Change("Settings", "max_country_share", "value", "set", 0.5),)),
        ("period on a one-year input", (Change("Supply", skey, "capacity_t", "set", 5, period="2027"),)),
        ("no such row", (Change("Supply", "NOPE/*", "capacity_t", "multiply", 2),)),
        ("numbers then structure", (Change("Supply", skey, "capacity_t", "multiply", 2),
                                    Change("Lanes", lkey, "transit_days", "add", 1))),
    ]


def test_every_structural_change_falls_back():
    inputs = _reference()
    base = DeltaBase(inputs)
    for name, changes in _fallbacks(inputs):
        with pytest.raises(Fallback):
            base.apply(Scenario(name, changes))


def test_fallbacks_report_what_the_full_path_reports(monkeypatch):
    inputs = _reference()
    scenarios = [Scenario(n, c) for n, c in _fallbacks(inputs)]
    _compare_batches(inputs, [scenarios[i] for i in (1, 6, 11, 18)], monkeypatch)
    # an invalid value is reported as the full path reports it
    with pytest.raises(ScenarioError) as err:
        apply_scenario(inputs, scenarios[1])
    out = batch.run_batch(inputs, scenarios[1:2], options_from(inputs))
    assert out[1].status == "error" and out[1].message == str(err.value)
    assert "expected a number >= 0, got -5" in out[1].message


@pytest.mark.slow
def test_every_fallback_plans_as_the_full_path_slow(monkeypatch):
    inputs = _reference()
    _compare_batches(inputs, [Scenario(n, c) for n, c in _fallbacks(inputs)], monkeypatch)


def test_lane_use_bound_of_a_candidate_site():
    """Capacities of qualification sites enter as use-column coefficients and lane-use bounds."""
    inputs = _reference()
    base = DeltaBase(inputs)
    cand = set(base.net.binary_sites)
    sup = inputs.supply[inputs.supply["site_id"].isin(cand) & (inputs.supply["capacity_t"] > 0)]
    assert len(sup)
    taken = 0
    for r in sup.itertuples(index=False):
        for f in (0.5, 1.5, 3.0):
            sc = Scenario("c", (Change("Supply", f"{r.site_id}/{r.product}", "capacity_t", "multiply", f),))
            try:
                d = base.apply(sc)
            except Fallback:
                continue
            taken += 1
            _same_model(d.model, build_model(apply_scenario(inputs, sc)))
    assert taken
