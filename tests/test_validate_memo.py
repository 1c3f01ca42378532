"""In-memory tables re-validated after a what-if or a regime type only the sheets that changed.

``tables_to_inputs`` remembers each sheet's typed frame and its own issues under a digest of its content;
the checks across sheets run every time. These tests hold the memo to what the full validation gives.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from planner.errors import InputError
from planner.input import validate
from planner.input.data import content_digest
from planner.input.overrides import ATTR, Change, Scenario, apply_scenario
from planner.input.validate import load, tables_to_inputs

REFERENCE = Path(__file__).resolve().parents[1] / "inputs" / "reference"


@pytest.fixture
def counted(monkeypatch):  # noqa: ANN001, ANN201
    """Sheets typed from their cells, by name, with an empty memo."""
    monkeypatch.setattr(validate, "_PARSED", {})
    typed: list[str] = []
    real = validate.sheet_to_frame

    def counting(raw, spec, issues):  # noqa: ANN001, ANN202
        typed.append(spec.name)
        return real(raw, spec, issues)

    monkeypatch.setattr(validate, "sheet_to_frame", counting)
    return typed


def _same(a, b) -> None:  # noqa: ANN001
    for attr in ATTR.values():
        pd.testing.assert_frame_equal(getattr(a, attr), getattr(b, attr))
    assert a.settings == b.settings
    assert a.warnings == b.warnings


def test_a_change_to_one_sheet_types_only_that_sheet_and_plans_the_same(counted, monkeypatch):
    inputs = load(REFERENCE)
    apply_scenario(inputs, Scenario("", ()))
    first = set(counted)
    assert {"Sites", "Supply", "Lanes", "Demand"} <= first
    counted.clear()
    scenario = Scenario("x", (Change("Supply", next(iter(f"{r.site_id}/{r.product}" for r in
                                                         inputs.supply.itertuples())), "capacity_t",
                                     "multiply", 0.5),))
    memo = apply_scenario(inputs, scenario)
    assert counted == ["Supply"]
    monkeypatch.setattr(validate, "_PARSED", {})
    _same(memo, apply_scenario(inputs, scenario))


def test_a_returned_frame_changed_by_its_caller_does_not_change_the_memo(counted):
    inputs = load(REFERENCE)
    one = apply_scenario(inputs, Scenario("", ()))
    kept = one.sites.copy(deep=True)
    one.sites.loc[0, "country"] = "XX"
    one.sites.loc[0, "name"] = "changed"
    two = apply_scenario(inputs, Scenario("", ()))
    pd.testing.assert_frame_equal(two.sites, kept)


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "Sites": pd.DataFrame({"site_id": ["M", "P"], "country": ["AU", "DE"], "stage": ["mine", "plant"],
                               "colour": ["red", "blue"]}),  # an unknown column: a warning of the sheet itself
        "Supply": pd.DataFrame({"site_id": ["M"], "product": ["X"], "capacity_t": [10.0],
                                "unit_cost_usd_per_kg": [1.0]}),
        "Lanes": pd.DataFrame({"from_site": ["M"], "to_site": ["P"]}),
        "Demand": pd.DataFrame({"site_id": ["P"], "product": ["X"], "quantity_t": [5.0]}),
    }


def test_a_sheets_own_warnings_and_errors_come_back_from_the_memo(counted):
    first = tables_to_inputs(_tables())
    assert any(w.column == "colour" for w in first.warnings)
    counted.clear()
    again = tables_to_inputs(_tables())
    assert counted == []
    assert again.warnings == first.warnings
    bad = _tables()
    bad["Supply"]["capacity_t"] = [-1.0]
    with pytest.raises(InputError) as one:
        tables_to_inputs(bad)
    with pytest.raises(InputError) as two:
        tables_to_inputs(bad)
    assert one.value.issues == two.value.issues and any(i.sheet == "Supply" for i in one.value.issues)


def test_a_value_of_another_type_is_another_sheet(counted):
    # 10 and "10" are different cells (a number and a text); 1.0 and True too
    tables_to_inputs(_tables())
    counted.clear()
    text = _tables()
    text["Supply"]["capacity_t"] = ["10"]
    tables_to_inputs(text)
    assert counted == ["Supply"]
    assert content_digest(pd.DataFrame({"a": [1.0]})) != content_digest(pd.DataFrame({"a": [True]}))
    assert content_digest(pd.DataFrame({"a": [None]}, dtype=object)) != \
        content_digest(pd.DataFrame({"a": [float("nan")]}, dtype=object))


def test_the_memo_is_bounded(counted, monkeypatch):
    monkeypatch.setattr(validate, "_PARSED_MAX", 6)
    for k in range(validate._PARSED_MAX + 3):
        t = _tables()
        t["Supply"]["capacity_t"] = [10.0 + k]
        tables_to_inputs(t)
    assert len(validate._PARSED) <= validate._PARSED_MAX
