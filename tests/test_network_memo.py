"""Resolved lanes are remembered by a digest of what they are resolved from; the memo changes no network."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from planner.input.validate import load
from planner.optimise import network
from planner.optimise.network import build_network
from tests.conftest import build

REFERENCE = Path(__file__).resolve().parents[1] / "inputs" / "reference"


def _lanes(inputs, monkeypatch):  # noqa: ANN001, ANN202
    monkeypatch.setattr(network, "_RESOLVED", {})
    return build_network(inputs).lanes


def test_a_remembered_resolution_is_the_fresh_one_and_a_copy(monkeypatch):
    inputs = load(REFERENCE)
    fresh = _lanes(inputs, monkeypatch)
    first = build_network(inputs).lanes  # from the memo
    pd.testing.assert_frame_equal(first, fresh)
    first.loc[:, "freight_usd_per_kg"] = -1.0  # a caller's edit does not reach the memo
    pd.testing.assert_frame_equal(build_network(inputs).lanes, fresh)


def _case(m2_country: str):  # noqa: ANN202
    return build([{"site_id": "M1", "country": "AU", "stage": "mine"},
                  {"site_id": "M2", "country": m2_country, "stage": "mine"},
                  {"site_id": "P", "country": "DE", "stage": "plant"}],
                 [{"site_id": "M1", "product": "X", "capacity_t": 10, "unit_cost_usd_per_kg": 1},
                  {"site_id": "M2", "product": "X", "capacity_t": 10, "unit_cost_usd_per_kg": 1}],
                 [{"from_site": "country:AU", "to_site": "P"}],
                 [{"site_id": "P", "product": "X", "quantity_t": 5}])


def test_a_site_in_another_country_resolves_its_lanes_again(monkeypatch):
    monkeypatch.setattr(network, "_RESOLVED", {})
    us, au = _case("US"), _case("AU")
    assert set(build_network(us).lanes["from_site"]) == {"M1"}
    assert set(build_network(au).lanes["from_site"]) == {"M1", "M2"}  # not the lanes remembered for us
    assert set(build_network(us).lanes["from_site"]) == {"M1"}


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(network, "_RESOLVED", {})
    monkeypatch.setattr(network, "_RESOLVED_MAX", 3)
    inputs = load(REFERENCE)
    for k in range(network._RESOLVED_MAX + 2):
        lanes = inputs.lanes.copy()
        lanes.loc[0, "freight_usd_per_kg"] = float(k)
        build_network(replace(inputs, lanes=lanes))
    assert len(network._RESOLVED) <= network._RESOLVED_MAX
